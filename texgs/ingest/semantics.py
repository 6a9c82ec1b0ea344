"""Value conventions of a Material's array: colour spaces and normal maps.

Stored encoding (the one the shared METRICS.md measures PSNR in):
- albedo/emissive from 8/16-bit files: sRGB-encoded values in [0, 1], kept
  encoded (colour space "srgb"); from EXR: as stored (colour space "linear");
- data maps (AO, roughness, metalness, height, ...): as stored, linear;
- normal maps: the stored RGB encoding ``(n + 1) / 2`` in OpenGL convention
  (+Y up): DirectX maps have Y flipped, values otherwise as stored (METRICS.md
  measures them so); ``Material.normal_vectors`` gives renormalised vectors.
"""

from __future__ import annotations

import numpy as np


def flip_to_gl(rgb: np.ndarray, convention: str) -> np.ndarray:
    """Encoded normal texels -> the same encoding in OpenGL convention, values
    otherwise as stored: METRICS.md measures normals in their stored encoding
    after the convention flip, so the material array keeps them so (no
    renormalisation, which would move JPEG-stored normals by 0.1-0.3 dB).

    rgb: [H, W, 3] float32 (n + 1) / 2; convention "gl" or "dx" (Y flipped).
    """
    if convention not in ("gl", "dx"):
        raise ValueError(f"normal convention must be 'gl' or 'dx', not {convention!r}")
    out = rgb.astype(np.float32, copy=True)
    if convention == "dx":
        out[..., 1] = np.float32(1) - out[..., 1]
    return out


def rebuild_z(rgb: np.ndarray) -> np.ndarray:
    """Encoded normal texels whose blue is not Z (LabPBR: AO) -> the same X, Y
    with Z = sqrt(1 - x^2 - y^2) encoded in blue. rgb: [H, W, 3] in [0, 1]."""
    out = rgb.astype(np.float32, copy=True)
    x, y = out[..., 0] * 2 - 1, out[..., 1] * 2 - 1
    out[..., 2] = (np.sqrt(np.clip(1 - x * x - y * y, 0, 1)) + 1) / 2
    return out


def renormalise(n: np.ndarray) -> np.ndarray:
    """n: [..., 3] vectors -> unit vectors; zero-length -> (0, 0, 1)."""
    n = n.astype(np.float32, copy=True)
    length = np.sqrt(np.sum(n * n, axis=-1, keepdims=True))
    flat = length[..., 0] < 1e-6
    n /= np.where(length < 1e-6, np.float32(1), length)
    n[flat] = (0.0, 0.0, 1.0)
    return n


def normals_to_vectors(encoded: np.ndarray) -> np.ndarray:
    """A Material's normal group [..., 3] ((n + 1) / 2) -> vectors [..., 3] in [-1, 1]."""
    return encoded.astype(np.float32) * np.float32(2) - np.float32(1)


def vectors_to_normals(n: np.ndarray, normalise: bool = True) -> np.ndarray:
    """Vectors [..., 3] -> the stored encoding (n + 1) / 2 in [0, 1] (renormalised first by default)."""
    n = renormalise(n) if normalise else n.astype(np.float32)
    return (n + np.float32(1)) * np.float32(0.5)


#: infer_normal_convention decides only when both slopes agree this well.
CONVENTION_MIN_CORRELATION = 0.3


def infer_normal_convention(rgb: np.ndarray, height: np.ndarray) -> tuple[str | None, float, float]:
    """Tell an OpenGL from a DirectX normal map by comparing it with the height map.

    rgb: [H, W, 3] encoded normal texels in [0, 1]; height: [H, W], same size.
    A normal map derived from a height h has n.x ~ -dh/dx in both conventions,
    and n.y ~ +dh/drow in OpenGL (+Y up, rows go down) but -dh/drow in DirectX.
    Returns (convention or None when the data do not say, corr_x, corr_y): the
    X correlation must confirm that the two maps describe the same surface.
    """
    n = rgb.astype(np.float64) * 2 - 1
    d_row, d_col = np.gradient(height.astype(np.float64))

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a - a.mean(), b - b.mean()
        den = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return float((a * b).sum() / den) if den > 0 else 0.0

    cx, cy = corr(n[..., 0], -d_col), corr(n[..., 1], d_row)
    if cx < CONVENTION_MIN_CORRELATION or abs(cy) < CONVENTION_MIN_CORRELATION:
        return None, cx, cy
    return ("gl" if cy > 0 else "dx"), cx, cy


def tiles_seamlessly(pixels: np.ndarray) -> tuple[bool, bool]:
    """(along x, along y): whether the stack tiles across each axis's seam.

    pixels: [H, W, C]; a channel outside [0, 1] (float data: metres, nits) is
    first scaled by its own min..max, so its units do not decide. An axis tiles when the mean jump across its seam
    (last column to first) is no larger than the largest mean jump between two
    neighbouring columns inside the image. A tileable texture may have a cell
    boundary on the seam, like its interior boundaries; a crop of a larger
    image jumps between unrelated texels, far more than any interior step.
    """

    lo, hi = pixels.min(axis=(0, 1)), pixels.max(axis=(0, 1))
    wide = (lo < 0.0) | (hi > 1.0)
    if wide.any():
        pixels = pixels.astype(np.float32, copy=True)
        pixels[..., wide] = (pixels[..., wide] - lo[wide]) / np.maximum(hi[wide] - lo[wide], 1e-30)

    def tiles(axis: int) -> bool:
        if pixels.shape[axis] < 8:
            return False
        other = tuple(a for a in range(pixels.ndim) if a != axis)
        interior = np.abs(np.diff(pixels, axis=axis)).mean(axis=other)
        seam = float(np.abs(np.take(pixels, 0, axis) - np.take(pixels, -1, axis)).mean())
        return seam <= 1.05 * float(interior.max()) + 1e-4

    return tiles(1), tiles(0)
