"""Decoded channel groups as image files: PNG for groups of 1, 3 or 4 channels
whose stored values lie in [0, 1], OpenEXR (float) otherwise. Used by
`texgs decode` and by `texgs bake` (outputs.decoded_maps).

Memory: each group's image is held in its file's sample type (1 byte a value
for 8-bit PNG, 2 for 16-bit, 4 for EXR float) and filled row band by row band
(decoder.decode_bands), so decoding needs those bytes plus one band's working
set; `texgs decode` refuses, before allocating, a file whose images would
exceed MAX_OUTPUT_BYTES (docs/FORMAT.md, "Decoding in bounded memory").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..transfer import to_stored
from ..writers import write_png

#: Largest total size of the images `texgs decode` holds for one file (bytes):
#: 2^28 values as EXR float, 2^29 as 16-bit PNG, 2^30 as 8-bit PNG.
MAX_OUTPUT_BYTES = 1 << 30


def group_channels(channels) -> dict:
    """{group name: [channel indices]} in first-appearance order; a channel without a group is its own group."""
    groups: dict = {}
    for i, ch in enumerate(channels):
        groups.setdefault(ch.group or ch.name, []).append(i)
    return groups


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "channel"


class GroupImage:
    """One group's output image, held in its file's sample type and filled by row bands.

    ranges [(lo, hi)] per channel (stored value = lo + (hi - lo) * unit, or the
    log2 transfer where log2[i]: texgs.transfer). PNG when every stored value
    lies in [0, 1], no channel is log2 and there are 1, 3 or 4 channels (and
    not force_exr); EXR otherwise."""

    def __init__(self, path_stem, height: int, width: int, ranges, png16: bool, force_exr: bool, log2=None):
        n = len(ranges)
        self.lo = np.array([r[0] for r in ranges], np.float32)
        self.hi = np.array([r[1] for r in ranges], np.float32)
        self.log2 = np.zeros(n, bool) if log2 is None else np.asarray(log2, bool)
        self.png = (
            n in (1, 3, 4) and self.lo.min() >= 0.0 and self.hi.max() <= 1.0 and not self.log2.any() and not force_exr
        )
        self.path = f"{path_stem}.{'png' if self.png else 'exr'}"
        self.shape = (height, width, n)
        self.scale, self.dtype = (
            ((65535.0, np.uint16) if png16 else (255.0, np.uint8)) if self.png else (1.0, np.float32)
        )
        self.data = None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def fill(self, y0: int, unit) -> None:
        """Store rows y0.. from unit values [rows, W, n]."""
        if self.data is None:
            # PNG: interleaved in OpenCV's BGR(A) order; EXR: one plane per channel.
            self.data = (
                np.empty(self.shape, self.dtype)
                if self.png
                else [np.empty(self.shape[:2], np.float32) for _ in range(self.shape[2])]
            )
        stored = to_stored(unit, self.lo, self.hi, self.log2)
        rows = slice(y0, y0 + unit.shape[0])
        if self.png:
            n = self.shape[2]
            order = [2, 1, 0] + ([3] if n == 4 else []) if n >= 3 else [0]
            self.data[rows] = np.round(np.clip(stored[..., order], 0.0, 1.0) * self.scale).astype(self.dtype)
        else:
            for i, plane in enumerate(self.data):
                plane[rows] = stored[..., i]

    def write(self) -> str:
        if self.png:
            write_png(self.path, self.data, bgr=True)
            return self.path
        import OpenEXR

        n = self.shape[2]
        names = ["R", "G", "B", "A"] if n <= 4 else [f"C{i}" for i in range(n)]
        chans = {names[i]: self.data[i] for i in range(n)}
        OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, chans).write(self.path)
        return self.path


def write_group(path_stem, img, ranges, png16: bool, force_exr: bool) -> str:
    """img [H, W, n] unit values of one group, ranges [(lo, hi)] per channel
    (stored value = lo + (hi - lo) * unit); returns the written path. PNG when
    every stored value lies in [0, 1] and n is 1, 3 or 4; EXR otherwise."""
    g = GroupImage(path_stem, img.shape[0], img.shape[1], ranges, png16, force_exr)
    g.fill(0, img)
    return g.write()


def _group_images(packed, out_dir, png16: bool, force_exr: bool, size=None) -> list:
    height, width = size or (packed.height, packed.width)
    return [
        (
            GroupImage(
                str(Path(out_dir) / _safe(group)),
                height,
                width,
                [packed.channels[i].range for i in idx],
                png16,
                force_exr,
                [packed.channels[i].colour_space == "log2" for i in idx],
            ),
            idx,
        )
        for group, idx in group_channels(packed.channels).items()
    ]


def output_bytes(packed, png16: bool = False, force_exr: bool = False, size=None) -> int:
    """Bytes of the images write_decoded holds for `packed` at `size` (h, w), default
    the file's (allocates nothing)."""
    return sum(g.nbytes for g, _ in _group_images(packed, ".", png16, force_exr, size))


def check_output_budget(packed, png16: bool, force_exr: bool, name: str, size=None, float_values: int = 0) -> None:
    """InputError, before anything is allocated, when the decoded images (of `size` (h, w),
    default the file's) plus `float_values` float32 working values exceed MAX_OUTPUT_BYTES."""
    height, width = size or (packed.height, packed.width)
    need = output_bytes(packed, png16, force_exr, (height, width)) + 4 * float_values
    if need > MAX_OUTPUT_BYTES:
        raise InputError(
            f"{name}: its {width}x{height}x{len(packed.channels)} decoded images "
            f"would take {need / 2**20:.0f} MiB, over the decode budget of "
            f"{MAX_OUTPUT_BYTES / 2**20:.0f} MiB"
        )


def write_decoded(packed, img, out_dir, png16: bool = False, force_exr: bool = False) -> list[tuple[str, list[str]]]:
    """Write one image per channel group of `packed` (reader.Packed) into out_dir;
    img: its decoded image [H, W, C] (unit values), or the (y0, band) pairs of
    decoder.decode_bands, consumed one band at a time. Returns [(path, channel names)]."""
    whole = isinstance(img, np.ndarray)  # a whole image may be a mip level, smaller than packed
    size = img.shape[:2] if whole else (packed.height, packed.width)
    groups = _group_images(packed, out_dir, png16, force_exr, size)
    bands = [(0, img)] if whole else img
    for y0, band in bands:
        for g, idx in groups:
            g.fill(y0, band[..., idx])
    return [(g.write(), [packed.channels[i].name for i in idx]) for g, idx in groups]
