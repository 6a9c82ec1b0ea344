"""Plain-PyTorch reference of the texgs image function (docs/IMAGE_FUNCTION.md).

Small and readable on purpose: this is the definition every other
implementation is tested against. Autograd provides its gradients. It evaluates
every Gaussian at every texel, so it is slow; it processes rows in chunks to
bound memory.
"""

from __future__ import annotations

import torch

from .constants import MAX_CHANNELS, MAX_K, Q_CUTOFF


def texel_centres(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """[H*W, 2] texel centres (x, y) in raster order."""
    ys = torch.arange(height, device=device, dtype=dtype) + 0.5
    xs = torch.arange(width, device=device, dtype=dtype) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def gaussian_q(points, means, inv_scales, rotations, period=(None, None)):
    """q = d^T Sigma^-1 d for every (point, Gaussian) pair.

    points: [P, 2] (x, y) texels; means: [N, 2]; inv_scales: [N, 2];
    rotations: [N] radians; period: (W or None, H or None), the wrapped axes.
    Returns [P, N].
    """
    dx = points[:, None, 0] - means[None, :, 0]
    dy = points[:, None, 1] - means[None, :, 1]
    if period[0] is not None:
        dx = dx - period[0] * torch.floor(dx / period[0] + 0.5)
    if period[1] is not None:
        dy = dy - period[1] * torch.floor(dy / period[1] + 0.5)
    cos = torch.cos(rotations)[None, :]
    sin = torch.sin(rotations)[None, :]
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy
    a = inv_scales[None, :, 0] * u
    b = inv_scales[None, :, 1] * v
    return a * a + b * b


def _select(q: torch.Tensor, k: int):
    """Top-K selection of docs/IMAGE_FUNCTION.md: candidates q <= cutoff,
    ordered by (q, index). Returns (indices [P, k], valid [P, k])."""
    key = torch.where(q <= Q_CUTOFF, q, torch.full_like(q, float("inf")))
    # A stable sort keeps the lower index first among equal q.
    order = torch.sort(key, dim=1, stable=True).indices[:, :k]
    valid = torch.isfinite(torch.gather(key, 1, order))
    return order, valid


def check_params(means, inv_scales, rotations, values, background, height, width, k):
    n = means.shape[0]
    if height < 1 or width < 1:
        raise ValueError(f"image size must be at least 1x1, got {height}x{width}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"K must be in 1..{MAX_K}, got {k}")
    if values.dim() != 2 or values.shape[0] != n:
        raise ValueError(f"values must be [N, C] with N={n}, got {tuple(values.shape)}")
    c = values.shape[1]
    if not 1 <= c <= MAX_CHANNELS:
        raise ValueError(f"channel count must be in 1..{MAX_CHANNELS}, got {c}")
    for name, t, shape in (
        ("means", means, (n, 2)),
        ("inv_scales", inv_scales, (n, 2)),
        ("rotations", rotations, (n,)),
        ("background", background, (c,)),
    ):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")


def render(
    means, inv_scales, rotations, values, background, height, width, k, wrap=(False, False), rows_per_chunk=None
):
    """Render the image function at every texel centre.

    means [N, 2] texels (x, y); inv_scales [N, 2] 1/texels; rotations [N] radians;
    values [N, C]; background [C]; wrap = (wrap_x, wrap_y).
    Returns [H, W, C]. Differentiable with respect to the Gaussian parameters.
    """
    check_params(means, inv_scales, rotations, values, background, height, width, k)
    n, c = values.shape
    period = (float(width) if wrap[0] else None, float(height) if wrap[1] else None)
    if rows_per_chunk is None:
        # Keep the [P, N] intermediates near 16M elements.
        rows_per_chunk = max(1, (1 << 24) // max(1, width * max(n, 1)))
    rows = []
    for y0 in range(0, height, rows_per_chunk):
        y1 = min(height, y0 + rows_per_chunk)
        pts = texel_centres(y1 - y0, width, means.device, means.dtype)
        pts[:, 1] += y0
        rows.append(_render_points(pts, means, inv_scales, rotations, values, background, k, period))
    return torch.cat(rows, 0).reshape(height, width, c)


def _render_points(points, means, inv_scales, rotations, values, background, k, period):
    p = points.shape[0]
    if means.shape[0] == 0:
        return background[None, :].expand(p, -1).clone()
    q = gaussian_q(points, means, inv_scales, rotations, period)
    idx, valid = _select(q.detach(), min(k, q.shape[1]))
    g = torch.exp(-0.5 * torch.gather(q, 1, idx)) * valid.to(q.dtype)  # [P, k]
    s = g.sum(1, keepdim=True)
    has_any = valid.any(1, keepdim=True)
    blended = torch.einsum("pk,pkc->pc", g, values[idx]) / torch.where(has_any, s, torch.ones_like(s))
    return torch.where(has_any, blended, background[None, :].to(blended.dtype))


def sample(points, means, inv_scales, rotations, values, background, k, period=(None, None)):
    """The image function at arbitrary points [P, 2] (texels); period per axis or None."""
    return _render_points(points, means, inv_scales, rotations, values, background, k, period)


def ambiguous_texels(means, inv_scales, rotations, height, width, k, wrap=(False, False), rel_eps=1e-4) -> torch.Tensor:
    """[H, W] bool: texels whose selection could flip under float rounding.

    True where some Gaussian's q lies within rel_eps (relative) of the cut-off, or
    where the K-th and (K+1)-th candidates' q differ by less than rel_eps
    relative. Computed in float64. Implementations may legitimately differ there.
    """
    with torch.no_grad():
        m, s, r = (t.detach().double() for t in (means, inv_scales, rotations))
        period = (float(width) if wrap[0] else None, float(height) if wrap[1] else None)
        pts = texel_centres(height, width, m.device, torch.float64)
        out = []
        step = max(1, (1 << 22) // max(1, m.shape[0]))
        for i0 in range(0, pts.shape[0], step):
            q = gaussian_q(pts[i0 : i0 + step], m, s, r, period)
            near_cut = ((q - Q_CUTOFF).abs() <= rel_eps * Q_CUTOFF).any(1)
            key = torch.where(q <= Q_CUTOFF, q, torch.full_like(q, float("inf")))
            srt = torch.sort(key, 1).values
            if srt.shape[1] > k:
                a, b = srt[:, k - 1], srt[:, k]
                near_tie = torch.isfinite(b) & ((b - a).abs() <= rel_eps * torch.clamp(b.abs(), min=1e-3))
            else:
                near_tie = torch.zeros_like(near_cut)
            out.append(near_cut | near_tie)
        return torch.cat(out).reshape(height, width)
