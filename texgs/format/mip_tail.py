"""The stored mip tail (docs/FORMAT.md "Mip tail", docs/IMAGE_FUNCTION.md "Mip tail"):
an optional section holding the material's box-filtered mips from level T down
to 1x1, 8 bits per channel in unit space, built from the source maps (the mip
chain an engine would build). Filtered sampling reads it trilinearly at a
footprint of lod >= T and blends it with the Gaussians' filtered value between
lod T - 1 and T; a decoder that ignores the section stays valid.

Section layout (little-endian u32 words): a head of TAIL_HEAD_WORDS words
(first_level, level_count, value_bits, channels), then level_count entries of
TAIL_LEVEL_WORDS words (data_word, width, height, 0), then each level's codes,
texel-major and channel-interleaved (byte (row * width + col) * C + c of the
level), one byte per code, padded to whole words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, InputError
from . import layout as L

TAIL_VALUE_BITS = 8
TAIL_HEAD_WORDS = len(L.TAIL_HEAD_FIELDS)
TAIL_LEVEL_WORDS = len(L.TAIL_LEVEL_FIELDS) + 1
TAIL_VALUE_STEP = L.TAIL_VALUE_STEP


@dataclass(frozen=True)
class MipTail:
    """Mip levels first_level .. top_level of a material: levels[i] is the uint8
    [h, w, C] code array of level first_level + i."""

    first_level: int
    levels: tuple

    @property
    def channels(self) -> int:
        return int(self.levels[0].shape[2])


def top_level(height: int, width: int) -> int:
    """The 1x1 mip level, ceil(log2(max(W, H)))."""
    return (max(int(height), int(width)) - 1).bit_length()


def level_size(height: int, width: int, level: int) -> tuple[int, int]:
    """(h, w) of mip level `level`: ceil(side / 2^level), as a 2x2 box chain builds it."""
    return -(-int(height) >> level), -(-int(width) >> level)


def level_count(height: int, width: int, first: int) -> int:
    return top_level(height, width) - first + 1


def _level_words(height: int, width: int, channels: int, level: int) -> int:
    h, w = level_size(height, width, level)
    return -(-h * w * channels // 4)


def section_bytes(height: int, width: int, channels: int, first: int) -> int:
    """Bytes of the MIP_TAIL section holding levels first .. top."""
    n = level_count(height, width, first)
    words = TAIL_HEAD_WORDS + TAIL_LEVEL_WORDS * n
    words += sum(_level_words(height, width, channels, lv) for lv in range(first, first + n))
    return 4 * words


def file_bytes(height: int, width: int, channels: int, first: int) -> int:
    """Bytes the tail adds to a file: its section, aligned, and its 16-byte table entry."""
    return 4 * L.SECTION_ENTRY_WORDS + L.align(section_bytes(height, width, channels, first))


def choose_first_level(height: int, width: int, channels: int, budget_bytes: int, fraction: float) -> int | None:
    """The finest first level T (1 .. top) whose tail takes at most `fraction` of
    budget_bytes, or None (no tail: the budget is too small or the image 1x1)."""
    for first in range(1, top_level(height, width) + 1):
        if file_bytes(height, width, channels, first) <= fraction * budget_bytes:
            return first
    return None


def box_chain(image: np.ndarray, top: int) -> list:
    """[h, w, C] float -> levels 0..top, each the 2x2 box mean of the previous in
    float32 (an odd last row or column is repeated, as texgs.compare.mips does)."""
    chain = [np.asarray(image, np.float32)]
    for _ in range(top):
        x = chain[-1]
        h, w = x.shape[:2]
        if h % 2 or w % 2:
            x = np.pad(x, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        chain.append(np.float32(0.25) * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]))
    return chain


def build(unit_image: np.ndarray, first_level: int) -> MipTail:
    """The tail of a [H, W, C] unit-value image (values clamped into [0, 1]), levels
    first_level .. top, each the box mip of the source rounded to 8 bits."""
    img = np.asarray(unit_image, np.float32)
    if img.ndim != 3 or not np.isfinite(img).all():
        raise InputError(f"a mip tail needs a finite [H, W, C] image, got shape {img.shape}")
    h, w = img.shape[:2]
    top = top_level(h, w)
    if not 1 <= int(first_level) <= top:
        raise InputError(f"mip tail first level must be in 1..{top} for {w}x{h}, got {first_level}")
    chain = box_chain(np.clip(img, 0.0, 1.0), top)
    codes = tuple(np.rint(chain[lv] * 255.0).astype(np.uint8) for lv in range(int(first_level), top + 1))
    return MipTail(int(first_level), codes)


def section(tail: MipTail) -> bytes:
    """The MIP_TAIL section of a tail."""
    n, c = len(tail.levels), tail.channels
    table = [tail.first_level, n, TAIL_VALUE_BITS, c]
    data = []
    at = TAIL_HEAD_WORDS + TAIL_LEVEL_WORDS * n
    for lv in tail.levels:
        h, w = lv.shape[:2]
        table += [at, w, h, 0]
        raw = np.ascontiguousarray(lv, np.uint8).tobytes()
        raw += b"\0" * (-len(raw) % 4)
        data.append(raw)
        at += len(raw) // 4
    return np.array(table, "<u4").tobytes() + b"".join(data)


def parse(sec: bytes, height: int, width: int, channels: int, name: str) -> MipTail:
    """The tail of an untrusted MIP_TAIL section (the header's size and channels
    already checked); FormatError naming the problem. Sizes are checked against
    the header before anything is allocated."""

    def fail(msg):
        raise FormatError(f"{name}: mip tail: {msg}")

    top = top_level(height, width)
    if len(sec) < 4 * TAIL_HEAD_WORDS:
        fail(f"section of {len(sec)} bytes is shorter than its head")
    first, n, bits, c = (int(x) for x in np.frombuffer(sec, "<u4", TAIL_HEAD_WORDS))
    if not 1 <= first <= top:
        fail(f"first level {first} is outside 1..{top}")
    if n != level_count(height, width, first) or bits != TAIL_VALUE_BITS or c != channels:
        fail(f"head (levels {n}, value bits {bits}, channels {c}) disagrees with the file")  # C: the same
    if len(sec) != section_bytes(height, width, channels, first):
        fail(f"section is {len(sec)} bytes, its levels need {section_bytes(height, width, channels, first)}")
    table = np.frombuffer(sec, "<u4", TAIL_LEVEL_WORDS * n, 4 * TAIL_HEAD_WORDS).reshape(n, TAIL_LEVEL_WORDS)
    at = TAIL_HEAD_WORDS + TAIL_LEVEL_WORDS * n
    levels = []
    for i, (word, w, h, zero) in enumerate(table.tolist()):
        lv = first + i
        if (h, w) != level_size(height, width, lv) or word != at or zero != 0:
            fail(f"level {lv} entry disagrees with the layout")
        levels.append(np.frombuffer(sec, np.uint8, h * w * c, 4 * word).reshape(h, w, c).copy())
        at += _level_words(height, width, channels, lv)
    return MipTail(first, tuple(levels))


def footprint_lod(lam: np.ndarray) -> np.ndarray:
    """[P] float32 mip level of footprints whose effective covariance has largest
    eigenvalue lam: 0.5 log2(1 + 12 lam), the log2 width of the pixel along its
    longer axis (exactly L for texgs_sample_level's level L)."""
    lam = np.asarray(lam, np.float32)
    return (np.float32(0.5) * np.log2(np.float32(1.0) + np.float32(12.0) * lam)).astype(np.float32)


def tail_weight(lod: np.ndarray, first: int) -> np.ndarray:
    """[P] float32 share of the tail: 0 up to lod T - 1, 1 from lod T, linear between."""
    return np.clip(np.asarray(lod, np.float32) - np.float32(first - 1), 0.0, 1.0).astype(np.float32)


def _mix(a, b, t):
    return a + t * (b - a)


def _bilinear(codes: np.ndarray, level: int, pts: np.ndarray, wrap) -> np.ndarray:
    h, w, _ = codes.shape
    s = np.float32(2.0**-level)
    x = pts[:, 0] * s - np.float32(0.5)
    y = pts[:, 1] * s - np.float32(0.5)
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)

    def idx(i, side, wrapped):
        return np.mod(i, side) if wrapped else np.clip(i, 0, side - 1)

    xa, xb = idx(x0, w, wrap[0]), idx(x0 + 1, w, wrap[0])
    ya, yb = idx(y0, h, wrap[1]), idx(y0 + 1, h, wrap[1])
    step = np.float32(TAIL_VALUE_STEP)

    def texel(yy, xx):
        return codes[yy, xx].astype(np.float32) * step

    top = _mix(texel(ya, xa), texel(ya, xb), fx)
    bottom = _mix(texel(yb, xa), texel(yb, xb), fx)
    return _mix(top, bottom, fy).astype(np.float32)


def sample(tail: MipTail, pts: np.ndarray, lod: np.ndarray, wrap) -> np.ndarray:
    """[P, C] float32 unit values of the tail at texel points pts [P, 2] (reduced
    by the UV rule) and mip levels lod [P]: trilinear between levels floor(l) and
    floor(l) + 1 of l = lod clamped into [T, top]; a texel's centre at level l is
    2^l (i + 0.5); wrap takes indices modulo the level's side, clamp clamps them."""
    pts = np.asarray(pts, np.float32).reshape(-1, 2)
    first, top = tail.first_level, tail.first_level + len(tail.levels) - 1
    lt = np.clip(np.asarray(lod, np.float32).reshape(-1), np.float32(first), np.float32(top))
    l0 = np.floor(lt).astype(np.int64)
    frac = (lt - l0.astype(np.float32))[:, None].astype(np.float32)
    out = np.empty((len(pts), tail.channels), np.float32)
    for lv in np.unique(l0):
        sel = l0 == lv
        a = _bilinear(tail.levels[lv - first], int(lv), pts[sel], wrap)
        if lv < top:
            b = _bilinear(tail.levels[lv + 1 - first], int(lv) + 1, pts[sel], wrap)
            a = _mix(a, b, frac[sel])
        out[sel] = a
    return out
