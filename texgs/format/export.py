"""Decoded channel groups as image files: PNG for groups of 1, 3 or 4 channels
whose stored values lie in [0, 1], OpenEXR (float) otherwise. Used by
`texgs decode` and by `texgs bake` (outputs.decoded_maps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def group_channels(channels) -> dict:
    """{group name: [channel indices]} in first-appearance order; a channel without a group is its own group."""
    groups: dict = {}
    for i, ch in enumerate(channels):
        groups.setdefault(ch.group or ch.name, []).append(i)
    return groups


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "channel"


def write_group(path_stem, img, ranges, png16: bool, force_exr: bool) -> str:
    """img [H, W, n] unit values of one group, ranges [(lo, hi)] per channel
    (stored value = lo + (hi - lo) * unit); returns the written path. PNG when
    every stored value lies in [0, 1] and n is 1, 3 or 4; EXR otherwise."""
    n = img.shape[2]
    lo = np.array([r[0] for r in ranges], np.float32)
    hi = np.array([r[1] for r in ranges], np.float32)
    data = lo + (hi - lo) * img
    if n in (1, 3, 4) and lo.min() >= 0.0 and hi.max() <= 1.0 and not force_exr:
        import cv2

        scale, dtype = (65535.0, np.uint16) if png16 else (255.0, np.uint8)
        q = np.round(np.clip(data, 0.0, 1.0) * scale).astype(dtype)
        if n >= 3:
            q = q[..., [2, 1, 0] + ([3] if n == 4 else [])]   # OpenCV writes BGR(A)
        path = f"{path_stem}.png"
        if not cv2.imwrite(path, q if n > 1 else q[..., 0]):
            from ..errors import InputError
            raise InputError(f"cannot write {path}")
        return path
    import OpenEXR

    names = ["R", "G", "B", "A"] if n <= 4 else [f"C{i}" for i in range(n)]
    path = f"{path_stem}.exr"
    chans = {names[i]: np.ascontiguousarray(data[..., i], np.float32) for i in range(n)}
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, chans).write(path)
    return path


def write_decoded(packed, img, out_dir, png16: bool = False, force_exr: bool = False) -> list[tuple[str, list[str]]]:
    """Write one image per channel group of `packed` (reader.Packed) from its
    decoded image img [H, W, C] (unit values) into out_dir; returns
    [(path, channel names)]."""
    written = []
    for group, idx in group_channels(packed.channels).items():
        path = write_group(str(Path(out_dir) / _safe(group)), img[..., idx],
                           [packed.channels[i].range for i in idx], png16, force_exr)
        written.append((path, [packed.channels[i].name for i in idx]))
    return written
