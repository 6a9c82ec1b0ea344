"""Palette k-means (texgs/format/palette.py): deterministic, the same arithmetic
as a plain distance over every dimension, and work bounded by a fixed training
sample however many Gaussians there are."""

import numpy as np
import pytest

from texgs.format import palette


def test_distances_sum_the_dimensions_in_the_same_order_as_a_plain_sum():
    rng = np.random.default_rng(0)
    x, c = rng.random((300, 3)), rng.random((16, 3))
    direct = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    assert np.array_equal(palette._squared_distances(x, c), direct)  # bit for bit
    assert np.array_equal(palette.nearest_entry(x, c), direct.argmin(1))


def test_training_sample_is_every_value_up_to_the_cap_then_a_fixed_subset(monkeypatch):
    monkeypatch.setattr(palette, "KMEANS_POINTS_PER_ENTRY", 8)
    x = np.random.default_rng(1).random((100, 2))
    assert np.array_equal(palette.training_sample(x[:32], 4, 0), x[:32])  # 8 per entry x 4: all of them
    s = palette.training_sample(x, 4, 0)
    assert s.shape == (32, 2)
    rows = [int(np.flatnonzero((x == r).all(1))[0]) for r in s]
    assert rows == sorted(set(rows))  # distinct values of x, in x's order
    assert np.array_equal(s, palette.training_sample(x, 4, 0))
    assert not np.array_equal(s, palette.training_sample(x, 4, 1))


def _clusters(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.random((k, 3))
    return np.clip(centres[rng.integers(k, size=n)] + rng.normal(0, 0.004, (n, 3)), 0, 1), centres


def test_kmeans_work_is_bounded_by_the_sample_whatever_the_count(monkeypatch):
    """The rows the k-means measures against its centres stop growing at the
    cap; the count beyond it costs one assignment pass (assign_entries)."""
    monkeypatch.setattr(palette, "KMEANS_POINTS_PER_ENTRY", 16)
    rows = []
    real = palette.nearest_entry
    monkeypatch.setattr(palette, "nearest_entry", lambda x, c: rows.append(len(x)) or real(x, c))
    work = {}
    for n in (2_000, 8_000, 32_000):
        rows.clear()
        palette._kmeans(_clusters(n, 16)[0], 16, 0)
        work[n] = sum(rows)
        assert max(rows) == 16 * 16  # trained on the sample only
    assert max(work.values()) <= palette.PALETTE_KMEANS_ITERS * 16 * 16


def test_sampled_kmeans_finds_well_separated_clusters(monkeypatch):
    monkeypatch.setattr(palette, "KMEANS_POINTS_PER_ENTRY", 32)
    x, centres = _clusters(20_000, 8, seed=3)
    found = palette._kmeans(x, 8, 0)
    # every true centre has an entry within a few noise widths of it
    gap = np.sqrt(((centres[:, None] - found[None]) ** 2).sum(-1)).min(1)
    assert gap.max() < 0.01
    err = ((x - found[palette.nearest_entry(x, found)]) ** 2).mean()
    assert err < 2 * 3 * 0.004**2


@pytest.mark.parametrize("n", [500, 5_000])
def test_build_palettes_is_deterministic_and_independent_of_threads(n, monkeypatch):
    import torch

    from texgs.format.quant import QuantConfig

    monkeypatch.setattr(palette, "KMEANS_POINTS_PER_ENTRY", 64)  # 5,000 > 64 * 16: sampled
    cfg = QuantConfig(max_radius=12.0, strip_height=4, palettes=(((0, 1, 2), 4), ((3, 4), 3)))
    v = np.random.default_rng(2).random((n, 5))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = palette.build_palettes(v, cfg)
        torch.set_num_threads(2)
        two = palette.build_palettes(torch.from_numpy(v), cfg)
    finally:
        torch.set_num_threads(before)
    assert [t.shape for t in one] == [(16, 3), (8, 2)]
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
