"""Whole-image codecs (AVIF, JPEG XL, WebP) as references that cannot be sampled in place.

An engine cannot fetch one texel of an AVIF, JPEG XL or WebP file without decoding the
whole image, so these rows are labelled "no random access": they show what the same
channels cost when random access is given up (the price of random access), not a
texture format a GPU could use.

Textures are packed exactly as for the block codecs (material.rgb_textures: albedo,
normal, emissive one RGB texture each, scalars three to an RGB texture, unused channels
0), each encoded at full size as an 8-bit RGB image. One quality setting per material and
rate is used for all of its textures: the highest one whose total bytes (every byte of the
encoded files, container included) fit the rate's budget, found by bisection. Should even
the lowest quality not fit, the next mip level (2x2 box filter, upsampled bilinearly for
measuring, as for the block codecs) is tried.

Encoders run through PyPI imagecodecs with fixed settings and one thread (libavif's output
depends on its thread count), so the bytes depend only on the input and the library version.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import TexgsError
from . import mips, tools
from .material import Material, rgb_textures
from .methods import MIP_LEVELS, Method, Point, _slot_image

#: The label every table, plot and report gives these rows.
NO_RANDOM_ACCESS = "no random access"

#: Quality levels searched (imagecodecs' `level`: 0 = fewest bytes, 100 = most) for every codec.
QUALITY_RANGE = (0, 100)


def labelled(method: str, random_access: bool = True) -> str:
    """A method's name as tables and plots show it: 'AVIF (no random access)'."""
    return method if random_access else f"{method} ({NO_RANDOM_ACCESS})"


@dataclass(frozen=True)
class ImageCodec:
    """One whole-image codec with fixed encoder settings."""

    name: str  # method name: "AVIF", "JXL", "WebP"
    title: str  # "AVIF", "JPEG XL", "WebP"
    library: str  # imagecodecs' name for the codec library: "avif", "jpegxl", "webp"
    settings: dict  # fixed encoder keywords besides the quality level

    def _module(self):
        ic = tools.python_module("imagecodecs")
        if not getattr(ic, {"avif": "AVIF", "jpegxl": "JPEGXL", "webp": "WEBP"}[self.library]).available:
            raise tools.MissingTool("imagecodecs", f"this imagecodecs build has no {self.title} codec")
        return ic

    def encoder_version(self) -> str:
        """'<library> <version> (PyPI imagecodecs <version>), <settings>'; raises tools.MissingTool."""
        ic = self._module()
        lib = getattr(ic, f"{self.library}_version")()
        fixed = ", ".join(f"{k} {v}" for k, v in self.settings.items())
        return f"{lib} (PyPI imagecodecs {tools.python_version('imagecodecs')}), {fixed}; {NO_RANDOM_ACCESS}"

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        """[h, w, 3] uint8 -> the encoded file at imagecodecs quality level `quality`."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected [h, w, 3] uint8, got {rgb.shape} {rgb.dtype}")
        ic = self._module()
        encode = getattr(ic, f"{self.library}_encode")
        try:
            return bytes(encode(np.ascontiguousarray(rgb), level=int(quality), **self.settings))
        except Exception as e:  # imagecodecs raises its own error class per codec
            raise TexgsError(f"{self.title} encoder failed at quality {quality}: {e}") from None

    def decode(self, data: bytes, height: int, width: int) -> np.ndarray:
        """Encoded file -> [height, width, 3] uint8."""
        ic = self._module()
        decode = getattr(ic, f"{self.library}_decode")
        kw = {"numthreads": 1} if self.library in ("avif", "jpegxl") else {}
        try:
            out = np.asarray(decode(data, **kw))
        except Exception as e:
            raise TexgsError(f"{self.title} decoder failed: {e}") from None
        if out.ndim == 2:
            out = np.repeat(out[..., None], 3, axis=2)
        if out.shape[:2] != (height, width) or out.dtype != np.uint8 or out.shape[2] < 3:
            raise TexgsError(f"{self.title} decoded a {out.shape} {out.dtype} image for {height}x{width} RGB")
        return np.ascontiguousarray(out[..., :3])


def avif(speed: int = 6) -> ImageCodec:
    """AVIF by libavif (libaom), 4:4:4 so that normal and scalar textures keep full resolution
    in every channel. Speed 6 is avifenc's default; 4 spent 3-10x the time for ~0.2-0.3 dB (docs/compare.md)."""
    return ImageCodec("AVIF", "AVIF", "avif", {"speed": speed, "pixelformat": "yuv444", "numthreads": 1})


JXL = ImageCodec("JXL", "JPEG XL", "jpegxl", {"effort": 7, "numthreads": 1})  # effort 7: cjxl's default
WEBP = ImageCodec("WebP", "WebP", "webp", {"method": 6, "lossless": False})  # method 6: smallest files

#: method name -> codec, in the order `texgs compare` runs them.
IMAGE_CODECS: dict[str, Callable[[], ImageCodec]] = {"AVIF": avif, "JXL": lambda: JXL, "WebP": lambda: WEBP}


def fit_quality(
    size_of: Callable[[int], int], budget: float, lo: int, hi: int, known: dict | None = None
) -> int | None:
    """The largest quality q in [lo, hi] with size_of(q) <= budget, for a size_of that grows with q;
    None when even size_of(lo) is over the budget. `known` ({quality: size} already measured, e.g.
    while searching another rate) narrows the starting bracket.

    Bisection keeping size_of(a) <= budget < size_of(b) (b = hi + 1 stands for "over" until a
    size above the budget is measured); once both ends are measured, each split point is
    interpolated in log-size (sizes grow about exponentially with quality), falling back to the
    midpoint whenever an interpolated split did not halve the bracket, so it takes at most about
    twice bisection's log2(hi - lo) steps and usually far fewer."""
    sizes = dict(known or {})

    def size(q: int) -> int:
        if q not in sizes:
            sizes[q] = size_of(q)
        return sizes[q]

    fits = [q for q, n in sizes.items() if lo <= q <= hi and n <= budget]
    a = max(fits) if fits else lo
    if size(a) > budget:
        return None
    over = [q for q, n in sizes.items() if a < q <= hi and n > budget]
    b, interpolate = (min(over) if over else hi + 1), True
    while b - a > 1:
        if interpolate and b in sizes and 0 < sizes[a] < sizes[b]:
            t = (math.log(budget) - math.log(sizes[a])) / (math.log(sizes[b]) - math.log(sizes[a]))
            m = min(b - 1, max(a + 1, a + round(t * (b - a))))
        else:
            m = (a + b) // 2
        width = b - a
        if size(m) <= budget:
            a = m
        else:
            b = m
        interpolate = 2 * (b - a) <= width
    return a


class WholeImageMethod(Method):
    """One whole-image codec: one quality per material and rate, bisected to the rate's bytes.
    Rows are measured points (interpolated = False), labelled 'no random access'."""

    interpolated = False
    random_access = False

    def __init__(self, codec: ImageCodec):
        self.codec = codec
        self.name = codec.name
        self.problems: list[str] = []

    def encoder(self) -> str:
        return self.codec.encoder_version()

    def points(self, material: Material, rates) -> list[Point]:
        """One point per rate; a rate that not even the lowest quality at the coarsest mip level
        fits is left out and its message kept in self.problems for the report."""
        slots = rgb_textures(material)
        texels = material.height * material.width * material.channels
        chain = mips.mip_chain(material.data, max(MIP_LEVELS))
        levels8: dict[int, np.ndarray] = {}
        encoded: dict[tuple[int, int], tuple[list[bytes], float]] = {}  # (level, q) -> (files, seconds)

        def files(level: int, q: int) -> tuple[list[bytes], float]:
            if (level, q) not in encoded:
                img = levels8.setdefault(level, mips.to_uint8(chain[level]))
                t0 = time.perf_counter()
                out = [self.codec.encode(_slot_image(img, s.channels, 3), q) for s in slots]
                encoded[(level, q)] = (out, time.perf_counter() - t0)
            return encoded[(level, q)]

        pts, self.problems = [], []
        for rate in rates:
            budget = rate * texels / 8.0
            for level in (0, *MIP_LEVELS):
                known = {k[1]: sum(map(len, v[0])) for k, v in encoded.items() if k[0] == level}
                q = fit_quality(lambda q: sum(map(len, files(level, q)[0])), budget, *QUALITY_RANGE, known)
                if q is not None:
                    pts.append(self._point(material, slots, chain[level].shape[:2], level, q, files(level, q), rate))
                    break
            else:
                smallest = sum(len(f) for f in files(max(MIP_LEVELS), QUALITY_RANGE[0])[0])
                self.problems.append(
                    f"{self.name}: {rate:g} bppc ({budget:.0f} bytes) is less than its smallest files "
                    f"({smallest} bytes at quality {QUALITY_RANGE[0]}, mip {max(MIP_LEVELS)}); no figure"
                )
        for p in pts:
            p.extra["qualities_tried"] = len(encoded)  # (mip level, quality) pairs encoded for all rates
        return pts

    def _point(self, material: Material, slots, size, level: int, q: int, enc, rate: float) -> Point:
        payloads, seconds = enc
        codec, (h, w) = self.codec, size

        def rebuild() -> np.ndarray:
            out = np.zeros((material.height, material.width, material.channels), np.float32)
            for s, data in zip(slots, payloads):
                small = codec.decode(data, h, w)[..., : len(s.channels)].astype(np.float32) / 255.0
                out[..., list(s.channels)] = mips.upsample_bilinear(small, material.height, material.width)
            return out

        label = f"{codec.title} q{q}" + (f" mip {level}" if level else "")
        return Point(
            f"{label} ({NO_RANDOM_ACCESS})",
            sum(len(d) for d in payloads),
            seconds,
            rebuild,
            extra={
                "requested_bppc": rate,
                "format": codec.title,
                "quality": q,
                "mip": level,
                "textures": len(payloads),
                "random_access": False,
            },
        )
