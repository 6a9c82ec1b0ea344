"""The seam between `texgs compare` and the things it compares.

A method turns a material into operating points. Each `Point` knows its size
in bytes (what the engine would load), how long encoding and decoding took, and
how to rebuild its full-size reconstruction from the bytes it kept (so dozens
of points on a 2K material do not hold dozens of full-size float images).

- Block-codec families (`BlockFamily`): every codec variant x mip level 1-5 is
  a point; the figure at a requested rate comes from the family's Pareto
  frontier (see ratecurve.py). `interpolated = True`.
- texgs (`TexgsMethod`): one fit per requested rate, its point measured from the
  packed bytes. `interpolated = False`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import codecs, mips
from .material import Material, rgb_textures

#: Mip levels compressed for the equal-bitrate comparison (docs/METRICS.md).
MIP_LEVELS = (1, 2, 3, 4, 5)


@dataclass
class Point:
    label: str  # "ASTC 6x6 mip 2"
    n_bytes: int  # runtime bytes of all textures of this point
    encode_s: float  # wall seconds spent encoding
    rebuild: Callable[[], np.ndarray] = field(repr=False)  # -> [H, W, C] float32 full size
    decode_s: float | None = None  # wall seconds of the last rebuild (decode + upsample)
    extra: dict = field(default_factory=dict)  # method-specific facts (mip level, block size, ...)

    def reconstruct(self) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.rebuild()
        self.decode_s = time.perf_counter() - t0
        return out


class Method:
    """Base of every compared method."""

    name = "?"  # row label: "BC1", "BC7", "ASTC", "engine-set", "texgs"
    interpolated = True  # figures at a rate come from a frontier of points
    random_access = True  # an engine can sample one texel without decoding the rest

    def encoder(self) -> str:
        """Encoder name and version for the report; raises tools.MissingTool when absent."""
        raise NotImplementedError

    def points(self, material: Material, rates: list[float]) -> list[Point]:
        raise NotImplementedError


class MipCache:
    """8-bit mip levels of one material, computed once and shared by all block methods."""

    def __init__(self, material: Material, levels=MIP_LEVELS):
        chain = mips.mip_chain(material.data, max(levels))
        self.levels = {lv: mips.to_uint8(chain[lv]) for lv in levels}  # lv -> [h, w, C] uint8


def _slot_image(level_img: np.ndarray, channels: tuple[int, ...], width: int) -> np.ndarray:
    """Channels of a slot as a [h, w, width] uint8 texture; unused channels are 0."""
    h, w = level_img.shape[:2]
    out = np.zeros((h, w, width), np.uint8)
    out[..., : len(channels)] = level_img[..., list(channels)]
    return out


@dataclass(frozen=True)
class Encoded:
    """One texture of a point: its slot's channels in the codec's payload."""

    codec: codecs.Codec
    channels: tuple[int, ...]  # material channels carried, in texture channel order
    payload: bytes
    size: tuple[int, int]  # (h, w) of the mip level


def _rebuilder(
    encoded: list[Encoded], height: int, width: int, channels: int, post: Callable[[np.ndarray], None] | None = None
) -> Callable[[], np.ndarray]:
    def rebuild() -> np.ndarray:
        out = np.zeros((height, width, channels), np.float32)
        for e in encoded:
            small = e.codec.decode(e.payload, *e.size)[..., : len(e.channels)].astype(np.float32) / 255.0
            out[..., list(e.channels)] = mips.upsample_bilinear(small, height, width)
        if post is not None:
            post(out)
        return out

    return rebuild


class BlockFamily(Method):
    """One codec family (BC1, BC7 or ASTC): every variant at every mip level, every RGB
    texture of the material (rgb_textures) compressed with the same variant."""

    def __init__(self, name: str, variants: list[codecs.Codec], threads: int = 1, levels=MIP_LEVELS):
        self.name, self.variants, self.threads, self.levels = name, variants, threads, tuple(levels)

    def encoder(self) -> str:
        return self.variants[0].encoder_version()

    def points(self, material: Material, rates, cache: MipCache | None = None) -> list[Point]:
        cache = cache or MipCache(material, self.levels)
        slots = rgb_textures(material)
        pts = []
        for codec in self.variants:
            for lv in self.levels:
                img = cache.levels[lv]
                enc, t = [], 0.0
                for s in slots:
                    tex = _slot_image(img, s.channels, codec.channels)
                    t0 = time.perf_counter()
                    payload = codec.encode(tex, self.threads)
                    t += time.perf_counter() - t0
                    enc.append(Encoded(codec, s.channels, payload, img.shape[:2]))
                pts.append(
                    Point(
                        f"{codec.format} mip {lv}",
                        sum(len(e.payload) for e in enc),
                        t,
                        _rebuilder(enc, material.height, material.width, material.channels),
                        extra={
                            "format": codec.format,
                            "mip": lv,
                            "textures": len(enc),
                            "_files": [e.payload for e in enc],
                        },
                    )
                )
        return pts


class TexgsMethod(Method):
    """texgs itself, through texgs.fit: one fit per requested rate (FitConfig.fast() when quick).
    The point's bytes are the packed file; its reconstruction is that file decoded."""

    name = "texgs"
    interpolated = False

    def __init__(self, seed: int = 0, quick: bool = False, threads: int = 1, preset: str | None = None):
        self.seed, self.quick, self.threads = seed, quick, threads
        self.preset = preset or ("fast" if quick else "default")

    def _api(self):
        from .tools import MissingTool

        try:
            from ..fit import api
            from ..fit.config import PRESETS, Budget
        except ImportError as e:
            raise MissingTool("texgs.fit", f"fitting is not part of this build: {e}") from None
        return api.fit, Budget, PRESETS[self.preset]

    def encoder(self) -> str:
        from .. import __version__

        self._api()
        return f"texgs {__version__} ({self.preset} fit; seed {self.seed})"

    def encode_decode(self, material: Material, rate: float) -> tuple[np.ndarray, bytes, float]:
        """(reconstruction [H, W, C] float32, packed bytes, fit seconds) at `rate` bppc."""
        p = self._fit(material, rate)
        return p.reconstruct(), p.extra["_data"], p.encode_s

    def _fit(self, material: Material, rate: float) -> Point:
        fit, Budget, make_config = self._api()
        cfg = make_config(seed=self.seed, threads=self.threads)
        t0 = time.perf_counter()
        result = fit(
            material.data,
            Budget(bppc=rate),
            cfg,
            groups=list(material.groups),
            names=material.names,
            progress="off",
            label=material.name,
        )
        t = time.perf_counter() - t0

        def rebuild() -> np.ndarray:
            return np.asarray(result.render(), np.float32)

        return Point(
            f"texgs {len(result.data)} B",
            len(result.data),
            t,
            rebuild,
            extra={
                "requested_bppc": rate,
                "gaussians": result.n,
                "_data": result.data,
                "_files": [result.data],
                **({"search": result.metrics["search"]["chosen"]} if "search" in result.metrics else {}),
            },
        )

    def points(self, material: Material, rates) -> list[Point]:
        """One point per rate; a rate the fit refuses (too small for one Gaussian) is left out
        and its message kept in self.problems for the report."""
        from ..errors import ConfigError

        pts, self.problems = [], []
        for r in rates:
            try:
                pts.append(self._fit(material, r))
            except ConfigError as e:
                self.problems.append(f"texgs at {r:g} bppc: {e}")
        return pts
