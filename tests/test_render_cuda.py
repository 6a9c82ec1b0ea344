"""CUDA renderer vs the PyTorch reference (texgs/render_ref.py): forward and
gradient parity over sizes, channel counts, K, addressing modes and edge cases;
input errors; run-to-run bitwise determinism. Speed is a benchmark, not a
test: `texgs bench render --backends cpu,cuda`.

Everything goes through the public entry point texgs.render.render(...,
backend="cuda") with tensors on "cuda"; the reference runs on the CPU (the
truth, and the CPU build of torch divides exactly like the kernels do).

Tolerances: forward rtol=atol=1e-5 (sin/cos/exp may differ by an ulp between
CUDA's libdevice and torch's CPU maths, and sums run in another order);
gradients rtol=1e-4 with atol = 1e-4 x the largest |gradient| of that tensor
+ 1e-6 (contributions are summed in another order: per-warp shuffle trees, see
docs/cuda.md; the 1e-6 floor covers tensors whose exact gradient is zero, e.g.
the geometry of a K = 1, C = 1 image, where both sides hold rounding noise).
Texels where the selection is ambiguous at float precision
(render_ref.ambiguous_texels) are left out of forward comparisons and get zero
dL/dout in gradient comparisons.

Skipped as a whole where torch has no CUDA device or the extension was built
without the CUDA renderer (always the case on a CPU-only machine).
"""

from __future__ import annotations

import pytest
import torch
from conftest import PARAM_NAMES, random_gaussians

from texgs import native, render_ref
from texgs.render import render


def _skip_reason() -> str | None:
    if not torch.cuda.is_available():
        return "torch sees no CUDA device (CPU-only torch build or no GPU): CUDA renderer not tested"
    if not native.cuda_runnable():
        return f"texgs CUDA backend not runnable: {native.backend_status()['cuda']['detail']}"
    return None


_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

WRAPS = [(False, False), (True, False), (False, True), (True, True)]

# (height, width, channels, K, N, scene options): every C in 1, 3, 9, 17 and
# every K in 1, 4, 10, 16 appears, on odd / non-square / sub-tile sizes.
CASES = [
    (37, 53, 3, 4, 60, {}),  # odd, non-square
    (1, 70, 1, 1, 12, {}),  # 1 x N
    (70, 1, 9, 10, 12, {}),  # N x 1
    (16, 16, 17, 16, 40, {"coverage": 2.0}),  # exactly one tile, K = MAX_K
    (48, 33, 9, 10, 90, {"margin": 0.5}),  # many Gaussians wholly outside
    (29, 41, 1, 16, 30, {"anisotropy": 40.0}),  # very elongated
    (21, 18, 17, 4, 25, {"coverage": 0.05}),  # tiny scales: mostly background
    (25, 31, 3, 10, 8, {"coverage": 400.0}),  # huge scales: wider than the image
    (67, 45, 9, 4, 300, {"coverage": 3.0}),  # crowded: many candidates per tile
]


def _ids(case):
    h, w, c, k, n, opts = case
    return f"{h}x{w}-C{c}-K{k}-N{n}" + "".join(f"-{key}{v}" for key, v in opts.items())


def _cuda_render(scene, h, w, k, wrap, grad_out=None):
    """(out [H, W, C] on CPU, grads on CPU or None) through the CUDA backend."""
    params = [scene[n].cuda().requires_grad_(grad_out is not None) for n in PARAM_NAMES]
    out = render(*params, scene["background"].cuda(), h, w, k, wrap, backend="cuda")
    assert out.device.type == "cuda" and out.shape == (h, w, scene["values"].shape[1])
    grads = None
    if grad_out is not None:
        out.backward(grad_out.cuda())
        grads = [p.grad.cpu() for p in params]
    return out.detach().cpu(), grads


def _reference(scene, h, w, k, wrap, grad_out=None):
    params = [scene[n].clone().requires_grad_(grad_out is not None) for n in PARAM_NAMES]
    out = render_ref.render(*params, scene["background"], h, w, k, wrap)
    grads = None
    if grad_out is not None:
        out.backward(grad_out)
        grads = [p.grad for p in params]
    return out.detach(), grads


def _ambiguous(scene, h, w, k, wrap):
    amb = render_ref.ambiguous_texels(scene["means"], scene["inv_scales"], scene["rotations"], h, w, k, wrap)
    # Rare: under 0.5% of texels (at most 2 on images too small for a percentage).
    assert amb.sum().item() <= max(2, 0.005 * amb.numel()), f"{amb.sum().item()} ambiguous texels"
    return amb


def _assert_parity(scene, h, w, k, wrap, seed):
    amb = _ambiguous(scene, h, w, k, wrap)
    c = scene["values"].shape[1]
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(seed)) * (~amb)[..., None]
    out, grads = _cuda_render(scene, h, w, k, wrap, grad_out)
    ref, ref_grads = _reference(scene, h, w, k, wrap, grad_out)
    keep = ~amb
    torch.testing.assert_close(out[keep], ref[keep], rtol=1e-5, atol=1e-5)
    for name, got, want in zip(PARAM_NAMES, grads, ref_grads):
        scale = want.abs().max().item() if want.numel() else 0.0
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * scale + 1e-6, msg=lambda m: f"d{name}: {m}")


@pytest.mark.parametrize("wrap", WRAPS, ids=lambda w: f"wrap{int(w[0])}{int(w[1])}")
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_forward_and_gradients_match_reference(case, wrap):
    h, w, c, k, n, opts = case
    scene = random_gaussians(n, c, h, w, seed=h * 1000 + w + k, **opts)
    _assert_parity(scene, h, w, k, wrap, seed=1)


@pytest.mark.parametrize("wrap", WRAPS, ids=lambda w: f"wrap{int(w[0])}{int(w[1])}")
def test_degenerate_gaussians(wrap):
    # w = 0 along one axis (an infinite line), axis-aligned lines, w so large the
    # Gaussian covers no texel centre, and means far outside the image.
    h, w, c, k = 40, 45, 3, 4
    scene = random_gaussians(30, c, h, w, seed=3)
    scene["inv_scales"][:6, 0] = 0.0
    scene["inv_scales"][6:9, 1] = 0.0
    scene["rotations"][:3] = 0.0
    scene["inv_scales"][9:12] = 50.0
    scene["means"][12] = torch.tensor([-1e6, 20.0])
    scene["means"][13] = torch.tensor([22.0, 3e5])
    _assert_parity(scene, h, w, k, wrap, seed=2)


def test_no_gaussians_is_all_background():
    h, w, c = 19, 23, 5
    bg = torch.linspace(-1, 1, c).cuda()
    params = [torch.zeros(s, device="cuda").requires_grad_() for s in ((0, 2), (0, 2), (0,), (0, c))]
    out = render(*params, bg, h, w, 4, (True, False), backend="cuda")
    assert torch.equal(out, bg.expand(h, w, c))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.numel() == 0 for p in params)


def test_wrap_covers_the_opposite_edge():
    h, w = 8, 32
    args = [torch.tensor([[0.2, 4.0]]), torch.tensor([[0.5, 0.5]]), torch.zeros(1), torch.ones(1, 1), torch.zeros(1)]
    args = [t.cuda() for t in args] + [h, w, 1]
    clamp = render(*args, (False, False), backend="cuda").cpu()
    wrap = render(*args, (True, False), backend="cuda").cpu()
    assert clamp[4, w - 1, 0].item() == 0.0
    assert wrap[4, w - 1, 0].item() == 1.0
    assert torch.equal(wrap[:, :4], clamp[:, :4])


def test_matches_the_cpu_renderer_forward():
    # Both native backends follow the spec's operation order; forward values agree closely.
    if not native.cpu_built():
        pytest.skip("native CPU renderer not built")
    h, w, c, k = 96, 80, 9, 10
    scene = random_gaussians(400, c, h, w, seed=5, coverage=1.5)
    amb = _ambiguous(scene, h, w, k, (True, False))
    args = [scene[n] for n in PARAM_NAMES] + [scene["background"]]
    cpu = render(*args, h, w, k, (True, False), backend="cpu")
    gpu = render(*[t.cuda() for t in args], h, w, k, (True, False), backend="cuda").cpu()
    torch.testing.assert_close(gpu[~amb], cpu[~amb], rtol=1e-5, atol=1e-5)


def _forward_backward(scene, h, w, k, wrap, grad_out):
    params = [scene[n].cuda().requires_grad_() for n in PARAM_NAMES]
    out = render(*params, scene["background"].cuda(), h, w, k, wrap, backend="cuda")
    out.backward(grad_out)
    return [out.detach().cpu()] + [p.grad.cpu() for p in params]


def test_run_to_run_bitwise_determinism():
    # Crowded tiles (hundreds of candidates per tile) exercise every reduction path.
    h, w, c, k = 150, 130, 9, 10
    scene = random_gaussians(2000, c, h, w, seed=7, coverage=4.0)
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(3)).cuda()
    first = _forward_backward(scene, h, w, k, (True, False), grad_out)
    for _ in range(2):
        again = _forward_backward(scene, h, w, k, (True, False), grad_out)
        for a, b in zip(first, again):
            assert torch.equal(a, b)
    # The inference path (no state kept) renders the same bytes.
    with torch.no_grad():
        args = [scene[n].cuda() for n in PARAM_NAMES] + [scene["background"].cuda()]
        fast = render(*args, h, w, k, (True, False), backend="cuda").cpu()
    assert torch.equal(fast, first[0])


# ---- errors -----------------------------------------------------------------


def _scene_cuda(n=3, c=2):
    scene = random_gaussians(n, c, 8, 8, seed=0)
    return [scene[name].cuda() for name in PARAM_NAMES + ("background",)]


@pytest.mark.parametrize(
    "index, element, value, message",
    [
        (0, (1, 0), float("nan"), r"means\[1, 0\] is NaN"),
        (1, (2, 1), float("inf"), r"inv_scales\[2, 1\] is infinite"),
        (2, (1,), float("nan"), r"rotations\[1\] is NaN"),
        (3, (1, 0), float("-inf"), r"values\[1, 0\] is infinite"),
        (4, (1,), float("nan"), r"background\[1\] is NaN"),
    ],
)
def test_non_finite_parameters_are_named(index, element, value, message):
    arrays = _scene_cuda()
    arrays[index][element] = value
    with pytest.raises(ValueError, match=message):
        render(*arrays, 8, 8, 2, backend="cuda")


@pytest.mark.parametrize(
    "h, w, k, message",
    [
        (0, 8, 2, "image size"),
        (8, 65537, 2, "image size"),
        (8, 8, 0, r"K must be in 1\.\.16, got 0"),
        (8, 8, 17, r"K must be in 1\.\.16, got 17"),
    ],
)
def test_bad_settings_raise(h, w, k, message):
    with pytest.raises(ValueError, match=message):
        render(*_scene_cuda(), h, w, k, backend="cuda")
    if native.cpu_built():  # both backends accept and reject the same settings
        with pytest.raises(ValueError, match=message):
            render(*[t.cpu() for t in _scene_cuda()], h, w, k, backend="cpu")


def test_errors_leave_the_device_usable():
    arrays = _scene_cuda()
    arrays[0][0, 0] = float("nan")
    with pytest.raises(ValueError):
        render(*arrays, 8, 8, 2, backend="cuda")
    ok = render(*_scene_cuda(), 8, 8, 2, backend="cuda")
    torch.cuda.synchronize()
    assert torch.isfinite(ok).all()
