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


def test_nearest_entry_is_the_same_on_one_thread_and_on_several():
    rng = np.random.default_rng(1)
    x, c = rng.random((10 * palette._KMEANS_CHUNK + 7, 3)), rng.random((64, 3))
    direct = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1)
    for workers in (1, 2, 4):
        assert np.array_equal(palette.nearest_entry(x, c, workers=workers), direct)


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


def test_kmeans_work_grows_linearly_with_the_count(monkeypatch):
    """Training measures only the sample against the centres; beyond it, the
    count adds at most KMEANS_FULL_PASSES passes over every value (and the
    assignment, assign_entries, one more): rows measured <= fixed + passes * N."""
    monkeypatch.setattr(palette, "KMEANS_POINTS_PER_ENTRY", 16)
    rows = []
    real = palette.nearest_entry
    monkeypatch.setattr(palette, "nearest_entry", lambda x, c: rows.append(len(x)) or real(x, c))
    fixed = palette.PALETTE_KMEANS_ITERS * 16 * 16
    for n in (2_000, 8_000, 32_000):
        rows.clear()
        palette._kmeans(_clusters(n, 16)[0], 16, 0)
        assert sum(r for r in rows if r < n) <= fixed  # trained on the sample
        assert [r for r in rows if r >= n] and all(r == n for r in rows if r >= n)
        assert sum(rows) <= fixed + palette.KMEANS_FULL_PASSES * n


def test_full_passes_bring_sampled_entries_closer_to_all_values(monkeypatch):
    x = _clusters(6_000, 64, seed=5)[0] + np.random.default_rng(6).normal(0, 0.05, (6_000, 3))
    mse, default = {}, palette.KMEANS_FULL_PASSES
    for passes in (0, default):
        monkeypatch.setattr(palette, "KMEANS_POINTS_PER_ENTRY", 4)
        monkeypatch.setattr(palette, "KMEANS_FULL_PASSES", passes)
        c = palette._kmeans(x, 16, 0)
        mse[passes] = ((x - c[palette.nearest_entry(x, c)]) ** 2).mean()
    assert mse[default] < mse[0]


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
