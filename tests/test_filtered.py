"""Filtered sampling (docs/IMAGE_FUNCTION.md "Filtered value"): the reference in
texgs.format.filtered against the point function, against numerical
convolution, against box-filtered decodes, and `texgs decode --level`."""

import math

import numpy as np
import pytest
import torch

from texgs.channels import Channel
from texgs.cli import main
from texgs.errors import InputError
from texgs.format import QuantConfig, decode, decode_uv, gaussian_constraints, pack, unpack
from texgs.format import filtered as F
from texgs.format.decoder import decode_points
from texgs.gaussians import Gaussians


def random_material(wrap=(False, False), seed=0, h=40, w=48, c=3, n=120, small=False, levels=1, group=""):
    cfg = QuantConfig(max_radius=10.0, strip_height=4)
    rng = np.random.default_rng(seed)
    lim = gaussian_constraints(h, w, cfg)
    spread = 0.6 if small else 2.0
    base = lim["max_inv_scale"] * 0.25 if small else lim["min_inv_scale"]
    inv = np.clip(base * np.exp(rng.random((n, 2)) * spread), lim["min_inv_scale"], lim["max_inv_scale"])
    return pack(
        Gaussians(
            means=(rng.random((n, 2)) * [w, h]).astype(np.float32),
            inv_scales=inv.astype(np.float32),
            rotations=(rng.random(n) * 3).astype(np.float32),
            values=rng.random((n, c)).astype(np.float32),
            background=np.full(c, 0.5, np.float32),
            levels=rng.integers(0, levels, n),
        ),
        [Channel(f"c{i}", group) for i in range(c)],
        h,
        w,
        k=5,
        wrap=wrap,
        cfg=cfg,
    )


def texel_points(p):
    ys, xs = torch.meshgrid(torch.arange(p.height) + 0.5, torch.arange(p.width) + 0.5, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], 1).float()


@pytest.mark.parametrize("wrap", [(False, False), (True, True)])
def test_zero_and_one_texel_footprints_are_the_point_value_bit_for_bit(wrap):
    data = random_material(wrap, seed=1, levels=2)
    p = unpack(data)
    uv = (np.random.default_rng(2).random((500, 2)) * 1.6 - 0.3).astype(np.float32)
    point = decode_uv(p, uv)
    zero = np.zeros_like(uv)
    assert np.array_equal(F.sample_grad(p, uv, zero, zero), point)
    one_texel = (np.array([1.0 / p.width, 0], np.float32), np.array([0, 1.0 / p.height], np.float32))
    assert np.array_equal(F.sample_grad(p, uv, *one_texel), point)
    assert np.array_equal(F.sample_level(p, uv, 0.0), point)
    assert np.array_equal(F.decode_level(p, 0), decode(p))
    # The filtered arithmetic itself (not only the routing) reduces to q at a zero footprint.
    pts = texel_points(p)
    generic, *_ = F.decode_points_filtered(p, pts, np.zeros((len(pts), 3), np.float32), with_counts=True)
    assert np.array_equal(generic, decode_points(p, pts))


def test_effective_footprint_of_an_anisotropic_pixel():
    # A pixel 8 texels along 30 degrees and 1 texel across: only the long axis is filtered.
    a = math.radians(30)
    dx = np.array([[8 * math.cos(a), 8 * math.sin(a)]], np.float32)
    dy = np.array([[-math.sin(a), math.cos(a)]], np.float32)
    m, pp, b = F.effective_footprint(dx, dy, cap=1e9)[0]
    lam, vec = np.linalg.eigh(np.array([[m + pp, b], [b, m - pp]], np.float64))
    assert lam[0] == pytest.approx(0.0, abs=1e-6)
    assert lam[1] == pytest.approx((64 - 1) / 12, rel=1e-5)
    assert abs(np.dot(vec[:, 1], [math.cos(a), math.sin(a)])) == pytest.approx(1.0, abs=1e-6)
    # Eigenvalues are clamped into [0, cap]: the largest footprint is a box as wide as the side.
    capped = F.effective_footprint(dx * 1000, dy * 1000, cap=50.0)
    assert F.footprint_lambda(capped)[0] == pytest.approx(50.0, rel=1e-5)


def test_the_gaussians_filter_is_widened_from_mip_level_2_to_3_continuously():
    # None up to a 4-texel pixel (level 2), 1.5 times the box's variance from 8 texels (level 3),
    # linear in lam between: continuous and increasing in the footprint, zero stays zero.
    widths = np.array([0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 16.0, 64.0], np.float32)
    lam = ((widths * widths - 1).clip(0) / 12).astype(np.float32)
    fp = np.stack([lam, 0 * lam, 0 * lam], 1)
    filt, lam_f = F.filter_footprint(fp, lam)
    scale = np.divide(lam_f, lam, out=np.ones_like(lam), where=lam > 0)
    np.testing.assert_allclose(scale[:4], 1.0)
    np.testing.assert_allclose(scale[6:], 1.5)
    assert 1.0 < scale[4] < scale[5] < 1.5
    np.testing.assert_allclose(filt[:, 0], lam_f)
    fine = np.linspace(0, 20, 2001, dtype=np.float32)
    lam_fine = F.filter_footprint(np.stack([fine, 0 * fine, 0 * fine], 1), fine)[1]
    assert (np.diff(lam_fine) > 0).all() and np.diff(lam_fine).max() < 0.025  # no jump
    # An anisotropic footprint is scaled as a whole (its eigenvectors kept).
    aniso = np.array([[3.0, 1.0, 2.0]], np.float32)
    lam_a = F.footprint_lambda(aniso)
    filt_a, lam_fa = F.filter_footprint(aniso, lam_a)
    np.testing.assert_allclose(filt_a / aniso, lam_fa[0] / lam_a[0], rtol=1e-6)
    np.testing.assert_allclose(F.footprint_lambda(filt_a), lam_fa, rtol=1e-6)


def test_filtered_value_is_the_exact_convolution_of_each_gaussian():
    # Two Gaussians, points where both are candidates: the value must be the blend of each
    # untruncated Gaussian convolved with the footprint filter, integrated numerically.
    h = w = 64
    cfg = QuantConfig(max_radius=30.0, strip_height=4)
    data = pack(
        Gaussians(
            means=np.array([[28.0, 30.0], [36.0, 33.0]], np.float32),
            inv_scales=np.array([[0.25, 0.5], [0.4, 0.2]], np.float32),
            rotations=np.array([0.5, 2.0], np.float32),
            values=np.array([[0.1, 0.9], [0.8, 0.3]], np.float32),
            background=np.full(2, 0.5, np.float32),
        ),
        [Channel("a"), Channel("b")],
        h,
        w,
        k=4,
        wrap=(False, False),
        cfg=cfg,
    )
    p = unpack(data)
    pts = np.array([[31.0, 31.0], [33.5, 32.0], [30.0, 34.0]], np.float32)
    a = math.radians(70)
    ddx = np.array([[9 * math.cos(a), 9 * math.sin(a)]] * 3, np.float32)  # 9:2 anisotropic
    ddy = np.array([[-2 * math.sin(a), 2 * math.cos(a)]] * 3, np.float32)
    fp = F.effective_footprint(ddx, ddy, cap=1e9)
    got = F.decode_points_filtered(p, pts, fp)
    filt, _ = F.filter_footprint(fp, F.footprint_lambda(fp))  # the Gaussians' (widened) filter
    assert np.allclose(filt, 1.5 * fp)  # lam = 80 / 12: past mip level 3, fully widened
    g = np.linspace(-40, 40, 801)
    X, Y = np.meshgrid(g, g, indexing="ij")
    for j, pt in enumerate(pts.astype(np.float64)):
        m, pp, b = filt[j].astype(np.float64)
        sf = np.array([[m + pp, b], [b, m - pp]])
        inv_f = np.linalg.inv(sf)
        kern = np.exp(-0.5 * (inv_f[0, 0] * X * X + 2 * inv_f[0, 1] * X * Y + inv_f[1, 1] * Y * Y))
        kern /= kern.sum()
        weights = []
        gs = p.gaussians
        for i in range(2):
            c, s = math.cos(gs.rotations[i]), math.sin(gs.rotations[i])
            dx, dy = pt[0] + X - gs.means[i, 0], pt[1] + Y - gs.means[i, 1]
            u, v = c * dx + s * dy, -s * dx + c * dy
            gi = np.exp(-0.5 * ((gs.inv_scales[i, 0] * u) ** 2 + (gs.inv_scales[i, 1] * v) ** 2))
            weights.append((gi * kern).sum())
        weights = np.array(weights)
        want = (weights[:, None] * gs.values).sum(0) / weights.sum()
        np.testing.assert_allclose(got[j], want, atol=2e-5)


def test_filtering_removes_aliasing_that_point_sampling_keeps():
    # Small Gaussians (high frequencies): at mip levels 2 and 3 the filtered image is much
    # closer to the box-filtered full decode (what a mip chain of this file would hold).
    from texgs.compare.mips import mip_chain
    from texgs.metrics import psnr

    data = random_material((True, True), seed=3, h=64, w=64, n=900, small=True)
    p = unpack(data)
    ideal = mip_chain(decode(p), 3)
    for lv in (2, 3):
        filt = F.decode_level(p, lv)
        point = decode_points(p, F.level_points(p, lv)).reshape(filt.shape)
        assert psnr(ideal[lv], filt) > psnr(ideal[lv], point) + 6.0


def test_wrap_is_periodic_and_clamp_holds_the_edge():
    data = random_material((True, True), seed=4)
    uv = np.array([[0.02, 0.97], [0.5, 0.01]], np.float32)
    d = (np.array([0.15, 0.05], np.float32), np.array([-0.02, 0.1], np.float32))
    np.testing.assert_allclose(F.sample_grad(data, uv + [1.0, -2.0], *d), F.sample_grad(data, uv, *d), atol=1e-6)
    clamp = random_material((False, False), seed=4)
    inside = np.array([[0.5 / 48, 0.5]], np.float32)
    outside = np.array([[-3.0, 0.5]], np.float32)
    np.testing.assert_array_equal(F.sample_grad(clamp, outside, *d), F.sample_grad(clamp, inside, *d))


def test_decode_level_sizes_and_bad_input():
    p = unpack(random_material(seed=5, h=40, w=48))
    assert F.max_level(p) == 6
    for lv, shape in ((1, (20, 24)), (3, (5, 6)), (4, (3, 3)), (6, (1, 1))):
        img = F.decode_level(p, lv)
        assert img.shape == (*shape, 3) and np.isfinite(img).all()
    with pytest.raises(InputError, match="0..6"):
        F.decode_level(p, 7)
    with pytest.raises(InputError, match="NaN"):
        F.sample_grad(p, np.zeros((1, 2), np.float32), np.array([[np.nan, 0]], np.float32), np.zeros((1, 2)))
    with pytest.raises(InputError, match="mip level"):
        F.sample_level(p, np.zeros((1, 2), np.float32), -1.0)


def test_decode_cli_writes_a_mip_level(tmp_path, capsys):
    import cv2

    data = random_material(seed=6, h=40, w=48, c=3, group="albedo")
    src = tmp_path / "m.texgs"
    src.write_bytes(data)
    assert main(["decode", str(src), "--level", "2", "--png16", "-o", str(tmp_path / "out")]) == 0
    (png,) = (tmp_path / "out").glob("*.png")
    img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)[..., ::-1] / 65535.0
    np.testing.assert_allclose(img, F.decode_level(unpack(data), 2), atol=1.0 / 65535)
    assert main(["decode", str(src), "--level", "9", "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--level must be in 0..6" in err and str(src) in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def _crowded(k=4, n=60, seed=3):
    """More than k Gaussians over every point of a 48 x 48 material (the top k is a strict subset)."""
    rng = np.random.default_rng(seed)
    data = pack(
        Gaussians(
            means=(24 + rng.normal(size=(n, 2)) * 3).astype(np.float32),
            inv_scales=rng.uniform(0.3, 0.6, (n, 2)).astype(np.float32),
            rotations=(rng.random(n) * 3).astype(np.float32),
            values=rng.random((n, 2)).astype(np.float32),
            background=np.full(2, 0.5, np.float32),
        ),
        [Channel("a"), Channel("b")],
        48,
        48,
        k=k,
        wrap=(False, False),
        cfg=QuantConfig(max_radius=12.0, strip_height=4),
    )
    return unpack(data)


def test_a_footprint_blends_every_candidate_not_a_top_k():
    # 60 Gaussians around one point and an 8-texel pixel: far more candidates than any top-K
    # array holds; the value is the blend of all of them (closed form, float64 here).
    p = _crowded()
    pts = np.array([[24.0, 24.0], [21.5, 26.0]], np.float32)
    fp = F.effective_footprint(np.array([[8.0, 0]] * 2, np.float32), np.array([[0, 8.0]] * 2, np.float32), 1e9)
    filt, _ = F.filter_footprint(fp, F.footprint_lambda(fp))
    got, covering, *_ = F.decode_points_filtered(p, pts, fp, with_counts=True)
    assert (covering > 16).all()
    gs = p.gaussians
    for j, pt in enumerate(pts.astype(np.float64)):
        m = float(filt[j, 0])
        c, s = np.cos(gs.rotations.astype(np.float64)), np.sin(gs.rotations.astype(np.float64))
        d = pt - gs.means.astype(np.float64)
        u, v = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
        w1, w2 = gs.inv_scales[:, 0].astype(np.float64), gs.inv_scales[:, 1].astype(np.float64)
        t1, t2 = w1 * w1 * m, w2 * w2 * m  # an isotropic filter: T is diagonal
        qw = (w1 * u) ** 2 / (1 + t1) + (w2 * v) ** 2 / (1 + t2)
        wgt = np.where(qw <= 9, np.exp(-0.5 * qw) / np.sqrt((1 + t1) * (1 + t2)), 0.0)
        assert (qw <= 9).sum() == covering[j]
        np.testing.assert_allclose(got[j], (wgt[:, None] * gs.values).sum(0) / wgt.sum(), atol=2e-6)


def test_the_filtered_value_is_continuous_where_the_footprint_passes_one_texel():
    # A pixel just over one texel wide is all but unfiltered: its value is within a small bound of
    # the point value (the top K), however many more candidates cover the point.
    p = _crowded()
    pts = (
        np.stack(np.meshgrid(np.arange(19, 29.5, 0.5), np.arange(19, 29.5, 0.5)), -1).reshape(-1, 2).astype(np.float32)
    )
    uv = pts / np.float32(48)
    point = decode_uv(p, uv)
    _, covering, *_ = F.decode_points_filtered(
        p, pts, np.full((len(pts), 3), [1e-4, 0, 0], np.float32), with_counts=True
    )
    assert (covering > 2 * p.k).all()
    for s in (1.0001, 1.001, 1.01):
        d = np.float32(s / 48)
        for ddx, ddy in (((d, 0), (0, d)), ((d, 0), (0, 1 / 48)), ((d * 0.6, d * 0.8), (-d * 0.8, d * 0.6))):
            got = F.sample_grad(p, uv, np.array(ddx, np.float32), np.array(ddy, np.float32))
            jump = float(np.abs(got - point).max())
            # lam = (s^2 - 1) / 12 here: the value moves at most in proportion to it.
            assert jump <= 40 * (s * s - 1) / 12 + 1e-5, (s, ddx, ddy, jump)
    # From FADE_LAM on, every candidate is blended (the band leaves wider footprints as they were).
    lam = np.float32(F.FADE_LAM)
    fp = np.full((len(pts), 3), [lam, 0, 0], np.float32)
    got = F.decode_points_filtered(p, pts, fp)
    want = F.decode_points_filtered(p, pts, fp, k=10**6)
    assert np.array_equal(got, want)


def test_the_fade_band_blends_the_top_k_and_every_candidate_by_lam():
    p = _crowded()
    pts = np.array([[24.0, 24.0], [21.5, 26.0], [27.25, 22.75]], np.float32)
    lam = np.float32(F.FADE_LAM) * np.float32(0.375)
    fp = np.full((len(pts), 3), [lam, 0, 0], np.float32)
    got = F.decode_points_filtered(p, pts, fp).astype(np.float64)
    gs = p.gaussians
    a = float(lam) / F.FADE_LAM
    for j, pt in enumerate(pts.astype(np.float64)):
        c, s = np.cos(gs.rotations.astype(np.float64)), np.sin(gs.rotations.astype(np.float64))
        d = pt - gs.means.astype(np.float64)
        u, v = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
        w1, w2 = gs.inv_scales[:, 0].astype(np.float64), gs.inv_scales[:, 1].astype(np.float64)
        t1, t2 = w1 * w1 * float(lam), w2 * w2 * float(lam)
        qw = (w1 * u) ** 2 / (1 + t1) + (w2 * v) ** 2 / (1 + t2)
        qt = qw + np.log((1 + t1) * (1 + t2))
        ok = qw <= 9
        wgt = np.where(ok, np.exp(-0.5 * qt), 0.0)
        top = np.argsort(np.where(ok, qt, np.inf), kind="stable")[: p.k]
        scale = np.full(len(wgt), a)
        scale[top] = 1.0
        wgt = wgt * scale
        np.testing.assert_allclose(got[j], (wgt[:, None] * gs.values).sum(0) / wgt.sum(), atol=2e-6)
