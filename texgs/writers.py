"""The small file writers every part shares: 8-bit/16-bit PNG and strict JSON values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import OutputError


def write_png(path: str | Path, pixels: np.ndarray, bgr: bool = False) -> None:
    """Write pixels [H, W] or [H, W, 1 | 3 | 4] as a PNG (OpenCV's encoder).

    uint8 / uint16 are written as they are; float arrays are unit values,
    written as 8-bit round(255 v) clipped to [0, 255]. Channels are in RGB(A)
    order, or already in OpenCV's BGR(A) order with bgr=True (no copy).
    Raises OutputError naming the file when it cannot be written."""
    import cv2

    data = np.asarray(pixels)
    if np.issubdtype(data.dtype, np.floating):
        data = np.clip(np.rint(data.astype(np.float32, copy=False) * np.float32(255.0)), 0, 255).astype(np.uint8)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if data.ndim == 3 and not bgr:
        order = [2, 1, 0] + ([3] if data.shape[2] == 4 else [])
        data = np.ascontiguousarray(data[..., order])
    if not cv2.imwrite(str(path), data):
        raise OutputError(f"cannot write {path}")


def json_safe(obj):
    """Strict JSON values: numpy scalars become Python numbers and a non-finite
    float becomes null (the PSNR of an exactly reproduced constant map is
    +inf; the manifests and reports document null as "exact")."""
    if isinstance(obj, (np.floating, np.integer)):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
