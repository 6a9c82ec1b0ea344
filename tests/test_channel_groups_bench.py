"""benchmarks/channel_groups.py: the split of a material into two files and the merge of
their decodes (the PSNR it reports is over the union, in the original channel order)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, load_script

from texgs import metrics
from texgs.channels import Channel
from texgs.fit.config import FitConfig
from texgs.fit.rate import budget_bytes
from texgs.ingest.material import Material

CG = load_script(REPO / "benchmarks" / "channel_groups.py")
GROUPS = ["albedo", "albedo", "albedo", "roughness", "emissive", "emissive", "emissive"]


def _material(size: int = 32) -> Material:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size] / size
    pixels = np.stack([(np.sin(7 * x + c) * np.cos(5 * y - c) + 1) / 2 for c in range(len(GROUPS))], -1)
    pixels[..., 4:] *= (x > 0.7)[..., None]  # emissive: black outside a stripe
    pixels = np.clip(0.85 * pixels + 0.01 * rng.standard_normal(pixels.shape), 0.0, 0.85)  # room for +0.1
    chans = tuple(Channel(f"{g}.{i}", g) for i, g in enumerate(GROUPS))
    return Material(
        name="m", key="m", folder=Path("."), width=size, height=size, channels=chans, pixels=pixels.astype(np.float32)
    )


def test_split_indices_keeps_storage_order_and_refuses_bad_splits():
    assert CG.split_indices(GROUPS, ["emissive"]) == ([4, 5, 6], [0, 1, 2, 3])
    assert CG.split_indices(GROUPS, ["roughness", "albedo"]) == ([0, 1, 2, 3], [4, 5, 6])
    with pytest.raises(ValueError, match="no channel group normal"):
        CG.split_indices(GROUPS, ["normal"])
    with pytest.raises(ValueError, match="nothing left"):
        CG.split_indices(GROUPS, ["albedo", "roughness", "emissive"])


def test_sub_materials_merge_back_to_the_source():
    m = _material()
    ia, ib = CG.split_indices(GROUPS, ["emissive"])
    a, b = CG.sub_material(m, ia, "A"), CG.sub_material(m, ib, "B")
    assert [c.group for c in a.channels] == ["emissive"] * 3 and a.pixels.shape == (32, 32, 3)
    assert [c.name for c in b.channels] == ["albedo.0", "albedo.1", "albedo.2", "roughness.3"]
    merged = CG.merge_channels([(ia, a.pixels), (ib, b.pixels)], len(GROUPS))
    np.testing.assert_array_equal(merged, m.pixels)
    with pytest.raises(ValueError, match="not each of"):
        CG.merge_channels([(ia, a.pixels), (ia, a.pixels)], len(GROUPS))


def test_byte_split_sums_to_the_budget_and_each_part_gets_its_exact_bytes():
    total = budget_bytes(0.06, 512, 512, 12)
    for mult in (0.5, 1.0, 1.5):
        a, b = CG.split_bytes(total, 3, 12, mult)
        assert a + b == total and abs(a - total * mult * 3 / 12) <= 0.5
        for n, c in ((a, 3), (b, 9)):
            assert budget_bytes(CG.bppc_for_bytes(n, 512, 512, c), 512, 512, c) == n
    with pytest.raises(ValueError, match="must be in"):
        CG.split_bytes(total, 3, 12, 4.0)


def test_union_psnr_is_the_mse_over_all_channels():
    m = _material()
    rec = m.pixels.astype(np.float64).copy()
    rec[..., 0] += 0.1  # one channel of seven off by 0.1: MSE 0.01 / 7
    psnr, by_group = CG.union_psnr(m.pixels, rec, [(0.0, 1.0)] * len(GROUPS), list(m.channels))
    assert psnr == pytest.approx(10 * np.log10(7 / 0.01), abs=0.05)
    assert by_group["emissive"] == metrics.psnr(m.pixels[..., 4:], rec[..., 4:])


def test_measure_reports_the_fitters_psnr_and_splits_within_the_budget():
    """A short fit end to end: the union PSNR of the one file equals the fitter's own figure,
    and the two files of a split together stay within the one file's budget."""
    m = _material(64)
    cfg = FitConfig(steps=40, threads=1)
    rows = list(CG.measure(m, "m", [["emissive"], ["normal"]], [1.0], 1.0, cfg))
    single, split, best, skipped = rows
    assert single["kind"] == "single" and single["psnr"] == pytest.approx(single["psnr_fit"], abs=1e-3)
    assert split["kind"] == "split" and split["bytes_a"] + split["bytes_b"] <= single["budget_bytes"]
    assert split["bytes_a"] <= round(single["budget_bytes"] * 3 / 7) and split["gaussians_a"] >= 1
    assert set(split["psnr_by_group"]) == {"albedo", "roughness", "emissive"}
    assert split["evaluated_mean"] == pytest.approx(split["evaluated_mean_a"] + split["evaluated_mean_b"], abs=2e-3)
    assert best["kind"] == "best" and best["psnr"] == split["psnr"]
    assert skipped["kind"] == "skipped" and "normal" in skipped["why"]


def test_an_earlier_single_row_of_another_budget_is_refused():
    m = _material(64)
    earlier = {"kind": "single", "budget_bytes": 1, "size": "64x64x7"}
    with pytest.raises(ValueError, match="another size or budget"):
        next(CG.measure(m, "m", [["emissive"]], [1.0], 1.0, FitConfig(steps=10), single=earlier))
