"""Small images the ingest tests write: colour, grey, and tangent-space normal maps."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np


def _rng(path: Path) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(path.name.encode()))


def save(path: Path, data: np.ndarray) -> Path:
    """data [H, W] or [H, W, C] uint8 in R, G, B(, A) order -> an image file
    (PNG/TGA/JPEG by extension; OpenCV writes B, G, R order)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".tga":  # OpenCV writes no TGA
        from PIL import Image

        Image.fromarray(np.ascontiguousarray(data)).save(path)
        return path
    if data.ndim == 3 and data.shape[2] >= 3:
        data = data[:, :, [2, 1, 0] + ([3] if data.shape[2] == 4 else [])]
    assert cv2.imwrite(str(path), np.ascontiguousarray(data)), path
    return path


def colour(path: Path, size=(16, 16), alpha: bool = False) -> Path:
    """A colourful image (not grey, not blue-dominant)."""
    rng = _rng(path)
    img = rng.integers(0, 256, size=(size[1], size[0], 4 if alpha else 3), dtype=np.uint8)
    img[:, :, 2] //= 3  # keep blue low: never mistaken for a normal map
    return save(path, img)


def grey(path: Path, size=(16, 16), as_rgb: bool = False) -> Path:
    g = _rng(path).integers(0, 256, size=(size[1], size[0]), dtype=np.uint8)
    return save(path, np.stack([g] * 3, axis=-1) if as_rgb else g)


def normal_vectors(path: Path, size=(16, 16)) -> np.ndarray:
    """[H, W, 3] unit vectors of a bumpy surface facing +Z."""
    rng = _rng(path)
    xy = rng.normal(0, 0.25, size=(size[1], size[0], 2))
    n = np.concatenate([xy, np.ones((size[1], size[0], 1))], axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def normal(path: Path, size=(16, 16), alpha: np.ndarray | None = None) -> Path:
    """A tangent-space normal map (8-bit, (n + 1) / 2), with an optional alpha [H, W]."""
    enc = np.round((normal_vectors(path, size) + 1) / 2 * 255).astype(np.uint8)
    if alpha is not None:
        enc = np.concatenate([enc, alpha[:, :, None].astype(np.uint8)], axis=-1)
    return save(path, enc)
