"""Mip chains, upsampling, the rate formula, Pareto frontier and log-rate interpolation."""

import math

import numpy as np
import pytest

from texgs.compare import mips, ratecurve


def test_box_downsample_known_values():
    img = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    out = mips.box_downsample(img)
    assert out.shape == (2, 2, 1)
    np.testing.assert_allclose(out[..., 0], [[2.5, 4.5], [10.5, 12.5]])


def test_box_downsample_odd_size_repeats_edge():
    img = np.array([[0.0, 1.0, 2.0]], np.float32).reshape(1, 3, 1)
    out = mips.box_downsample(img)
    np.testing.assert_allclose(out[..., 0], [[0.5, 2.0]])


def test_mip_chain_sizes_and_mean_preserved():
    img = np.random.default_rng(1).random((64, 32, 3)).astype(np.float32)
    chain = mips.mip_chain(img, 5)
    assert [c.shape[:2] for c in chain] == [(64, 32), (32, 16), (16, 8), (8, 4), (4, 2), (2, 1)]
    for c in chain:
        np.testing.assert_allclose(c.mean(axis=(0, 1)), img.mean(axis=(0, 1)), rtol=1e-5)


def test_bilinear_upsample_known_answer():
    img = np.array([[0.0, 1.0]], np.float32).reshape(1, 2, 1)
    out = mips.upsample_bilinear(img, 1, 4)
    # texel centres at 0.5 + i: the target centres 0.5..3.5 map to -0.25, 0.25, 0.75, 1.25 (clamped)
    np.testing.assert_allclose(out[0, :, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-6)


def test_upsample_of_constant_is_constant():
    img = np.full((3, 5, 2), 0.3, np.float32)
    np.testing.assert_allclose(mips.upsample_bilinear(img, 24, 40), 0.3, atol=1e-6)


def test_pareto_frontier_drops_dominated_points():
    rates = [0.01, 0.02, 0.02, 0.04, 0.03, 0.08]
    psnr = [20.0, 23.0, 24.0, 22.0, 26.0, 25.0]
    front = ratecurve.pareto_frontier(rates, psnr)
    assert front == [0, 2, 4]  # 0.04 @ 22 and 0.08 @ 25 are beaten by 0.03 @ 26
    assert [rates[i] for i in front] == sorted(rates[i] for i in front)


def test_log_rate_interpolation_known_answer():
    # halfway in log between 0.01 and 0.04 is 0.02
    assert ratecurve.value_at([0.01, 0.04], [20.0, 30.0], 0.02) == pytest.approx(25.0)
    t = (math.log(0.03) - math.log(0.01)) / (math.log(0.04) - math.log(0.01))
    assert ratecurve.value_at([0.01, 0.04], [20.0, 30.0], 0.03) == pytest.approx(20.0 + 10.0 * t)
    assert ratecurve.value_at([0.01, 0.04], [20.0, 30.0], 0.04) == pytest.approx(30.0)


def test_interpolation_uses_frontier_and_refuses_extrapolation():
    rates, psnr = [0.01, 0.02, 0.04], [20.0, 19.0, 30.0]  # 0.02 is dominated
    assert ratecurve.value_at(rates, psnr, 0.02) == pytest.approx(25.0)
    assert ratecurve.value_at(rates, psnr, 0.005) is None
    assert ratecurve.value_at(rates, psnr, 0.05) is None
