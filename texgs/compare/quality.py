"""Quality figures of one reconstruction of a material.

PSNR (over all channels and per group) comes from texgs.metrics, the one
definition of docs/METRICS.md. Beside it: SSIM and MS-SSIM over all channels
(pytorch_msssim), normal angular error mean and 99th percentile after
renormalising both normals, and FLIP on the albedo (NVIDIA flip_evaluator, LDR,
default 67 pixels per degree).
"""

from __future__ import annotations

import numpy as np

from .. import metrics
from .material import Material

#: MS-SSIM's 5 scales with an 11-texel window need a side above (11 - 1) * 2**4.
MS_SSIM_MIN_SIDE = 161


def cheap_metrics(material: Material, recon: np.ndarray) -> dict:
    """{'psnr': all channels, 'psnr_<group>': each group}; recon [H, W, C] in [0, 1]."""
    out = {"psnr": metrics.psnr(material.data, recon)}
    for g, v in metrics.psnr_by_group(material.data, recon, material.groups).items():
        out[f"psnr_{g}"] = v
    return out


def ssim_pair(reference: np.ndarray, recon: np.ndarray) -> tuple[float, float | None]:
    """(SSIM, MS-SSIM or None when the image is too small) over all channels, data range 1."""
    import torch
    from pytorch_msssim import ms_ssim, ssim

    x = torch.from_numpy(np.ascontiguousarray(reference, np.float32)).permute(2, 0, 1)[None]
    y = torch.from_numpy(np.clip(recon, 0, 1).astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        s = float(ssim(x, y, data_range=1.0))
        ms = float(ms_ssim(x, y, data_range=1.0)) if min(x.shape[-2:]) >= MS_SSIM_MIN_SIDE else None
    return s, ms


def flip_albedo(reference_rgb: np.ndarray, recon_rgb: np.ndarray) -> float:
    """Mean LDR FLIP error of sRGB-encoded albedo [H, W, 3] in [0, 1]."""
    import flip_evaluator

    ref = np.ascontiguousarray(reference_rgb, np.float32)
    test = np.ascontiguousarray(np.clip(recon_rgb, 0, 1), np.float32)
    return float(flip_evaluator.evaluate(ref, test, "LDR", applyMagma=False)[1])


def full_metrics(material: Material, recon: np.ndarray, extended: bool = True) -> dict:
    """cheap_metrics plus, when extended, SSIM, MS-SSIM, normal angular error, FLIP on albedo.
    Figures that do not apply (no normal map, image too small) are None."""
    out = cheap_metrics(material, recon)
    out.update(ssim=None, ms_ssim=None, normal_err_mean_deg=None, normal_err_p99_deg=None, flip_albedo=None)
    if not extended:
        return out
    out["ssim"], out["ms_ssim"] = ssim_pair(material.data, recon)
    groups = material.group_channels()
    if len(groups.get("normal", [])) == 3:
        idx = groups["normal"]
        ang = metrics.normal_angles(material.data[..., idx], recon[..., idx])
        if ang.size:
            out["normal_err_mean_deg"] = float(ang.mean())
            out["normal_err_p99_deg"] = float(np.percentile(ang, 99))
    if len(groups.get("albedo", [])) == 3:
        idx = groups["albedo"]
        out["flip_albedo"] = flip_albedo(material.data[..., idx], recon[..., idx])
    return out
