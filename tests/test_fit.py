"""The fitter on small synthetic stacks: quality floor, rate control on real
bytes, determinism, wrap addressing, LOD levels and settings validation.
Sizes and step counts are small so the file runs in well under a minute."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from texgs import metrics
from texgs.channels import Channel
from texgs.errors import ConfigError, InputError
from texgs.fit import packing
from texgs.fit.api import fit
from texgs.fit.config import Budget, FitConfig
from texgs.fit.schedule import make_plan

QUICK = FitConfig.fast(steps=120, add_every=20)


def smooth_stack(h: int, w: int, periodic: bool = True) -> np.ndarray:
    """[H, W, 3] smooth pattern in [0, 1]; with periodic=True it tiles (period W, H)."""
    yy, xx = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    fx, fy = 2 * np.pi * xx / w, 2 * np.pi * yy / h
    a = 0.5 + 0.35 * np.sin(3 * fx) * np.cos(2 * fy)
    b = 0.5 + 0.4 * np.sin(2 * fx + 2 * fy)
    c = 0.3 + 0.4 * (((xx - w / 2) ** 2 + (yy - h / 2) ** 2) < (0.23 * w) ** 2)
    if not periodic:
        a = a * 0.5 + 0.5 * xx / w
    return np.stack([a, b, c], -1).astype(np.float32)


@pytest.fixture(scope="module")
def fit64():
    """One shared 64x64 fit at 1 bppc (most assertions read it)."""
    stack = smooth_stack(64, 64)
    return stack, fit(stack, Budget(bppc=1.0), QUICK, groups=["albedo", "albedo", "mask"], progress="off")


def test_quality_floor_128(tmp_path):
    stack = smooth_stack(128, 128)
    r = fit(stack, Budget(bppc=0.25), FitConfig.fast(steps=150), progress="off", wrap=(True, True))
    # Measured ~30 dB; the floor leaves room for backend/threading noise.
    assert r.metrics["psnr"] >= 27.0


def test_bppc_is_real_bytes_at_or_under_target_and_within_2_percent(fit64):
    stack, r = fit64
    h, w, c = stack.shape
    assert r.metrics["bytes"] == len(r.data)
    assert r.metrics["bppc"] == pytest.approx(8 * len(r.data) / (w * h * c))
    assert r.metrics["bppc"] <= 1.0
    assert r.metrics["bppc"] >= 0.98 * 1.0
    assert r.metrics["psnr"] > 20.0


def test_metrics_are_those_of_the_decoded_packed_file(fit64):
    from texgs.format.decoder import decode
    from texgs.format.reader import unpack

    stack, r = fit64
    p = unpack(r.data)
    np.testing.assert_array_equal(p.gaussians.means, r.gaussians.means)
    np.testing.assert_array_equal(p.gaussians.values, r.gaussians.values)
    dec = decode(p, apply_range=True)
    assert metrics.psnr(stack, dec) == pytest.approx(r.metrics["psnr"], abs=0.05)
    by = metrics.psnr_by_group(stack, r.render(), ["albedo", "albedo", "mask"])
    assert by == pytest.approx(r.metrics["psnr_by_group"])


def test_automatic_steps_give_small_fits_more_and_an_explicit_count_is_kept():
    from texgs.fit.schedule import AUTO_STEPS, SMALL_FIT_STEP_SCALE, fit_steps
    from texgs.fit.search import trial_config

    auto = FitConfig()
    assert auto.steps == 0
    assert fit_steps(auto, 1024, 1024) == fit_steps(auto, 4096, 2048) == AUTO_STEPS
    assert fit_steps(auto, 724, 724) == round(AUTO_STEPS * 1024**2 / 724**2)  # work of a 1024^2 fit
    assert fit_steps(auto, 512, 512) == fit_steps(auto, 64, 48) == AUTO_STEPS * SMALL_FIT_STEP_SCALE
    assert make_plan(auto, 256, 256).steps == AUTO_STEPS * SMALL_FIT_STEP_SCALE
    assert fit_steps(auto.replace(steps=300), 64, 64) == make_plan(auto.replace(steps=300), 64, 64).steps == 300
    # The search's trials are a share of the size's budget, resolved before they start.
    assert trial_config(auto.replace(steps=fit_steps(auto, 256, 256))).steps == round(
        auto.search_trial_fraction * AUTO_STEPS * SMALL_FIT_STEP_SCALE
    )
    with pytest.raises(ValueError, match="step budget"):
        trial_config(auto)
    with pytest.raises(ConfigError, match="steps"):
        FitConfig(steps=-1).validate()


def test_lod_levels_record_the_additions():
    stack = smooth_stack(64, 64)
    cfg = QUICK.replace(lod_levels=0)  # one LOD level per stage
    r = fit(stack, Budget(bppc=1.0), cfg, groups=["albedo", "albedo", "mask"], progress="off")
    plan = make_plan(cfg, 64, 64)
    levels = sorted(set(r.gaussians.levels.tolist()))
    assert levels == list(range(1 + len(plan.add_steps)))
    by_level = r.metrics["psnr_by_level"]
    assert by_level[str(levels[-1])] == pytest.approx(r.metrics["psnr"])
    assert by_level["0"] < r.metrics["psnr"]  # the coarsest level alone is worse
    # Initial set = half the Gaussians (paper), the rest split over the additions.
    assert (r.gaussians.levels == 0).sum() == pytest.approx(r.n / 2, abs=len(plan.add_steps) + 1)


def test_default_file_has_one_lod_level_and_levels_do_not_change_the_image(fit64):
    """FitConfig.lod_levels = 1 (the default) writes every record as level 0; the same
    Gaussians written with one level per stage, or with the later stages merged into the
    last level (lod_levels = 2), decode to the same image and cost only index bytes."""
    from texgs.format import layout
    from texgs.format.decoder import decode
    from texgs.format.reader import unpack
    from texgs.gaussians import Gaussians

    _, r = fit64
    p = unpack(r.data)
    assert r.config.lod_levels == 1 and p.n_levels == 1 and "psnr_by_level" not in r.metrics
    q = packing.with_strip_height(packing.quant_config(r.config, 64, 64), p.strip_height)
    q = dataclasses.replace(q, palettes=())
    h = r.gaussians
    g = Gaussians(h.means, h.inv_scales, h.rotations, h.values, h.background, np.arange(r.n) % 3)  # three "stages"

    def packed(levels):
        return packing.pack(g, r.channels, 64, 64, r.wrap, r.k, q, levels)

    one = packed(1)
    strips = layout.strip_count(64, p.strip_height)
    for levels in (3, 2):
        data = packed(levels)
        other = unpack(data)
        assert other.n_levels == levels and sorted(set(other.gaussians.levels.tolist())) == list(range(levels))
        np.testing.assert_allclose(decode(other), decode(unpack(one)), rtol=0, atol=1e-6)
        extra = layout.index_bytes(r.n, strips, levels) - layout.index_bytes(r.n, strips, 1)
        assert len(data) - len(one) == extra > 0


def test_same_seed_gives_identical_bytes_and_other_seed_differs():
    stack = smooth_stack(32, 32)
    cfg = FitConfig.fast(steps=40, add_every=10)
    a = fit(stack, Budget(gaussians=30), cfg, progress="off").data
    b = fit(stack, Budget(gaussians=30), cfg, progress="off").data
    c = fit(stack, Budget(gaussians=30), cfg.replace(seed=1), progress="off").data
    assert a == b
    assert a != c


def test_wrap_keeps_a_tileable_input_seamless():
    stack = smooth_stack(64, 64, periodic=True)
    cfg = FitConfig.fast(steps=120, add_every=20)
    wrapped = fit(stack, Budget(gaussians=60), cfg, wrap=(True, True), progress="off")
    clamped = fit(stack, Budget(gaussians=60), cfg, wrap=(False, False), progress="off")

    def seam(img):  # mean |left column - right column| and |top row - bottom row|
        return float(np.abs(img[:, 0] - img[:, -1]).mean() + np.abs(img[0] - img[-1]).mean())

    target_seam = seam(stack)
    rec = np.clip(wrapped.render(), 0, 1)
    # The decoded seam is as smooth as the target's own (a Gaussian near one
    # edge covers the other), and the wrapped fit's seam is better than clamp's.
    assert abs(seam(rec) - target_seam) < 0.03
    assert abs(seam(rec) - target_seam) <= abs(seam(np.clip(clamped.render(), 0, 1)) - target_seam) + 0.005
    assert wrapped.wrap == (True, True)


def test_gaussian_budget_and_trim_to_a_byte_limit():
    from texgs.fit import rate

    stack = smooth_stack(32, 32)
    r = fit(stack, Budget(gaussians=40), QUICK.replace(steps=30), progress="off")
    assert r.n == 40
    limit = len(r.data) - 100  # force the trim path
    lod_levels = int(r.gaussians.levels.max()) + 1
    data, kept = rate.pack_within(
        r.gaussians.as_torch(),
        r.channels,
        32,
        32,
        (False, False),
        r.k,
        packing.quant_config(r.config, 32, 32),
        lod_levels,
        limit,
        "reference",
        0,
    )
    assert len(data) <= limit
    best_possible = packing.max_gaussians(limit, r.channels, 32, 32, packing.quant_config(r.config, 32, 32), lod_levels)
    assert best_possible - 2 <= kept <= best_possible < 40  # drops little more than needed


def test_fp16_baseline_buys_fewer_gaussians_than_the_fixed_allocation():
    stack = smooth_stack(64, 64)
    cfg = FitConfig.fast(steps=20, add_every=5)
    fixed = fit(stack, Budget(bppc=1.0), cfg, progress="off")
    fp16 = fit(stack, Budget(bppc=1.0), cfg.replace(quant="fp16"), progress="off")
    assert fixed.n > 1.5 * fp16.n
    assert fixed.metrics["bppc"] <= 1.0 and fp16.metrics["bppc"] <= 1.0
    assert min(fixed.metrics["bppc"], fp16.metrics["bppc"]) >= 0.98


def test_target_psnr_finds_a_rate_that_meets_it():
    stack = smooth_stack(48, 48)
    r = fit(stack, Budget(target_psnr=24.0, max_bppc=4.0), FitConfig.fast(steps=60, add_every=10), progress="off")
    assert r.metrics["target_met"]
    assert r.metrics["psnr"] >= 24.0


@pytest.mark.parametrize(
    "changes, word",
    [
        ({"k": 0}, "k"),
        ({"k": 17}, "k"),
        ({"steps": -1}, "steps"),
        ({"pyramid": (2,)}, "pyramid"),
        ({"pyramid": (1, 2), "pyramid_steps": (0.5, 0.5)}, "pyramid"),
        ({"pyramid_steps": (0.5, 0.5, 0.5)}, "pyramid_steps"),
        ({"quant": "fp8"}, "quant"),
        ({"lambda_init": 1.5}, "lambda_init"),
        ({"backend": "gpu"}, "backend"),
        ({"qat_fraction": 2.0}, "qat_fraction"),
        ({"lr_final": 0.0}, "lr_final"),
    ],
)
def test_bad_settings_name_the_field(changes, word):
    with pytest.raises(ConfigError, match=word):
        FitConfig(**changes)


def test_budget_needs_exactly_one_target():
    with pytest.raises(ConfigError, match="exactly one"):
        Budget()
    with pytest.raises(ConfigError, match="exactly one"):
        Budget(bppc=0.06, gaussians=10)
    with pytest.raises(ConfigError, match="bppc"):
        Budget(bppc=-1)


def test_unknown_setting_names_key_and_source():
    with pytest.raises(ConfigError, match="pipeline.yaml.*stepz"):
        FitConfig.from_dict({"stepz": 3}, source="pipeline.yaml")
    with pytest.raises(ConfigError, match="stepz"):
        FitConfig().replace(stepz=3)


def test_bad_inputs_are_user_errors():
    ok = smooth_stack(16, 16)
    bad = ok.copy()
    bad[3, 3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fit(bad, Budget(gaussians=4), QUICK, progress="off")
    # Values outside [0, 1] are fitted under their range (tests/test_hdr.py); outside a declared one, refused.
    with pytest.raises(InputError, match="outside its declared range"):
        fit(
            ok * 3,
            Budget(gaussians=4),
            QUICK,
            progress="off",
            channels=[Channel(f"c{i}", range=(0.0, 2.0)) for i in range(ok.shape[2])],
        )
    with pytest.raises(InputError, match="channels"):
        fit(np.zeros((8, 8, 40), np.float32), Budget(gaussians=4), QUICK, progress="off")
    with pytest.raises(ConfigError, match="weight"):
        fit(ok, Budget(gaussians=4), QUICK, weights=[1, 2], progress="off")
    with pytest.raises(ConfigError, match="cannot hold even one"):
        fit(ok, Budget(bppc=0.01), QUICK, progress="off")


def test_keep_best_never_returns_a_worse_fit_than_the_last_iterate():
    stack = smooth_stack(48, 48)
    cfg = FitConfig.fast(steps=100, add_every=15, pyramid=(1,), pyramid_steps=(1.0,))
    best = fit(stack, Budget(gaussians=40), cfg, progress="off")
    last = fit(stack, Budget(gaussians=40), cfg.replace(keep_best=False), progress="off")
    assert best.metrics["psnr"] >= last.metrics["psnr"] - 1e-6


def test_relocation_moves_the_smallest_gaussians_into_holes():
    """Gaussians covering only the left half: relocation moves the smallest ones
    onto the uncovered right half and clears their Adam moments."""
    from texgs.fit.optimize import TrainableGaussians, relocate_into_holes
    from texgs.fit.schedule import Stage

    h = w = 32
    rng = np.random.default_rng(0)
    n = 64
    pos = torch.tensor(np.stack([rng.uniform(0.0, 0.45, n), rng.uniform(0, 1, n)], 1), dtype=torch.float32)
    inv = torch.full((n, 2), 0.5)  # sigma 2 texels: 3 sigma = 6, far from the right half
    inv[:8] = 2.0  # the eight smallest footprints
    g = TrainableGaussians(
        pos.requires_grad_(True),
        inv.requires_grad_(True),
        torch.zeros(n, requires_grad=True),
        torch.rand(n, 3, generator=torch.Generator().manual_seed(1)).requires_grad_(True),
        torch.zeros(n, dtype=torch.int32),
    )
    opt = torch.optim.Adam(g.tensors(), lr=1e-3)
    sum(t.sum() for t in g.tensors()).backward()
    opt.step()  # gives every parameter Adam moments
    target = torch.rand(h, w, 3)
    cfg = FitConfig(relocate_fraction=0.125)
    stage = Stage(factor=1, height=h, width=w, start=0, end=1)
    moved = relocate_into_holes(
        g, opt, stage, h, w, target, cfg, (False, False), "cpu", torch.Generator().manual_seed(2)
    )
    assert moved == 8  # relocate_fraction * N, fewer than the hole texels
    assert (g.positions[:8, 0] > 0.45).all()  # the smallest moved into the empty half
    assert (g.positions[8:, 0] <= 0.45).all()  # the others stayed
    assert (opt.state[g.positions]["exp_avg"][:8] == 0).all()
    assert (opt.state[g.positions]["exp_avg"][8:] != 0).any()
    # Values come from the target at the new centres.
    cols = (g.positions[:8, 0] * w).long()
    rows = (g.positions[:8, 1] * h).long()
    assert torch.equal(g.values[:8].detach(), target[rows, cols])


def test_position_bits_follow_the_image_size():
    from texgs.fit import packing
    from texgs.format import quant

    # x: a quarter-texel step over the width, within the format's 4..16 bits.
    assert [packing.auto_position_bits(s, s) for s in (1024, 512, 2048)] == [12, 11, 13]
    assert packing.auto_position_bits(300, 1000) == 12  # ceil(log2(1000)) + 2
    assert packing.auto_position_bits(1000, 300) == 11  # the width decides
    assert packing.auto_position_bits(1, 1) == 4
    assert packing.auto_position_bits(65536, 65536) == 16
    q = packing.quant_config(FitConfig(), 512, 256)
    assert q.position_bits == 10 and q.value_bits == FitConfig().value_bits
    # y: a quarter texel within its strip, whatever the height.
    assert quant.position_steps(q, 512, 256) == (0.25, 0.25)
    assert packing.quant_config(FitConfig(position_bits=14), 512, 256).position_bits == 14


def test_range_value_allocation_gives_narrow_channels_fewer_bits():
    from texgs.fit import packing
    from texgs.format import unpack

    ranges = [(0.0, 1.0), (0.2, 0.7), (0.5, 0.51), (0.3, 0.3 + 1 / 1024)]
    # 5 + log2(span): 5, 4, -1.6 -> 1, -5 -> 1; never more than value_bits.
    assert packing.range_value_bits(5, ranges) == (5, 4, 1, 1)
    q = packing.quant_config(FitConfig(value_allocation="range"), 64, 64, ranges)
    assert q.channel_value_bits(4) == [5, 4, 1, 1]
    assert packing.quant_config(FitConfig(), 64, 64, ranges).channel_value_bits(4) == [5] * 4
    stack = smooth_stack(48, 48)
    stack[..., 2] = 0.25 + 0.1 * stack[..., 2]  # a channel spanning a tenth of [0, 1]
    # (in the records: a palette channel takes the palette's code depth)
    r = fit(
        stack, Budget(gaussians=30), FitConfig.fast(steps=20, value_allocation="range", palettes="off"), progress="off"
    )
    assert unpack(r.data).value_bits[2] < unpack(r.data).value_bits[0]


@pytest.mark.parametrize("chunk", [1 << 16, 40, 128])  # one chunk; several, the last one partial; whole rows
@pytest.mark.parametrize("scale", [1.0, 3.0])  # the loss gradient backward receives
def test_fused_l2_loss_matches_the_generic_loss_and_gradient(monkeypatch, chunk, scale):
    from texgs.fit import loss as loss_mod
    from texgs.fit.loss import image_loss, weighted_l2

    monkeypatch.setattr(loss_mod, "L2_CHUNK_TEXELS", chunk)
    g = torch.Generator().manual_seed(3)
    unit = torch.rand(13, 17, 5, generator=g, dtype=torch.float64)
    lo = torch.rand(5, generator=g, dtype=torch.float64) * 0.3
    span = 0.2 + torch.rand(5, generator=g, dtype=torch.float64) * 0.5
    target = torch.rand(13, 17, 5, generator=g, dtype=torch.float64)
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 0.0], dtype=torch.float64)
    a = unit.clone().requires_grad_(True)
    loss_a, sq = weighted_l2(a, lo, span, target, weights)
    (scale * loss_a).backward()
    b = unit.clone().requires_grad_(True)
    loss_b = image_loss(lo + span * b, target, weights, ssim_weight=0.0, data_term="l2")
    (scale * loss_b).backward()
    assert float(loss_a.detach()) == pytest.approx(float(loss_b.detach()), rel=1e-12)
    assert torch.allclose(a.grad, b.grad, rtol=1e-10, atol=1e-15)
    assert torch.allclose(sq, ((lo + span * unit - target) ** 2).sum(dim=(0, 1)), rtol=1e-12)


def test_fused_l2_loss_is_the_same_on_any_number_of_threads(monkeypatch):
    from texgs.fit import loss as loss_mod
    from texgs.fit.loss import weighted_l2

    monkeypatch.setattr(loss_mod, "L2_CHUNK_TEXELS", 256)  # 20 chunks of 4 rows of 64 texels, one partial
    g = torch.Generator().manual_seed(5)
    unit, target = torch.rand(2, 71, 70, 9, generator=g)
    lo, span = torch.rand(9, generator=g) * 0.2, 0.3 + torch.rand(9, generator=g) * 0.6
    weights = torch.rand(9, generator=g)
    results = []
    for workers in (1, 2, 3):
        u = unit.clone().requires_grad_(True)
        loss, sq = weighted_l2(u, lo, span, target, weights, workers=workers)
        loss.backward()
        results.append((loss.detach(), sq, u.grad))
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
    diff = lo + span * unit - target
    assert torch.allclose(results[0][2], diff * 2 * span * weights / (weights.sum() * 71 * 70), rtol=1e-5)


def test_fused_l2_loss_takes_strided_inputs():
    # Channel-planar images seen as [H, W, C] (a renderer's or loader's layout): reshape(-1, C) is then a
    # strided view, with chunks of whole 64-texel rows, so the row-wide path is asked for.
    from texgs.fit.loss import weighted_l2

    g = torch.Generator().manual_seed(9)
    planar_unit, planar_target = torch.rand(2, 3, 32, 64, generator=g)
    unit, target = planar_unit.permute(1, 2, 0), planar_target.permute(1, 2, 0)
    assert not unit.is_contiguous()
    lo, span, weights = torch.zeros(3), torch.ones(3), torch.ones(3)
    a = unit.contiguous().requires_grad_(True)  # a contiguous copy: the reference
    b = unit.detach().requires_grad_(True)  # the strided view itself
    loss_a, sq_a = weighted_l2(a, lo, span, target.contiguous(), weights)
    loss_b, sq_b = weighted_l2(b, lo, span, target, weights)
    loss_a.backward()
    loss_b.backward()
    assert torch.equal(loss_a.detach(), loss_b.detach()) and torch.equal(sq_a, sq_b)
    assert torch.equal(a.grad, b.grad)


def test_bytes_do_not_depend_on_the_thread_count():
    # Big enough for several render tiles per thread, with relocation, QAT and additions on.
    stack = np.concatenate([smooth_stack(96, 80), smooth_stack(96, 80)[..., ::-1]], axis=2).copy()
    cfg = FitConfig.fast(steps=60, add_every=10, relocate_every=10)
    one = fit(stack, Budget(bppc=0.5), cfg.replace(threads=1), progress="off").data
    for threads in (2, 3):
        assert fit(stack, Budget(bppc=0.5), cfg.replace(threads=threads), progress="off").data == one


def test_palettes_buy_more_gaussians_and_bytes_do_not_depend_on_the_thread_count():
    from texgs.format import unpack

    stack = np.concatenate([smooth_stack(96, 80), smooth_stack(96, 80)[..., ::-1]], axis=2).copy()
    groups = ["albedo"] * 3 + ["normal"] * 3
    cfg = FitConfig.fast(steps=60, add_every=10)
    one = fit(stack, Budget(bppc=0.5), cfg.replace(threads=1), groups=groups, progress="off")
    p = unpack(one.data)
    bits = p.cfg.palettes[0][1]
    assert p.cfg.palettes == (((0, 1, 2), bits), ((3, 4, 5), bits)) and 4 <= bits <= 8
    assert 0.49 <= one.metrics["bppc"] <= 0.5
    off = fit(stack, Budget(bppc=0.5), cfg.replace(palettes="off"), groups=groups, progress="off")
    assert unpack(off.data).cfg.palettes == () and one.n > 1.2 * off.n
    assert fit(stack, Budget(bppc=0.5), cfg.replace(threads=2), groups=groups, progress="off").data == one.data
    # Single-channel maps share one palette, unless only multi-channel groups may.
    scalars = unpack(fit(stack, Budget(bppc=0.5), cfg, progress="off").data).cfg.palettes
    assert scalars == ((tuple(range(6)), scalars[0][1]),)
    groups_only = cfg.replace(palettes="groups")
    assert unpack(fit(stack, Budget(bppc=0.5), groups_only, progress="off").data).cfg.palettes == ()
    mixed = fit(stack, Budget(bppc=0.5), cfg, groups=["albedo"] * 3 + ["ao", "roughness", "height"], progress="off")
    assert unpack(mixed.data).cfg.palettes == (((0, 1, 2), bits), ((3, 4, 5), bits))


def test_named_palettes_take_their_own_index_bits_and_buy_gaussians():
    from texgs.format import unpack

    stack = np.concatenate([smooth_stack(96, 80), smooth_stack(96, 80)[..., ::-1]], axis=2).copy()
    groups = ["albedo"] * 3 + ["normal", "normal", "roughness"]
    cfg = FitConfig.fast(steps=40, add_every=10, palette_bits=6)
    plain = fit(stack, Budget(bppc=0.5), cfg, groups=groups, progress="off")
    assert unpack(plain.data).cfg.palettes == (((0, 1, 2), 6), ((3, 4), 6))
    # a name the material has no palette for (roughness is a lone scalar) is ignored
    cut = cfg.replace(palette_bits_by_group={"normal": 2, "scalars": 3, "roughness": 1})
    r = fit(stack, Budget(bppc=0.5), cut, groups=groups, progress="off")
    assert unpack(r.data).cfg.palettes == (((0, 1, 2), 6), ((3, 4), 2))
    assert r.n > plain.n and r.metrics["bppc"] <= 0.5  # 4 bits fewer per record, same budget


def test_palette_refinement_trains_the_entries_that_are_written():
    stack = np.concatenate([smooth_stack(64, 64), smooth_stack(64, 64)[..., ::-1]], axis=2).copy()
    groups = ["albedo"] * 3 + ["normal"] * 3
    cfg = FitConfig.fast(steps=60, add_every=10)
    plain = fit(stack, Budget(bppc=0.5), cfg.replace(palette_refine_steps=0), groups=groups, progress="off")
    refined = fit(stack, Budget(bppc=0.5), cfg.replace(palette_refine_steps=30), groups=groups, progress="off")
    r = refined.metrics["palette_refinement"]
    assert "palette_refinement" not in plain.metrics and refined.n == plain.n
    # Before refinement it is the k-means-only file; after, it is the file written.
    assert r["psnr_before"] == pytest.approx(plain.metrics["psnr"], abs=0.01)
    assert r["psnr_after"] == pytest.approx(refined.metrics["psnr"], abs=0.01)
    assert refined.metrics["psnr"] > plain.metrics["psnr"] + 0.05


def test_coverage_term_pulls_the_nearest_gaussian_over_a_hole():
    from texgs.fit.optimize import TrainableGaussians, coverage_candidates, coverage_loss
    from texgs.fit.schedule import Stage

    stage = Stage(factor=1, height=32, width=32, start=0, end=1)
    g = TrainableGaussians(
        positions=torch.tensor([[10.5 / 32, 10.5 / 32], [30.5 / 32, 30.5 / 32]], requires_grad=True),
        inv_scales=torch.ones(2, 2, requires_grad=True),
        rotations=torch.zeros(2, requires_grad=True),
        values=torch.zeros(2, 1, requires_grad=True),
        levels=torch.zeros(2, dtype=torch.int32),
    )
    hole = torch.tensor([[16.5, 10.5]])  # 6 texels right of Gaussian 0: q = 36 > 9
    idx = coverage_candidates(g, hole, stage, (False, False))
    assert idx[0, 0] == 0  # nearest centre first
    loss = coverage_loss(g, hole, idx, stage, 32, 32, (False, False))
    assert loss.item() == pytest.approx(math.log(36 / 9), rel=1e-6)
    loss.backward()
    assert g.positions.grad[0, 0] < 0 and g.inv_scales.grad[0, 0] > 0  # move right, grow
    assert float(g.positions.grad[1].abs().sum()) == 0.0  # only the nearest in q
    # On the torus a hole at x = 0.5 is 2 texels from Gaussian 1 at x = 30.5 (q = 4): covered, no pull.
    near_edge = torch.tensor([[0.5, 30.5]])
    wrap = (True, True)
    assert (
        coverage_loss(g, near_edge, coverage_candidates(g, near_edge, stage, wrap), stage, 32, 32, wrap).item() == 0.0
    )


def test_the_file_holds_the_source_mip_tail_within_its_share_of_the_budget(fit64):
    """docs/FORMAT.md "Mip tail": the bake stores the target's box mips from the finest
    level whose bytes fit in FitConfig.mip_tail of the budget, out of the Gaussians' bytes."""
    from texgs.format import mip_tail
    from texgs.format.reader import unpack

    stack, r = fit64
    p = unpack(r.data)
    budget = 64 * 64 * 3 // 8  # 1 bppc
    share = FitConfig().mip_tail
    assert p.mip_tail is not None and p.mip_tail.first_level == mip_tail.choose_first_level(64, 64, 3, budget, share)
    assert mip_tail.file_bytes(64, 64, 3, p.mip_tail.first_level) <= share * budget
    lo = np.array([c.range[0] for c in p.channels], np.float64)
    hi = np.array([c.range[1] for c in p.channels], np.float64)
    want = mip_tail.build(((stack - lo) / (hi - lo)).astype(np.float32), p.mip_tail.first_level)
    assert all(np.array_equal(a, b) for a, b in zip(p.mip_tail.levels, want.levels))


def test_coverage_candidates_in_chunks_are_the_nearest_centres(monkeypatch):
    from texgs.fit import nearest, optimize
    from texgs.fit.optimize import TrainableGaussians, coverage_candidates
    from texgs.fit.schedule import Stage

    gen = torch.Generator().manual_seed(1)
    stage = Stage(factor=1, height=40, width=48, start=0, end=1)
    n = 300
    # Centres on texel centres, so many points are equally far from several of them.
    cells = torch.randint(0, 40 * 48, (n,), generator=gen)
    pos = torch.stack([((cells % 48).float() + 0.5) / 48, ((cells // 48).float() + 0.5) / 40], dim=1)
    g = TrainableGaussians(pos, torch.ones(n, 2), torch.zeros(n), torch.zeros(n, 1), torch.zeros(n, dtype=torch.int32))
    points = torch.stack([torch.randint(0, 48, (77,), generator=gen), torch.randint(0, 40, (77,), generator=gen)], 1)
    points = points.float() + 0.5
    wrap = (True, False)
    whole = coverage_candidates(g, points, stage, wrap)
    monkeypatch.setattr(nearest, "CHUNK_PAIRS", 5 * n + 7)  # 5 points at a time, the last chunk partial
    assert torch.equal(coverage_candidates(g, points, stage, wrap), whole)
    # The nearest centres on the torus in x, plainly measured.
    dx = points[:, None, 0] - pos[None, :, 0] * 48
    dx = dx - 48 * torch.floor(dx / 48 + 0.5)
    dist = dx**2 + (points[:, None, 1] - pos[None, :, 1] * 40) ** 2
    kth = dist.sort(dim=1).values[:, optimize.COVERAGE_CANDIDATES - 1 : optimize.COVERAGE_CANDIDATES]
    assert bool((dist.gather(1, whole) <= kth).all())
    assert coverage_candidates(g, points[:0], stage, wrap).shape == (0, optimize.COVERAGE_CANDIDATES)


def test_large_fits_keep_the_per_texel_step_and_the_coverage_reach_of_a_1k_fit():
    # At 4096^2 the image-normalised position rate moved Gaussians 2 texels a
    # step and 1,024 hole points served 140K Gaussians; fits of the same detail
    # per texel lost 4 dB from 2K to 4K (docs/fitting.md).
    from texgs.fit.optimize import COVERAGE_POINTS, coverage_points
    from texgs.fit.schedule import position_lr_scale

    lr = FitConfig().lr_position
    for side in (256, 512, 1024):
        assert position_lr_scale(side, side) == 1.0  # small fits are unchanged
    for h, w in ((2048, 2048), (4096, 4096), (1024, 8192)):
        assert lr * position_lr_scale(h, w) * max(h, w) == pytest.approx(lr * 1024)
    assert coverage_points(8606) == COVERAGE_POINTS  # a 1K 9-channel fit: unchanged
    assert coverage_points(140_000) >= 140_000 / 16


def test_pyramid_targets_are_the_same_on_two_threads():
    from texgs.fit.optimize import level_target, level_targets
    from texgs.fit.schedule import Stage

    g = torch.Generator().manual_seed(11)
    target, unit = torch.rand(2, 100, 90, 9, generator=g)
    for stage in (Stage(2, 50, 45, 0, 1), Stage(3, 34, 30, 0, 1), Stage(1, 100, 90, 0, 1)):
        a, b = level_targets(target, unit, stage, workers=2)
        assert torch.equal(a, level_target(target, stage)) and torch.equal(b, level_target(unit, stage))
