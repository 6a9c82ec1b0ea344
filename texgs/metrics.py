"""Quality and rate figures, exactly as docs/METRICS.md defines them.

The one implementation every command and benchmark uses, so their numbers can
be compared. All image arguments are arrays of shape [H, W, C] holding each
channel in its stored encoding scaled to [0, 1] (8-bit / 255, sRGB colour
left sRGB-encoded, normals as (n + 1) / 2). numpy arrays or torch tensors.
Data outside [0, 1] (float EXR: metres, nits, HDR colour) is first mapped to
its channel's range with to_range_units (PSNR relative to the range), and an
emissive RGB group also gets log_luminance_psnr.
"""

from __future__ import annotations

import math

import numpy as np


def _as_array(a) -> np.ndarray:
    """numpy view of an array or tensor, in its own dtype (no float64 copy)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _check_shapes(reference, reconstruction) -> tuple[np.ndarray, np.ndarray]:
    ref, rec = _as_array(reference), _as_array(reconstruction)
    if ref.shape != rec.shape:
        raise ValueError(f"reference {ref.shape} and reconstruction {rec.shape} differ in shape")
    if ref.ndim != 3:
        raise ValueError(f"expected [H, W, C] arrays, got shape {ref.shape}")
    return ref, rec


def _check_pair(reference, reconstruction) -> tuple[np.ndarray, np.ndarray]:
    """_check_shapes, then both as float64 (whole-image measures)."""
    ref, rec = _check_shapes(reference, reconstruction)
    return np.asarray(ref, np.float64), np.asarray(rec, np.float64)


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


#: Texels a bounded-memory measure (squared_error_sums, normal_angles,
#: log_luminance_psnr) converts to float64 at once: a band of rows this large.
BAND_TEXELS = 1 << 18


def row_bands(height: int, width: int):
    """Slices of rows covering [0, height), each of about BAND_TEXELS texels (at least one row)."""
    rows = max(1, BAND_TEXELS // max(1, width))
    for y in range(0, height, rows):
        yield slice(y, min(height, y + rows))


def squared_error_sums(reference, reconstruction, lo=None, hi=None, clip: bool = True) -> np.ndarray:
    """[C] float64: each channel's sum over all texels of the squared error that mse()
    averages, in range units ((value - lo) / (hi - lo), to_range_units) when lo and hi
    [C] are given; the reconstruction clamped to [0, 1] first (clip). A band of rows
    at a time (row_bands), so memory stays bounded however large the image:
    mse = sums.sum() / (H * W * C), a group's MSE from its channels' sums."""
    ref, rec = _check_shapes(reference, reconstruction)
    h, w, c = ref.shape
    ranges = None
    if lo is not None and hi is not None:
        lo64 = np.asarray(lo, np.float64)
        ranges = (lo64, np.asarray(hi, np.float64) - lo64)
    sums = np.zeros(c, np.float64)
    for rows in row_bands(h, w):
        a, b = np.asarray(ref[rows], np.float64), np.asarray(rec[rows], np.float64)
        if ranges is not None:
            a, b = (a - ranges[0]) / ranges[1], (b - ranges[0]) / ranges[1]
        if clip:
            b = np.clip(b, 0.0, 1.0)
        d = a - b
        sums += np.einsum("hwc,hwc->c", d, d)
    return sums


def psnr_of_sums(sums: np.ndarray, texels: int, channels=None) -> float:
    """PSNR of the channels `channels` (indices; default all) from squared_error_sums."""
    part = sums if channels is None else sums[list(channels)]
    return psnr_from_mse(float(part.sum()) / (texels * len(part)))


def normal_angles(reference_rgb, reconstruction_rgb) -> np.ndarray:
    """[M] angles in degrees between normals encoded as (n + 1) / 2, [H, W, 3],
    after renormalising both; texels with a zero-length vector are skipped.
    float64 per band of rows (row_bands): the same angles as over the whole image."""
    ref_all, rec_all = _check_shapes(reference_rgb, reconstruction_rgb)
    if ref_all.shape[2] != 3:
        raise ValueError(f"normal maps need 3 channels, got {ref_all.shape[2]}")
    out = []
    for rows in row_bands(*ref_all.shape[:2]):
        a = np.asarray(ref_all[rows], np.float64) * 2.0 - 1.0
        b = np.clip(np.asarray(rec_all[rows], np.float64), 0.0, 1.0) * 2.0 - 1.0
        na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
        ok = (na > 1e-8) & (nb > 1e-8)
        cos = np.sum(a * b, axis=2)[ok] / (na[ok] * nb[ok])
        out.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return np.concatenate(out) if out else np.zeros(0)


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


def linear_ranges(ranges, colour_spaces) -> tuple[np.ndarray, np.ndarray]:
    """([C] lo, [C] hi) float64 in stored units: each channel's (lo, hi), where a "log2"
    channel's encoded (lo, hi) (texgs.transfer) becomes the values it spans, [0, peak]."""
    lo = np.array([r[0] for r in ranges], np.float64)
    hi = np.array([r[1] for r in ranges], np.float64)
    for c, space in enumerate(colour_spaces):
        if space == "log2":
            lo[c], hi[c] = 0.0, 2.0 ** hi[c] - 2.0 ** lo[c]
    return lo, hi


def to_range_units(image, lo, hi) -> np.ndarray:
    """[H, W, C] stored values -> (value - lo) / (hi - lo) per channel: the scale on which
    PSNR is relative to each channel's range (peak = hi - lo), as docs/METRICS.md defines."""
    a = np.asarray(_as_array(image), np.float64)
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    return (a - lo) / (hi - lo)


def psnr_in_range(reference, reconstruction, lo, hi) -> float:
    """PSNR over all channels relative to each channel's range [lo, hi] (the
    reconstruction clamped into it, as storing it in that range would)."""
    return psnr(to_range_units(reference, lo, hi), to_range_units(reconstruction, lo, hi))


#: Rec. 709 / sRGB primaries' luminance weights of linear RGB.
LUMINANCE_WEIGHTS = (0.2126, 0.7152, 0.0722)
#: Log-luminance floor: this many stops (factors of 2) below the reference's peak luminance.
LOG_LUMINANCE_STOPS = 16


def log_luminance_psnr(reference_rgb, reconstruction_rgb) -> float:
    """PSNR of log2 luminance of linear RGB [H, W, 3] (emissive in nits, HDR colour):
    l = log2(max(Y, 0) + eps), eps = 2^-LOG_LUMINANCE_STOPS x the reference's peak Y;
    peak = the reference's l range, log2(Ymax + eps) - log2(eps) (about 16).
    Errors in dim and bright texels count by ratio, as exposure sees them."""
    ref, rec = _check_shapes(reference_rgb, reconstruction_rgb)
    if ref.shape[2] != 3:
        raise ValueError(f"log-luminance PSNR needs RGB, got {ref.shape[2]} channels")
    w = np.array(LUMINANCE_WEIGHTS)
    bands = list(row_bands(*ref.shape[:2]))  # float64 a band at a time: bounded memory

    def lum(a, rows):
        return np.maximum(np.asarray(a[rows], np.float64) @ w, 0.0)

    peak = max(max(float(lum(ref, rows).max()) for rows in bands), 1e-30)
    eps = peak * 2.0**-LOG_LUMINANCE_STOPS
    total = 0.0
    for rows in bands:
        d = np.log2(lum(ref, rows) + eps) - np.log2(lum(rec, rows) + eps)
        total += float(np.sum(d * d))
    err = total / (ref.shape[0] * ref.shape[1])
    span = math.log2(peak + eps) - math.log2(eps)
    return math.inf if err <= 0.0 else 10.0 * math.log10(span * span / err)


def bppc(n_bytes: int, height: int, width: int, channels: int) -> float:
    """Bits per pixel per channel of a runtime file of n_bytes (docs/METRICS.md)."""
    return 8.0 * n_bytes / (height * width * channels)
