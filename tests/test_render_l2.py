"""The L2 data term fused into the native CPU renderer (native/include/texgs/render.h:
L2Term, texgs.native.render_l2): its image, loss and gradients against the
render followed by texgs.fit.loss.weighted_l2, on wrapped and clamped images
whose sides are not whole tiles, with another term's gradient of the image
added, and on any thread count."""

from __future__ import annotations

import pytest
import torch

from texgs import bench, native
from texgs.fit.loss import render_weighted_l2, weighted_l2
from texgs.gaussians import Gaussians
from texgs.render import render

pytestmark = pytest.mark.skipif(not native.cpu_built(), reason="the native CPU renderer is not built")

C = 5


def _problem(h, w, seed=0):
    p = bench.fit_like_gaussians(h, w, C, seed=seed)
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(h, w, C, generator=g)
    lo = torch.rand(C, generator=g) * 0.2
    span = 0.5 + torch.rand(C, generator=g) * 0.5
    weights = torch.rand(C, generator=g) + 0.5
    return p, target, lo, span, weights


def _leaves(p):
    return [p[n].clone().requires_grad_(True) for n in ("means", "inv_scales", "rotations", "values")]


def _term(target, lo, span, weights):
    h, w, _ = target.shape
    return native.L2Term(target, lo, span, weights / (weights.sum() * (h * w)))


@pytest.mark.parametrize("h,w,wrap", [(64, 48, (False, False)), (37, 50, (True, False)), (45, 33, (True, True))])
def test_fused_term_matches_render_then_weighted_l2(h, w, wrap):
    p, target, lo, span, weights = _problem(h, w)
    a = _leaves(p)
    img = render(*a, p["background"], h, w, 4, wrap, backend="cpu", threads=2)
    loss, sq = weighted_l2(img, lo, span, target, weights)
    # Another term of the image beside the data term (as the cutout term is).
    extra = torch.linspace(-1, 1, img.numel()).view_as(img)
    (3.0 * loss + (img * extra).sum() * 1e-3).backward()

    b = _leaves(p)
    img2, loss2, sq2 = native.render_l2(*b, p["background"], h, w, 4, wrap, 2, _term(target, lo, span, weights))
    (3.0 * loss2 + (img2 * extra).sum() * 1e-3).backward()

    assert torch.equal(img, img2)  # the render itself is untouched
    torch.testing.assert_close(sq2, sq, rtol=1e-5, atol=0)
    torch.testing.assert_close(loss2, loss, rtol=1e-5, atol=0)
    for x, y in zip(a, b):
        scale = x.grad.abs().max()
        assert scale > 0
        assert float((x.grad - y.grad).abs().max() / scale) < 1e-4


def test_fused_term_is_the_same_on_any_number_of_threads():
    p, target, lo, span, weights = _problem(70, 90, seed=3)
    results = []
    for threads in (1, 2, 3):
        leaves = _leaves(p)
        img, loss, sq = native.render_l2(
            *leaves, p["background"], 70, 90, 6, (False, True), threads, _term(target, lo, span, weights)
        )
        loss.backward()
        results.append([img.detach(), sq, loss.detach()] + [t.grad for t in leaves])
    for other in results[1:]:
        assert all(torch.equal(x, y) for x, y in zip(results[0], other))


def test_image_gradient_alone_needs_no_term_gradient():
    """Only the image used (the loss ignored): backward is the renderer's own."""
    p, target, lo, span, weights = _problem(32, 32, seed=5)
    a = _leaves(p)
    render(*a, p["background"], 32, 32, 4, (False, False), backend="cpu", threads=1).sum().backward()
    b = _leaves(p)
    img, _, _ = native.render_l2(*b, p["background"], 32, 32, 4, (False, False), 1, _term(target, lo, span, weights))
    img.sum().backward()
    assert all(torch.equal(x.grad, y.grad) for x, y in zip(a, b))


def test_without_grad_it_only_measures():
    p, target, lo, span, weights = _problem(40, 24, seed=7)
    with torch.no_grad():
        img, loss, sq = native.render_l2(
            *_leaves(p), p["background"], 40, 24, 4, (False, False), 2, _term(target, lo, span, weights)
        )
    expect = ((lo + span * img - target) ** 2).double().sum(dim=(0, 1))
    torch.testing.assert_close(sq.double(), expect, rtol=1e-5, atol=0)
    assert not loss.requires_grad


def test_render_weighted_l2_picks_the_fused_term_on_the_cpu_backend():
    p, target, lo, span, weights = _problem(48, 48, seed=9)
    gs = Gaussians(*_leaves(p), p["background"])
    ref = Gaussians(*_leaves(p), p["background"])
    img, loss, sq = render_weighted_l2(gs, 48, 48, 4, (False, False), "cpu", 2, lo, span, target, weights)
    img_ref, loss_ref, sq_ref = render_weighted_l2(
        ref, 48, 48, 4, (False, False), "reference", 2, lo, span, target, weights
    )
    torch.testing.assert_close(img, img_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(sq, sq_ref, rtol=1e-4, atol=0)
    loss.backward()
    loss_ref.backward()
    for x, y in zip((gs.means, gs.values), (ref.means, ref.values)):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-3, atol=1e-9)


def test_a_target_of_the_wrong_shape_is_refused_by_name():
    p, target, lo, span, weights = _problem(16, 16)
    with pytest.raises(ValueError, match="target must have shape"):
        native.render_l2(*_leaves(p), p["background"], 16, 20, 4, (False, False), 1, _term(target, lo, span, weights))
    with pytest.raises(ValueError, match="lo must have shape"):
        native.render_l2(
            *_leaves(p), p["background"], 16, 16, 4, (False, False), 1, _term(target, lo[:3], span, weights)
        )
