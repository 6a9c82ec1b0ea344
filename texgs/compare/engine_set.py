"""The texture set engines ship today, as one method: BC7 albedo (and emissive),
BC5 normal X, Y with Z rebuilt in the shader, BC4 for each scalar map channel.

Each channel keeps its own texture, so the rate is 8 (BC7) + 8 (BC5) + 4 per
scalar channel bits per texel of the mip level, divided by C. Like the block
families it is measured at mip levels 1-5 and interpolated on its frontier.
"""

from __future__ import annotations

import time

import numpy as np

from . import codecs
from .material import Material
from .methods import MIP_LEVELS, BlockFamily, Encoded, MipCache, Point, _rebuilder, _slot_image


def plan(material: Material) -> list[tuple[codecs.Codec, tuple[int, ...]]]:
    """[(codec, material channels it carries)] for every texture of the engine set."""
    out = []
    scalar = []
    for g, idx in material.group_channels().items():
        if g in ("albedo", "emissive") and len(idx) == 3:
            out.append((codecs.bc7(), tuple(idx)))
        elif g == "normal" and len(idx) == 3:
            out.append((codecs.BC5, tuple(idx[:2])))
        else:
            scalar.extend(idx)
    out.extend((codecs.BC4, (c,)) for c in sorted(scalar))
    return out


def rebuild_normal_z(image: np.ndarray, normal_channels: list[int]) -> None:
    """In place on [H, W, C]: Z = sqrt(1 - X^2 - Y^2) from the (filtered) X, Y, stored (z + 1) / 2,
    as a shader does after sampling a BC5 normal map."""
    x = image[..., normal_channels[0]] * 2.0 - 1.0
    y = image[..., normal_channels[1]] * 2.0 - 1.0
    z = np.sqrt(np.clip(1.0 - x * x - y * y, 0.0, 1.0))
    image[..., normal_channels[2]] = (z + 1.0) * 0.5


class EngineSet(BlockFamily):
    def __init__(self, threads: int = 1, levels=MIP_LEVELS):
        super().__init__("engine-set", [codecs.bc7(), codecs.BC5, codecs.BC4], threads, levels)

    def encoder(self) -> str:
        versions = []
        for c in self.variants:
            v = f"{c.format}: {c.encoder_version()}"
            versions.append(v)
        return "; ".join(versions)

    def points(self, material: Material, rates, cache: MipCache | None = None) -> list[Point]:
        cache = cache or MipCache(material, self.levels)
        textures = plan(material)
        normal = material.group_channels().get("normal", [])
        post = (lambda im: rebuild_normal_z(im, normal)) if len(normal) == 3 else None
        pts = []
        for lv in self.levels:
            img = cache.levels[lv]
            enc, t = [], 0.0
            for codec, chans in textures:
                tex = _slot_image(img, chans, codec.channels)
                t0 = time.perf_counter()
                payload = codec.encode(tex, self.threads)
                t += time.perf_counter() - t0
                enc.append(Encoded(codec, chans, payload, img.shape[:2]))
            pts.append(
                Point(
                    f"engine set mip {lv}",
                    sum(len(e.payload) for e in enc),
                    t,
                    _rebuilder(enc, material.height, material.width, material.channels, post),
                    extra={
                        "format": "+".join(sorted({c.format for c, _ in textures})),
                        "mip": lv,
                        "textures": len(enc),
                        "_files": [e.payload for e in enc],
                    },
                )
            )
        return pts
