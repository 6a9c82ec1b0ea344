"""The k Gaussian centres nearest each of S points (the coverage term's
candidates, optimize.coverage_candidates), on the torus along wrapped axes.

Up to GRID_MIN_GAUSSIANS centres every pair is measured, a few points at a
time. Beyond, where the points grow with the Gaussians (S * N pairs would
grow with the square of the texel count), the centres are binned in a grid
of about GRID_OCCUPANCY per cell and each point measures only the 5 x 5
cells around its own; a point whose k-th nearest centre lies farther than
that block reaches (two cells) searches again in cells 4x as wide, down to
measuring every centre when the grid gets too coarse, so the result is the
same set of distances either way (points in sparse regions, where the holes
are, take the wider cells).
"""

from __future__ import annotations

import math

import torch

from .loss import workers_pool  # the fit's one pool of torch-op threads

#: Point-centre pairs measured at once (bounds the memory of both searches).
CHUNK_PAIRS = 1 << 18
#: Gaussians from which the grid search is used.
GRID_MIN_GAUSSIANS = 16384
#: Mean centres per grid cell.
GRID_OCCUPANCY = 4
#: Cells searched on each side of a point's own.
GRID_REACH = 2


def offsets(points: torch.Tensor, centres: torch.Tensor, width: int, height: int, wrap) -> torch.Tensor:
    """points [S, 1, 2] or [S, 2] minus centres [S, m, 2] or [N, 2] -> broadcast
    offsets, the shortest way round on wrapped axes (level texels)."""
    d = (points[:, None, :] if points.dim() == 2 else points) - (centres[None] if centres.dim() == 2 else centres)
    for axis, side in ((0, width), (1, height)):
        if wrap[axis]:
            d[..., axis] = d[..., axis] - side * torch.floor(d[..., axis] / side + 0.5)
    return d


def brute_force(
    points: torch.Tensor, centres: torch.Tensor, k: int, width: int, height: int, wrap, workers: int = 1
) -> torch.Tensor:
    """[S, k] indices of the k nearest centres [N, 2] of each point [S, 2], every pair measured;
    the blocks of points are spread over `workers` threads (each block alone: the same result on any count)."""
    rows = max(1, CHUNK_PAIRS // max(1, centres.shape[0]))

    def block(i: int) -> torch.Tensor:
        with torch.no_grad():  # grad mode is per thread
            d = offsets(points[i : i + rows], centres, width, height, wrap)
            return torch.topk((d * d).sum(-1), k, dim=1, largest=False).indices

    starts = range(0, points.shape[0], rows)
    workers = min(workers, len(starts)) if points.device.type == "cpu" else 1
    parts = list(workers_pool(workers).map(block, starts)) if workers > 1 else [block(i) for i in starts]
    return torch.cat([torch.zeros(0, k, dtype=torch.long, device=points.device)] + parts)


def _grid_shape(n: int, width: int, height: int, occupancy: float) -> tuple[int, int]:
    cell = math.sqrt(occupancy * width * height / n)
    return max(1, int(width / cell)), max(1, int(height / cell))


def nearest(
    points: torch.Tensor,
    centres: torch.Tensor,
    k: int,
    width: int,
    height: int,
    wrap,
    occupancy: float = GRID_OCCUPANCY,
    workers: int = 1,
) -> torch.Tensor:
    """[S, k] indices of the k centres [N, 2] nearest each point [S, 2] (level texels);
    workers: threads for the every-pair search (never changes the result)."""
    n = centres.shape[0]
    k = min(k, n)
    span = 2 * GRID_REACH + 1
    gx, gy = _grid_shape(n, width, height, occupancy)
    if n < GRID_MIN_GAUSSIANS or gx < span or gy < span or points.shape[0] == 0:
        return brute_force(points, centres, k, width, height, wrap, workers)
    dev = centres.device
    cw, ch = width / gx, height / gy  # the cells tile the image exactly, so wrapping by cell is exact
    cx = torch.floor(centres[:, 0] / cw).long().clamp_(0, gx - 1)
    cy = torch.floor(centres[:, 1] / ch).long().clamp_(0, gy - 1)
    cell = cy * gx + cx
    order = torch.argsort(cell, stable=True)
    counts = torch.bincount(cell, minlength=gx * gy)
    starts = torch.cumsum(counts, 0) - counts
    most = int(counts.max())
    reach = GRID_REACH * min(cw, ch)  # every centre this close to a point is in its block
    step = torch.arange(-GRID_REACH, GRID_REACH + 1, device=dev)
    slot = torch.arange(most, device=dev)
    out = torch.empty(points.shape[0], k, dtype=torch.long, device=dev)
    rows = max(1, CHUNK_PAIRS // (span * span * most))
    for i in range(0, points.shape[0], rows):
        p = points[i : i + rows]
        px = torch.floor(p[:, 0] / cw).long().clamp_(0, gx - 1)[:, None] + step  # [s, span]
        py = torch.floor(p[:, 1] / ch).long().clamp_(0, gy - 1)[:, None] + step
        ok_x = torch.ones_like(px, dtype=torch.bool) if wrap[0] else (px >= 0) & (px < gx)
        ok_y = torch.ones_like(py, dtype=torch.bool) if wrap[1] else (py >= 0) & (py < gy)
        cells = (torch.remainder(py, gy)[:, :, None] * gx + torch.remainder(px, gx)[:, None, :]).reshape(len(p), -1)
        ok = (ok_y[:, :, None] & ok_x[:, None, :]).reshape(len(p), -1)
        filled = (slot[None, None, :] < counts[cells][:, :, None]) & ok[:, :, None]  # [s, cells, most]
        idx = order[(starts[cells][:, :, None] + slot).clamp_(max=n - 1)].reshape(len(p), -1)
        filled = filled.reshape(len(p), -1)
        d = offsets(p[:, None, :], centres[idx], width, height, wrap)
        dist = (d * d).sum(-1).masked_fill_(~filled, math.inf)
        best = torch.topk(dist, k, dim=1, largest=False)
        out[i : i + rows] = idx.gather(1, best.indices)
        far = torch.nonzero(best.values[:, -1] > reach * reach)[:, 0]
        if far.numel():  # the block may miss a nearer centre: search again in cells 4x as wide
            out[i + far] = nearest(p[far], centres, k, width, height, wrap, occupancy * 16)
    return out
