"""texgs.fit.nearest: the grid search finds the same nearest centres as measuring every pair."""

from __future__ import annotations

import pytest
import torch

from texgs.fit import nearest


@pytest.mark.parametrize("wrap", [(False, False), (True, True), (True, False)])
def test_grid_search_finds_the_same_nearest_centres_as_every_pair(wrap):
    gen = torch.Generator().manual_seed(5)
    width, height, n = 300, 200, nearest.GRID_MIN_GAUSSIANS + 500
    # Most centres in a dense patch, a few spread out: points in the sparse part
    # have their 8 nearest beyond the 5 x 5 cells around them (the fallback).
    dense = torch.rand(n - 300, 2, generator=gen) * torch.tensor([60.0, 50.0]) + torch.tensor([10.0, 20.0])
    sparse = torch.rand(300, 2, generator=gen) * torch.tensor([float(width), float(height)])
    centres = torch.cat([dense, sparse])
    points = torch.rand(400, 2, generator=gen) * torch.tensor([float(width), float(height)])
    points[:5] = torch.tensor([[0.1, 0.2], [299.9, 199.9], [0.0, 199.0], [150.0, 0.0], [20.0, 30.0]])  # edges
    k = 8
    grid = nearest.nearest(points, centres, k, width, height, wrap)
    every = nearest.brute_force(points, centres, k, width, height, wrap)

    def dist(idx):
        d = nearest.offsets(points[:, None, :], centres[idx], width, height, wrap)
        return (d * d).sum(-1).sort(dim=1).values

    assert torch.equal(dist(grid), dist(every))
    assert torch.equal(grid.sort(dim=1).values, every.sort(dim=1).values)


def test_few_centres_are_measured_pair_by_pair():
    centres = torch.tensor([[1.0, 1.0], [5.0, 5.0], [9.0, 1.0]])
    idx = nearest.nearest(torch.tensor([[8.0, 1.5]]), centres, 8, 10, 10, (False, False))
    assert idx.tolist() == [[2, 1, 0]]  # k capped at the count, nearest first


@pytest.mark.parametrize("wrap", [(False, False), (True, True)])
def test_every_pair_search_is_the_same_on_one_thread_and_on_several(wrap):
    gen = torch.Generator().manual_seed(6)
    width, height, n = 256, 256, 5000  # below GRID_MIN_GAUSSIANS: every pair, in blocks of points
    centres = torch.rand(n, 2, generator=gen) * float(width)
    points = torch.rand(1000, 2, generator=gen) * float(width)
    one = nearest.nearest(points, centres, 8, width, height, wrap)
    assert points.shape[0] > nearest.CHUNK_PAIRS // n  # several blocks
    for workers in (2, 3):
        assert torch.equal(nearest.nearest(points, centres, 8, width, height, wrap, workers=workers), one)
