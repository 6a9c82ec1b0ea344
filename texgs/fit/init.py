"""Where Gaussians start: Image-GS's content-adaptive sampling (paper eq. 6)
and error-guided additions (eq. 7).

Positions are texel centres drawn without replacement from a probability
map; values are the target at that texel; rotation 0; inverse scale
1 / init_scale. All randomness comes from the caller's torch.Generator, a
CPU generator whatever the device (device.multinomial).
"""

from __future__ import annotations

import torch

from .device import multinomial


def gradient_magnitude(target: torch.Tensor, weights: torch.Tensor, wrap=(False, False)) -> torch.Tensor:
    """[H, W] norm of the image gradient over all channels.

    target [H, W, C]; weights [C] scale each channel's contribution; central
    differences, periodic on wrapped axes and one-sided (edge-replicated) otherwise.
    """

    def diff(axis: int, periodic: bool) -> torch.Tensor:
        if periodic:
            return (torch.roll(target, -1, axis) - torch.roll(target, 1, axis)) / 2
        n = target.shape[axis]
        if n < 2:
            return torch.zeros_like(target)
        idx = torch.arange(n, device=target.device)
        hi = torch.clamp(idx + 1, max=n - 1)
        lo = torch.clamp(idx - 1, min=0)
        return (target.index_select(axis, hi) - target.index_select(axis, lo)) / (hi - lo).to(target.dtype).view(
            [-1 if a == axis else 1 for a in range(3)]
        )

    gx = diff(1, wrap[0])
    gy = diff(0, wrap[1])
    return torch.sqrt(((gx * gx + gy * gy) * weights).sum(dim=2))


def init_probability(grad: torch.Tensor, lambda_init: float) -> torch.Tensor:
    """Eq. 6: (1 - lambda) g / sum(g) + lambda / (H W), flattened to [H*W]."""
    g = grad.reshape(-1).double()
    total = g.sum()
    uniform = torch.full_like(g, 1.0 / g.numel())
    if total <= 0:
        return uniform
    return (1.0 - lambda_init) * g / total + lambda_init * uniform


def error_probability(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 7: the weighted mean absolute error per texel, normalised, flattened to [H*W]."""
    err = ((pred - target).abs() * weights).sum(dim=2).reshape(-1).double()
    total = err.sum()
    if total <= 0:
        return torch.full_like(err, 1.0 / err.numel())
    return err / total


def sample_texels(prob: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """n texel indices drawn from prob [P] without replacement (with replacement
    only for the excess when n exceeds the texel count)."""
    p = prob.numel()
    first = multinomial(prob, min(n, p), False, gen)
    if n <= p:
        return first
    return torch.cat([first, multinomial(prob, n - p, True, gen)])


def gaussians_at(texels: torch.Tensor, target: torch.Tensor, init_inv_scale: float):
    """New Gaussians centred on the given flat texel indices of target [H, W, C].

    Returns (positions [n, 2] image-normalised (x, y) in [0, 1], inv_scales [n, 2]
    full-resolution 1/texel, rotations [n], values [n, C] = target at the texel),
    on target's device.
    """
    h, w, c = target.shape
    rows = torch.div(texels, w, rounding_mode="floor")
    cols = texels - rows * w
    pos = torch.stack([(cols.to(torch.float32) + 0.5) / w, (rows.to(torch.float32) + 0.5) / h], dim=1)
    n = texels.numel()
    inv = torch.full((n, 2), float(init_inv_scale), dtype=torch.float32, device=target.device)
    rot = torch.zeros(n, dtype=torch.float32, device=target.device)
    val = target.reshape(-1, c)[texels].to(torch.float32).clone()
    return pos, inv, rot, val
