"""Properties of the image function (docs/IMAGE_FUNCTION.md), checked on the
PyTorch reference and on the native CPU renderer alike, plus a float64
finite-difference check of the reference's gradients."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import PARAM_NAMES, random_gaussians

from texgs import native, render_ref

BACKENDS = ["reference"] + (["cpu"] if native.cpu_built() else [])


def _render(backend, scene, h, w, k, wrap=(False, False)):
    args = [scene[n] for n in PARAM_NAMES] + [scene["background"], h, w, k, wrap]
    if backend == "reference":
        return render_ref.render(*args)
    return native.render(*args)


def _scene(means, inv_scales, rotations, values, background):
    return {
        "means": torch.tensor(means, dtype=torch.float32),
        "inv_scales": torch.tensor(inv_scales, dtype=torch.float32),
        "rotations": torch.tensor(rotations, dtype=torch.float32),
        "values": torch.tensor(values, dtype=torch.float32),
        "background": torch.tensor(background, dtype=torch.float32),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_gaussian_gives_its_value_inside_and_background_outside(backend):
    # One isotropic Gaussian, sigma 2 texels, at texel (row 5, col 5): 3 sigma = 6 texels.
    scene = _scene([[5.5, 5.5]], [[0.5, 0.5]], [0.3], [[0.25, -2.0]], [7.0, 8.0])
    out = _render(backend, scene, 16, 16, 3)
    assert out[5, 5].tolist() == [0.25, -2.0]
    assert out[5, 11].tolist() == [0.25, -2.0]  # distance 6: q = 9, still a candidate
    assert out[5, 12].tolist() == [7.0, 8.0]  # distance 7: beyond 3 sigma
    assert out[15, 15].tolist() == [7.0, 8.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_blend_is_the_normalised_weighted_mean(backend):
    scene = _scene([[2.5, 0.5], [4.5, 0.5]], [[0.5, 0.5], [1.0, 0.25]], [0.0, 0.0], [[1.0], [3.0]], [0.0])
    out = _render(backend, scene, 1, 6, 2)
    x = 3.5
    g1 = math.exp(-0.5 * (0.5 * (x - 2.5)) ** 2)
    g2 = math.exp(-0.5 * (1.0 * (x - 4.5)) ** 2)
    assert out[0, 3, 0].item() == pytest.approx((g1 * 1 + g2 * 3) / (g1 + g2), rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_go_to_the_lower_index(backend):
    # Two identical Gaussians, K = 1: every texel takes the first one's value.
    scene = _scene([[3.0, 3.0]] * 2, [[0.4, 0.4]] * 2, [0.5] * 2, [[1.0], [2.0]], [0.0])
    out = _render(backend, scene, 6, 6, 1)
    assert torch.all(out == 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_k_keeps_the_nearest(backend):
    # K = 1 picks the larger G: the nearer (in q) Gaussian.
    scene = _scene([[0.5, 0.5], [7.5, 0.5]], [[0.3, 0.3]] * 2, [0.0] * 2, [[1.0], [2.0]], [0.0])
    out = _render(backend, scene, 1, 8, 1)[0, :, 0]
    assert out.tolist() == [1.0] * 4 + [2.0] * 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrap_is_periodic(backend):
    # Shifting every mean by a whole period changes nothing in wrap mode.
    h, w = 12, 20
    scene = random_gaussians(15, 2, h, w, seed=4)
    shifted = dict(scene, means=scene["means"] + torch.tensor([float(w), -2.0 * h]))
    a = _render(backend, scene, h, w, 4, (True, True))
    b = _render(backend, shifted, h, w, 4, (True, True))
    amb = render_ref.ambiguous_texels(scene["means"], scene["inv_scales"], scene["rotations"], h, w, 4, (True, True))
    torch.testing.assert_close(a[~amb], b[~amb], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_gaussian_wider_than_the_period_counts_once(backend):
    # Through its nearest copy only: with K = 2 and one Gaussian, the value is its own.
    scene = _scene([[1.0, 1.0]], [[0.01, 0.01]], [0.0], [[4.0]], [0.0])
    out = _render(backend, scene, 4, 4, 2, (True, True))
    assert torch.all(out == 4.0)


def test_reference_gradients_pass_finite_differences():
    # float64, a tiny scene with wide Gaussians: no texel is near a selection change.
    g = torch.Generator().manual_seed(0)
    h, w, k = 4, 5, 2
    means = (torch.rand(3, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h])).requires_grad_()
    inv = (0.2 + 0.2 * torch.rand(3, 2, generator=g, dtype=torch.float64)).requires_grad_()
    rot = (torch.rand(3, generator=g, dtype=torch.float64) * 3).requires_grad_()
    val = torch.rand(3, 2, generator=g, dtype=torch.float64).requires_grad_()
    bg = torch.zeros(2, dtype=torch.float64)
    fn = lambda m, s, r, v: render_ref.render(m, s, r, v, bg, h, w, k, (True, False))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (means, inv, rot, val), eps=1e-6, atol=1e-6)
