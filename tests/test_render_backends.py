"""Native renderers ("cpu", "cuda") vs the PyTorch reference (texgs/render_ref.py):
forward and gradient parity over sizes, channel counts, K, addressing modes and
edge cases, the golden file, run-to-run determinism and input errors, every
case on every backend; then the checks that belong to one backend (CPU thread
counts and extension bindings; CUDA against the CPU renderer).

Every case goes through the public entry point texgs.render.render(...,
backend=B) with tensors on B's device; the reference runs on the CPU (the
truth, and the CPU build of torch divides exactly like the kernels do).

Tolerances (TOLERANCE below), per backend:
- forward values, rtol = atol: cpu 2e-6 (one float32 sum order apart); cuda
  1e-5 (sin/cos/exp may differ by an ulp between CUDA's libdevice and torch's
  CPU maths, and sums run in another order);
- gradients rtol 1e-4 with atol = 1e-4 x the largest |gradient| of that tensor
  + a floor: cpu 1e-5, cuda 1e-6 (per-texel contributions are summed in
  another order, on CUDA in per-warp shuffle trees, docs/cuda.md; the floor
  covers tensors whose exact gradient is zero, e.g. the geometry of a K = 1,
  C = 1 image, where both sides hold rounding noise).
Texels where the selection is ambiguous at float precision
(render_ref.ambiguous_texels) are left out of forward comparisons and get zero
dL/dout in gradient comparisons.

A "cuda" case skips, with the reason, where torch has no CUDA device or the
extension was built without the CUDA renderer (always so on a CPU-only
machine). Speed is a benchmark, not a test: `texgs bench render --backends cpu,cuda`.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from conftest import PARAM_NAMES, random_gaussians

from texgs import bench, native, render_ref
from texgs.cli import main
from texgs.format import unpack
from texgs.render import render

GOLDEN = pathlib.Path(__file__).parent / "data" / "golden"


def _skip_reason(backend: str) -> str | None:
    if backend == "cpu":
        return None if native.cpu_built() else "native CPU renderer not built"
    if not torch.cuda.is_available():
        return "torch sees no CUDA device (CPU-only torch build or no GPU): CUDA renderer not tested"
    if not native.cuda_runnable():
        return f"texgs CUDA backend not runnable: {native.backend_status()['cuda']['detail']}"
    return None


@pytest.fixture(params=["cpu", "cuda"])
def backend(request) -> str:
    reason = _skip_reason(request.param)
    if reason is not None:
        pytest.skip(reason)
    return request.param


needs_cpu = pytest.mark.skipif(_skip_reason("cpu") is not None, reason=_skip_reason("cpu") or "")
needs_cuda = pytest.mark.skipif(_skip_reason("cuda") is not None, reason=_skip_reason("cuda") or "")


@dataclass(frozen=True)
class Tolerance:
    forward: float  # rtol = atol of forward values
    grad_floor: float  # gradient atol = GRAD_RTOL x max |gradient| of the tensor + this


TOLERANCE = {"cpu": Tolerance(forward=2e-6, grad_floor=1e-5), "cuda": Tolerance(forward=1e-5, grad_floor=1e-6)}
GRAD_RTOL = 1e-4

WRAPS = [(False, False), (True, False), (False, True), (True, True)]

# (height, width, channels, K, N, scene options): every C in 1, 3, 4, 9, 17 and
# every K in 1, 4, 10, 16 appears, on odd / non-square / sub-tile sizes.
CASES = [
    (37, 53, 3, 4, 60, {}),  # odd, non-square
    (1, 70, 1, 1, 12, {}),  # 1 x N
    (70, 1, 9, 10, 12, {}),  # N x 1
    (16, 16, 17, 16, 40, {"coverage": 2.0}),  # exactly one tile, K = MAX_K
    (48, 33, 9, 10, 90, {"margin": 0.5}),  # many Gaussians wholly outside
    (29, 41, 4, 4, 30, {"anisotropy": 40.0}),  # very elongated
    (29, 41, 1, 16, 30, {"anisotropy": 40.0}),  # very elongated, K = MAX_K on one channel
    (21, 18, 3, 4, 25, {"coverage": 0.05}),  # tiny scales: mostly background
    (21, 18, 17, 4, 25, {"coverage": 0.05}),  # the same, many channels
    (19, 35, 32, 6, 40, {"coverage": 2.0}),  # the most channels (MAX_CHANNELS)
    (25, 31, 3, 10, 8, {"coverage": 400.0}),  # huge scales: wider than the image
    (67, 45, 9, 4, 300, {"coverage": 3.0}),  # crowded: many candidates per tile
]


def _ids(case):
    h, w, c, k, n, opts = case
    return f"{h}x{w}-C{c}-K{k}-N{n}" + "".join(f"-{key}{v}" for key, v in opts.items())


def _wrap_id(wrap):
    return f"wrap{int(wrap[0])}{int(wrap[1])}"


def _render(backend, scene, h, w, k, wrap, grad_out=None):
    """(out [H, W, C] on the CPU, gradients of the four Gaussian tensors on the CPU
    or None) through `backend` ("reference" runs render_ref on the CPU)."""
    device = "cuda" if backend == "cuda" else "cpu"
    params = [scene[n].clone().to(device).requires_grad_(grad_out is not None) for n in PARAM_NAMES]
    background = scene["background"].to(device)
    if backend == "reference":
        out = render_ref.render(*params, background, h, w, k, wrap)
    else:
        out = render(*params, background, h, w, k, wrap, backend=backend)
        assert out.device.type == device and out.shape == (h, w, scene["values"].shape[1])
    grads = None
    if grad_out is not None:
        out.backward(grad_out.to(device))
        grads = [p.grad.cpu() for p in params]
    return out.detach().cpu(), grads


def _ambiguous(scene, h, w, k, wrap):
    amb = render_ref.ambiguous_texels(scene["means"], scene["inv_scales"], scene["rotations"], h, w, k, wrap)
    # Rare: under 0.5% of texels (at most 2 on images too small for a percentage).
    assert amb.sum().item() <= max(2, 0.005 * amb.numel()), f"{amb.sum().item()} ambiguous texels"
    return amb


def _assert_forward_close(backend, got, want):
    tol = TOLERANCE[backend].forward
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)


def _assert_parity(backend, scene, h, w, k, wrap, seed):
    """Forward and all four gradients of `backend` match the reference."""
    amb = _ambiguous(scene, h, w, k, wrap)
    c = scene["values"].shape[1]
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(seed)) * (~amb)[..., None]
    out, grads = _render(backend, scene, h, w, k, wrap, grad_out)
    ref, ref_grads = _render("reference", scene, h, w, k, wrap, grad_out)
    _assert_forward_close(backend, out[~amb], ref[~amb])
    floor = TOLERANCE[backend].grad_floor
    for name, got, want in zip(PARAM_NAMES, grads, ref_grads):
        scale = want.abs().max().item() if want.numel() else 0.0
        atol = GRAD_RTOL * scale + floor
        torch.testing.assert_close(got, want, rtol=GRAD_RTOL, atol=atol, msg=lambda m, name=name: f"d{name}: {m}")


# ---- parity with the reference, every backend --------------------------------


@pytest.mark.parametrize("wrap", WRAPS, ids=_wrap_id)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_forward_and_gradients_match_reference(backend, case, wrap):
    h, w, c, k, n, opts = case
    scene = random_gaussians(n, c, h, w, seed=h * 1000 + w + k, **opts)
    _assert_parity(backend, scene, h, w, k, wrap, seed=1)


@pytest.mark.parametrize("wrap", WRAPS, ids=_wrap_id)
def test_degenerate_gaussians(backend, wrap):
    # w = 0 along one axis (an infinite line-shaped Gaussian, its extent clamped to
    # the image / period), axis-aligned lines, w so large the Gaussian covers no
    # texel centre, and means far outside the image.
    h, w, c, k = 40, 45, 3, 4
    scene = random_gaussians(30, c, h, w, seed=3)
    scene["inv_scales"][:6, 0] = 0.0
    scene["inv_scales"][6:9, 1] = 0.0
    scene["rotations"][:3] = 0.0
    scene["inv_scales"][9:12] = 50.0
    scene["means"][12] = torch.tensor([-1e6, 20.0])
    scene["means"][13] = torch.tensor([22.0, 3e5])
    _assert_parity(backend, scene, h, w, k, wrap, seed=2)


@pytest.mark.parametrize("wrap", WRAPS, ids=_wrap_id)
def test_extreme_geometry_never_drops_a_candidate(backend, wrap):
    # Far-away means (float offsets lose precision), needle-thin Gaussians
    # (anisotropy 1e3: rounding of u moves q most) and near-zero inverse scales
    # stress the conservative tile boxes; a dropped candidate would show here.
    h, w, c, k = 40, 37, 2, 8  # K above the 5 near-flat Gaussians, which tie everywhere
    scene = random_gaussians(60, c, h, w, seed=21)
    g = torch.Generator().manual_seed(22)
    scene["means"][:15] += torch.randint(-3, 4, (15, 2), generator=g).float() * torch.tensor([w * 3e4, h * 3e4])
    scene["inv_scales"][15:35, 0] *= 30.0
    scene["inv_scales"][15:35, 1] /= 30.0
    scene["inv_scales"][35:40] = 1e-6
    amb = _ambiguous(scene, h, w, k, wrap)
    out, _ = _render(backend, scene, h, w, k, wrap)
    ref, _ = _render("reference", scene, h, w, k, wrap)
    _assert_forward_close(backend, out[~amb], ref[~amb])


def test_ambiguous_texels_are_rare_on_a_realistic_scene(backend):
    h, w, c, k = 96, 80, 3, 10
    scene = random_gaussians(400, c, h, w, seed=5, coverage=1.0)
    amb = render_ref.ambiguous_texels(scene["means"], scene["inv_scales"], scene["rotations"], h, w, k, (True, False))
    assert amb.float().mean().item() < 0.005
    out, _ = _render(backend, scene, h, w, k, (True, False))
    ref, _ = _render("reference", scene, h, w, k, (True, False))
    _assert_forward_close(backend, out[~amb], ref[~amb])


def test_golden_file_renders_as_committed(backend):
    # The committed golden material (tests/data/golden, all LOD levels) through the
    # renderer: the same image as its committed reference decode.
    p = unpack((GOLDEN / "material.texgs").read_bytes())
    committed = torch.from_numpy(np.load(GOLDEN / "material_decoded.npy"))
    g = p.gaussians
    arrays = (g.means, g.inv_scales, g.rotations, g.values, g.background)
    scene = dict(zip(PARAM_NAMES + ("background",), (torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)))
    assert p.n_levels == 2 and committed.shape == (p.height, p.width, scene["values"].shape[1])
    amb = _ambiguous(scene, p.height, p.width, p.k, p.wrap)
    out, _ = _render(backend, scene, p.height, p.width, p.k, p.wrap)
    _assert_forward_close(backend, out[~amb], committed[~amb])


def test_wrap_covers_the_opposite_edge(backend):
    # A small Gaussian centred on the left edge shows on the right edge only when x wraps.
    h, w = 8, 32
    scene = {
        "means": torch.tensor([[0.2, 4.0]]),
        "inv_scales": torch.tensor([[0.5, 0.5]]),
        "rotations": torch.zeros(1),
        "values": torch.ones(1, 1),
        "background": torch.zeros(1),
    }
    clamp, _ = _render(backend, scene, h, w, 1, (False, False))
    wrap, _ = _render(backend, scene, h, w, 1, (True, False))
    assert clamp[4, w - 1, 0].item() == 0.0
    assert wrap[4, w - 1, 0].item() == 1.0
    assert torch.equal(wrap[:, :4], clamp[:, :4])


def test_no_gaussians_is_all_background(backend):
    h, w, c = 19, 23, 5
    bg = torch.linspace(-1, 1, c).to(backend)
    params = [torch.zeros(s, device=backend).requires_grad_() for s in ((0, 2), (0, 2), (0,), (0, c))]
    out = render(*params, bg, h, w, 4, (True, False), backend=backend)
    assert torch.equal(out, bg.expand(h, w, c))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.numel() == 0 for p in params)


# ---- determinism, every backend ----------------------------------------------


def _forward_backward(backend, scene, h, w, k, wrap, grad_out, threads=0):
    params = [scene[n].clone().to(backend).requires_grad_() for n in PARAM_NAMES]
    out = render(*params, scene["background"].to(backend), h, w, k, wrap, backend=backend, threads=threads)
    out.backward(grad_out.to(backend))
    return [out.detach().cpu()] + [p.grad.cpu() for p in params]


def test_run_to_run_bitwise_determinism(backend):
    # Crowded tiles (hundreds of candidates per tile) exercise every reduction path.
    h, w, c, k = 150, 130, 9, 10
    scene = random_gaussians(2000, c, h, w, seed=7, coverage=4.0)
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(3))
    first = _forward_backward(backend, scene, h, w, k, (True, False), grad_out)
    for _ in range(2):
        again = _forward_backward(backend, scene, h, w, k, (True, False), grad_out)
        for a, b in zip(first, again):
            assert torch.equal(a, b)


def test_inference_path_matches_autograd_path(backend):
    # The path that keeps no state (no grad needed) renders the same bytes.
    h, w, c, k = 33, 40, 3, 4
    scene = random_gaussians(50, c, h, w, seed=11)
    args = [scene[n].to(backend) for n in PARAM_NAMES + ("background",)]
    fast = native.render_inference(*args, h, w, k, (True, True), backend=backend)
    with torch.no_grad():
        public = render(*args, h, w, k, (True, True), backend=backend)
    params = [t.clone().requires_grad_() for t in args[:4]]
    slow = render(*params, args[4], h, w, k, (True, True), backend=backend)
    assert slow.requires_grad and not fast.requires_grad and not public.requires_grad
    assert torch.equal(fast, slow.detach()) and torch.equal(public, fast)


# ---- input errors, every backend ---------------------------------------------


def _small_scene(backend, n=3, c=2):
    scene = random_gaussians(n, c, 8, 8, seed=0)
    return [scene[name].to(backend) for name in PARAM_NAMES + ("background",)]


@pytest.mark.parametrize(
    "index, element, value, message",
    [
        (0, (1, 0), float("nan"), r"means\[1, 0\] is NaN"),
        (1, (1, 0), float("inf"), r"inv_scales\[1, 0\] is infinite"),
        (1, (2, 1), float("inf"), r"inv_scales\[2, 1\] is infinite"),
        (2, (1,), float("nan"), r"rotations\[1\] is NaN"),
        (3, (1, 0), float("-inf"), r"values\[1, 0\] is infinite"),
        (4, (1,), float("nan"), r"background\[1\] is NaN"),
    ],
)
def test_non_finite_parameters_are_named(backend, index, element, value, message):
    arrays = _small_scene(backend)
    arrays[index][element] = value
    with pytest.raises(ValueError, match=message):
        render(*arrays, 8, 8, 2, backend=backend)


@pytest.mark.parametrize(
    "h, w, k, message",
    [
        (0, 8, 2, "image size"),
        (8, -1, 2, "image size"),
        (8, 65537, 2, "image size"),
        (8, 8, 0, r"K must be in 1\.\.16, got 0"),
        (8, 8, 17, r"K must be in 1\.\.16, got 17"),
    ],
)
def test_bad_settings_raise(backend, h, w, k, message):
    with pytest.raises(ValueError, match=message):
        render(*_small_scene(backend), h, w, k, backend=backend)


def test_bad_channel_counts_raise(backend):
    with pytest.raises(ValueError, match=r"channel count C must be in 1\.\.32, got 33"):
        render(*_small_scene(backend, c=33), 8, 8, 2, backend=backend)
    no_channels = _small_scene(backend, c=1)[:3] + [torch.zeros(3, 0, device=backend), torch.zeros(0, device=backend)]
    with pytest.raises(ValueError, match=r"channel count C must be in 1\.\.32, got 0"):
        render(*no_channels, 8, 8, 2, backend=backend)


def test_wrong_dtype_is_named(backend):
    arrays = _small_scene(backend)
    arrays[3] = arrays[3].double()
    with pytest.raises(TypeError, match="values must be float32"):
        render(*arrays, 8, 8, 2, backend=backend)


def test_errors_leave_the_backend_usable(backend):
    arrays = _small_scene(backend)
    arrays[0][0, 0] = float("nan")
    with pytest.raises(ValueError):
        render(*arrays, 8, 8, 2, backend=backend)
    ok = render(*_small_scene(backend), 8, 8, 2, backend=backend)
    if backend == "cuda":
        torch.cuda.synchronize()
    assert torch.isfinite(ok).all()


@needs_cpu
def test_an_unavailable_native_backend_is_refused():
    scene = _small_scene("cpu")
    with pytest.raises(ValueError, match="not available"):
        native.render(*scene, 8, 8, 2, backend="cuda" if not native.cuda_runnable() else "tpu")


# ---- CPU only: thread counts and the extension's own bindings ----------------


@needs_cpu
def test_thread_count_never_changes_a_bit():
    h, w, c, k = 150, 130, 9, 10
    scene = random_gaussians(300, c, h, w, seed=7, coverage=2.5)
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(3))
    runs = [_forward_backward("cpu", scene, h, w, k, (True, False), grad_out, threads=t) for t in (1, 2, 4)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)


@needs_cpu
def test_recycled_render_buffers_never_show_through():
    # Buffers of 256 KiB and more (this output, 2.25 MiB; the state) are recycled between
    # calls without clearing: a render must write every texel and every slot
    # itself, whatever the memory held before.
    h, w, c, k = 256, 256, 9, 10
    scene = random_gaussians(400, c, h, w, seed=5, coverage=3.0)
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(1))
    first = _forward_backward("cpu", scene, h, w, k, (False, False), grad_out)
    bg = torch.linspace(-2, 2, c)
    empty = [torch.zeros(s) for s in ((0, 2), (0, 2), (0,), (0, c))]
    assert torch.equal(render(*empty, bg, h, w, k), bg.expand(h, w, c))
    again = _forward_backward("cpu", scene, h, w, k, (False, False), grad_out)
    for a, b in zip(first, again):
        assert torch.equal(a, b)


def _arrays(n=3, c=2):
    return [t.numpy().copy() for t in _small_scene("cpu", n, c)]


def _forward_cpu(arrays, h=8, w=8, k=2):
    return native._native.forward_cpu(*arrays, h, w, k, False, False, 1, False)


@needs_cpu
def test_binding_names_bad_arrays_and_never_copies_them():
    arrays = _arrays()
    bad = list(arrays)
    bad[0] = arrays[0].astype(np.float64)
    with pytest.raises(TypeError, match="means must be a float32 array"):
        _forward_cpu(bad)
    bad = list(arrays)
    bad[1] = arrays[1][:2]
    with pytest.raises(ValueError, match=r"inv_scales must have shape \(3, 2\), got \(2, 2\)"):
        _forward_cpu(bad)
    bad = list(arrays)
    bad[4] = arrays[4][:1]
    with pytest.raises(ValueError, match=r"background must have shape \(2,\)"):
        _forward_cpu(bad)
    bad = list(arrays)
    bad[3] = np.asfortranarray(arrays[3])
    with pytest.raises(ValueError, match="values must be C-contiguous"):
        _forward_cpu(bad)
    bad = list(arrays)
    bad[2] = np.zeros((6,), np.float32)[::2]
    with pytest.raises(ValueError, match="rotations must be C-contiguous"):
        _forward_cpu(bad)


@needs_cpu
def test_backward_rejects_a_state_from_another_call():
    arrays = _arrays()
    out, state = native._native.forward_cpu(*arrays, 8, 8, 2, False, False, 1, True)
    other = _arrays(n=4)
    with pytest.raises(ValueError, match="forward state was made for different"):
        native._native.backward_cpu(state, *other, out, out, 1)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(8, 8, 2\)"):
        native._native.backward_cpu(state, *arrays, out, out[:4], 1)


# ---- CUDA only: against the CPU renderer ---------------------------------------


@needs_cuda
@needs_cpu
def test_cuda_matches_the_cpu_renderer_forward():
    # Both native backends follow the spec's operation order; forward values agree closely.
    h, w, c, k = 96, 80, 9, 10
    scene = random_gaussians(400, c, h, w, seed=5, coverage=1.5)
    amb = _ambiguous(scene, h, w, k, (True, False))
    cpu, _ = _render("cpu", scene, h, w, k, (True, False))
    gpu, _ = _render("cuda", scene, h, w, k, (True, False))
    _assert_forward_close("cuda", gpu[~amb], cpu[~amb])


# ---- `texgs bench render` plumbing (nothing timed) -----------------------------


def test_bench_gaussian_count_follows_the_budget():
    # 0.06 bppc x 1024^2 texels x 9 channels / 8 bits, at 2 * (5 + 9) bytes per Gaussian.
    assert bench.gaussian_count(0.06, 1024, 1024, 9) == int(0.06 * 1024 * 1024 * 9 / 8 // 28)
    scene = bench.synthetic_gaussians(64, 48, 3, 200, seed=1)
    assert scene["means"].shape == (200, 2) and scene["values"].shape == (200, 3)
    inside = ((scene["means"] >= 0) & (scene["means"] <= torch.tensor([48.0, 64.0]))).all(1)
    assert inside.all()
    sigma = 1 / scene["inv_scales"]
    coverage = (torch.pi * sigma[:, 0] * sigma[:, 1]).sum().item() / (64 * 48)
    assert 1.5 < coverage < 4.0


@needs_cpu
def test_bench_command_prints_json(capsys):
    assert main(["bench", "render", "--sizes", "32", "--repeat", "1", "--backends", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    (row,) = result["results"]
    assert row["backend"] == "cpu" and row["size"] == 32 and row["forward_ms"] > 0
    assert main(["bench", "render", "--sizes", "0"]) == 2
