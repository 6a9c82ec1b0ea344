"""Quality and rate figures, exactly as docs/METRICS.md defines them.

The one implementation every command and benchmark uses, so their numbers can
be compared. All image arguments are arrays of shape [H, W, C] holding each
channel in its stored encoding scaled to [0, 1] (8-bit / 255, sRGB colour
left sRGB-encoded, normals as (n + 1) / 2). numpy arrays or torch tensors.
"""

from __future__ import annotations

import math

import numpy as np


def _as_f64(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _check_pair(reference, reconstruction) -> tuple[np.ndarray, np.ndarray]:
    ref, rec = _as_f64(reference), _as_f64(reconstruction)
    if ref.shape != rec.shape:
        raise ValueError(f"reference {ref.shape} and reconstruction {rec.shape} differ in shape")
    if ref.ndim != 3:
        raise ValueError(f"expected [H, W, C] arrays, got shape {ref.shape}")
    return ref, rec


def mse(reference, reconstruction, clip: bool = True) -> float:
    """Mean squared error over all texels and channels; clip=True clamps the
    reconstruction to [0, 1] first, as storing it in the reference's encoding would."""
    ref, rec = _check_pair(reference, reconstruction)
    if clip:
        rec = np.clip(rec, 0.0, 1.0)
    return float(np.mean((ref - rec) ** 2))


def psnr_from_mse(err: float) -> float:
    """PSNR = 10 log10(1 / MSE) for data in [0, 1]; inf for an exact match."""
    return math.inf if err <= 0.0 else 10.0 * math.log10(1.0 / err)


def psnr(reference, reconstruction, clip: bool = True) -> float:
    """PSNR over all channels (docs/METRICS.md)."""
    return psnr_from_mse(mse(reference, reconstruction, clip))


def group_slices(groups: list[str]) -> dict[str, list[int]]:
    """{group name: channel indices} in first-appearance order; groups[c] names channel c's group."""
    out: dict[str, list[int]] = {}
    for c, g in enumerate(groups):
        out.setdefault(g, []).append(c)
    return out


def psnr_by_group(reference, reconstruction, groups: list[str], clip: bool = True) -> dict[str, float]:
    """{group: PSNR over that group's channels}; groups has one name per channel."""
    ref, rec = _check_pair(reference, reconstruction)
    if len(groups) != ref.shape[2]:
        raise ValueError(f"{len(groups)} group names for {ref.shape[2]} channels")
    return {g: psnr(ref[..., idx], rec[..., idx], clip) for g, idx in group_slices(groups).items()}


def normal_angles(reference_rgb, reconstruction_rgb) -> np.ndarray:
    """[M] angles in degrees between normals encoded as (n + 1) / 2, [H, W, 3],
    after renormalising both; texels with a zero-length vector are skipped."""
    ref, rec = _check_pair(reference_rgb, reconstruction_rgb)
    if ref.shape[2] != 3:
        raise ValueError(f"normal maps need 3 channels, got {ref.shape[2]}")
    a = ref.astype(np.float64) * 2.0 - 1.0
    b = np.clip(rec.astype(np.float64), 0.0, 1.0) * 2.0 - 1.0
    na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
    ok = (na > 1e-8) & (nb > 1e-8)
    cos = np.sum(a * b, axis=2)[ok] / (na[ok] * nb[ok])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def normal_angular_error(reference_rgb, reconstruction_rgb) -> float:
    """Mean of normal_angles (0 when no texel has two non-zero vectors)."""
    ang = normal_angles(reference_rgb, reconstruction_rgb)
    return float(ang.mean()) if ang.size else 0.0


def normal_angle_stats(reference_rgb, reconstruction_rgb) -> dict:
    """{"mean": degrees, "p99": 99th percentile in degrees} of normal_angles."""
    ang = normal_angles(reference_rgb, reconstruction_rgb)
    if not ang.size:
        return {"mean": 0.0, "p99": 0.0}
    return {"mean": float(ang.mean()), "p99": float(np.percentile(ang, 99))}


def bppc(n_bytes: int, height: int, width: int, channels: int) -> float:
    """Bits per pixel per channel of a runtime file of n_bytes (docs/METRICS.md)."""
    return 8.0 * n_bytes / (height * width * channels)
