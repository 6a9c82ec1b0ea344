"""Per-material settings by measurement (texgs.fit.search) and the automatic strip
height (texgs.fit.rate.auto_strip_height), on small synthetic stacks."""

from __future__ import annotations

import numpy as np
import pytest

from texgs.channels import Channel
from texgs.errors import ConfigError
from texgs.fit import packing, rate, search
from texgs.fit.api import fit
from texgs.fit.config import PRESETS, Budget, FitConfig
from texgs.format.reader import unpack

TINY = FitConfig.fast(steps=60, add_every=10, pyramid=(1,), pyramid_steps=(1.0,), palette_refine_steps=5)
NINE = [Channel(f"c{i}", g) for i, g in enumerate(["albedo"] * 3 + ["normal"] * 3 + ["ao", "roughness", "metal"])]


def stack(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    rng = np.random.default_rng(seed)
    f = rng.uniform(1, 4, (c, 2))
    return np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (a * xx + b * yy)) for a, b in f], -1).astype(np.float32)


def test_search_never_loses_to_the_plain_fit_and_records_its_trials():
    img = stack(48, 48)
    cfg = TINY.replace(search_trials=3)
    plain = fit(img, Budget(bppc=0.5), TINY, progress="off")
    r = fit(img, Budget(bppc=0.5), cfg, progress="off")
    s = r.metrics["search"]
    assert len(s["trials"]) == 3 and s["trials"][0]["changes"] == {}
    assert s["trial_steps"] == 20 and r.steps <= TINY.steps  # trials short, the kept fit full length
    assert s["full_fits"][0]["psnr"] == pytest.approx(plain.metrics["psnr"])  # the same plain fit, same seed
    assert r.metrics["psnr"] >= plain.metrics["psnr"]
    assert r.metrics["bppc"] <= 0.5  # bytes counted as always
    if s["chosen"]:
        assert unpack(r.data).header["gaussian_count"] == r.n
    else:
        assert r.data == plain.data
    again = fit(img, Budget(bppc=0.5), cfg, progress="off")
    assert again.data == r.data  # trial count, not the clock, bounds the search


def test_search_needs_a_rate_and_the_preset_exists():
    assert PRESETS["search"]().search_trials > 0
    assert FitConfig().strip_height == 0  # the automatic strip height is the default
    with pytest.raises(ConfigError, match="bppc budget"):
        fit(stack(16, 16), Budget(gaussians=10), TINY.replace(search_trials=2), progress="off")


def test_candidates_stay_within_the_radius_cap_and_valid_settings():
    base = FitConfig(value_bits=1)
    cands = search.candidates(base, 2000)
    assert {"value_bits": 0} not in cands and {"value_bits": 2} in cands
    assert all(c.get("max_radius", 0) <= base.max_radius for c in cands)
    # sparse Gaussians (a small file) may be wider at the reference's decode work, dense ones not
    sparse = search.candidates(base, 200, texels=256 * 256)
    wide = [c["max_radius"] for c in sparse if c.get("max_radius", 0) > base.max_radius]
    assert wide and wide[0] == round(search.equal_work_radius(base, 200, 256 * 256))
    assert wide[0] * (200 / 256**2) ** 0.5 == pytest.approx(24 * search.REFERENCE_DENSITY**0.5, rel=0.05)
    assert not any(c.get("max_radius", 0) > base.max_radius for c in search.candidates(base, 8606, texels=1024**2))
    assert {"max_radius": 32.0} in search.candidates(FitConfig(search_max_radius=32), 2000)
    assert not any("strip_height" in c for c in search.candidates(FitConfig(strip_height=0), 2000))
    # every value in a palette: the records' value bits change nothing, the entries' bits are tried
    nine = ["albedo"] * 3 + ["normal"] * 3 + ["ao", "roughness", "metal"]
    assert search.all_in_palettes(FitConfig(), nine)
    pal = search.candidates(FitConfig(), 2000, nine)
    assert {"palette_value_bits": 6} in pal and not any("value_bits" in c for c in pal)
    assert not search.all_in_palettes(FitConfig(), ["albedo"] * 3 + ["height"])  # a lone scalar is direct
    assert {"value_bits": 4} in search.candidates(FitConfig(), 2000, ["albedo"] * 3 + ["height"])


def test_palette_cut_keeps_the_palette_with_the_most_error_and_comes_first():
    nine = [c.group for c in NINE]
    # normal's 3 channels at 20 dB hold more squared error than albedo's at 25 or the scalars'
    psnr = {"albedo": 25.0, "normal": 20.0, "ao": 30.0, "roughness": 30.0, "metal": 40.0}
    cut = search.palette_cut(FitConfig(), 8000, nine, psnr)
    auto = packing.palette_bits_for(8000)
    assert auto == 8 and cut == {"palette_bits_by_group": (("albedo", 4), ("scalars", 4))}
    assert search.candidates(FitConfig(), 8000, nine, 1024**2, psnr)[0] == cut
    # at a small count the cut stops at PALETTE_CUT_MIN_BITS, and where nothing is cut there is no candidate
    low = search.palette_cut(FitConfig(), 100, nine, {**psnr, "albedo": 10.0})
    assert low == {"palette_bits_by_group": (("normal", 2), ("scalars", 2))}
    assert search.palette_cut(FitConfig(palette_bits=2), 100, nine, psnr) is None
    assert search.palette_cut(FitConfig(), 8000, ["albedo"] * 3 + ["height"], psnr) is None  # one palette
    assert search.palette_cut(FitConfig(palettes="off"), 8000, nine, psnr) is None
    assert search.palette_cut(FitConfig(), 8000, nine, None) is None
    assert not any("palette_bits_by_group" in c for c in search.candidates(FitConfig(), 8000, nine))


def test_the_two_best_changes_of_different_settings_are_tried_together():
    def t(changes, psnr):
        return {"changes": changes, "psnr": psnr}

    base = t({}, 20.0)
    assert search.combined([base, t({"a": 1}, 20.5), t({"b": 2}, 20.2), t({"c": 3}, 20.3)]) == {"a": 1, "c": 3}
    assert search.combined([base, t({"a": 1}, 20.5), t({"a": 2}, 20.3), t({"b": 1}, 19.0)]) is None  # same setting
    assert search.combined([base, t({"a": 1}, 20.5), t({"b": 2}, 19.9)]) is None  # only one beats the base


def test_named_palette_bits_are_checked():
    assert FitConfig(palette_bits_by_group=[["normal", 3]]).palette_bits_by_group == (("normal", 3),)
    for bad in ({"normal": 0}, {"normal": 13}, {"normal": 2.5}, {"": 3}, "normal"):
        with pytest.raises(ConfigError, match="palette_bits_by_group"):
            FitConfig(palette_bits_by_group=bad)
    # a pipeline's YAML mapping reaches the fit
    from texgs.bake import outputs, pipeline

    pipe = pipeline.from_dict(
        {"schema_version": 1, "target": {"bppc": 0.06}, "fit": {"palette_bits_by_group": {"scalars": 3, "normal": 4}}}
    )
    assert outputs.fit_config(pipe, "cpu", 1).palette_bits_by_group == (("normal", 4), ("scalars", 3))
    with pytest.raises(ConfigError, match="palette_bits_by_group"):
        outputs.fit_config(
            pipeline.from_dict({"schema_version": 1, "fit": {"palette_bits_by_group": {"x": 0}}}), "cpu", 1
        )


@pytest.mark.parametrize(("side", "bppc", "expected"), [(256, 0.03, 32), (256, 0.12, 8), (1024, 0.06, 8)])
def test_auto_strip_height_takes_the_strip_that_holds_the_most_gaussians(side, bppc, expected):
    q = packing.quant_config(FitConfig(), side, side)
    budget = rate.budget_bytes(bppc, side, side, 9)
    chosen = rate.auto_strip_height(budget, NINE, side, side, q, 5)
    assert chosen.strip_height == expected
    counts = {s: packing.max_gaussians(budget, NINE, side, side, packing.with_strip_height(q, s), 5) for s in (8, 32)}
    if expected == 32:
        assert counts[32] >= counts[8] * (1 + rate.AUTO_STRIP_MIN_GAIN)
    else:  # a taller strip would not buy enough (or loses Gaussians)
        assert counts[32] < counts[8] * (1 + rate.AUTO_STRIP_MIN_GAIN)


def test_auto_strip_height_in_a_fit_buys_gaussians_within_the_budget():
    img = stack(128, 128, c=9)
    budget = Budget(bppc=0.05)
    fixed = fit(img, budget, TINY.replace(strip_height=8), groups=[c.group for c in NINE], progress="off")
    auto = fit(img, budget, TINY.replace(strip_height=0), groups=[c.group for c in NINE], progress="off")
    assert unpack(fixed.data).header["strip_height"] == 8
    assert unpack(auto.data).header["strip_height"] > 8
    assert auto.n > fixed.n and auto.metrics["bppc"] <= 0.05
    from texgs.format import decode

    # the runtime's index-driven decoder (strips of the new height) gives what the fit measured
    assert np.abs(decode(unpack(auto.data), apply_range=True) - auto.render()).max() < 1e-4
