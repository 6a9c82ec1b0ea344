"""Native CPU renderer vs the PyTorch reference (texgs/render_ref.py): forward
and gradient parity over sizes, channel counts, K, addressing modes and edge
cases; input errors; thread-count determinism.

Tolerances: forward values rtol=atol=2e-6 (one float32 sum order apart);
gradients rtol=1e-4 with atol = 1e-4 x the largest |gradient| of that tensor + 1e-5
(per-texel contributions are summed in a different order). Texels where the
selection is ambiguous at float precision (render_ref.ambiguous_texels) are
left out of forward comparisons and get zero dL/dout in gradient comparisons.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import PARAM_NAMES, random_gaussians

from texgs import native, render_ref

pytestmark = pytest.mark.skipif(not native.cpu_built(), reason="native CPU renderer not built")

WRAPS = [(False, False), (True, False), (False, True), (True, True)]

# (height, width, channels, K, N, scene options)
CASES = [
    (37, 53, 3, 4, 60, {}),  # odd, non-square
    (1, 70, 1, 1, 12, {}),  # 1 x N
    (70, 1, 9, 10, 12, {}),  # N x 1
    (16, 16, 17, 16, 40, {"coverage": 2.0}),  # exactly one tile, K = MAX_K
    (48, 33, 9, 10, 90, {"margin": 0.5}),  # many Gaussians wholly outside
    (29, 41, 4, 4, 30, {"anisotropy": 40.0}),  # very elongated
    (21, 18, 3, 4, 25, {"coverage": 0.05}),  # tiny scales: mostly background
    (25, 31, 3, 10, 8, {"coverage": 400.0}),  # huge scales: wider than the image
]


def _ids(case):
    h, w, c, k, n, opts = case
    return f"{h}x{w}-C{c}-K{k}-N{n}" + "".join(f"-{key}{v}" for key, v in opts.items())


def _render_both(scene, h, w, k, wrap, grad_out=None):
    """Forward (and backward with grad_out) through native and reference."""
    results = []
    for backend in ("cpu", "reference"):
        params = [scene[name].clone().requires_grad_(grad_out is not None) for name in PARAM_NAMES]
        if backend == "cpu":
            out = native.render(*params, scene["background"], h, w, k, wrap)
        else:
            out = render_ref.render(*params, scene["background"], h, w, k, wrap)
        grads = None
        if grad_out is not None:
            out.backward(grad_out)
            grads = [p.grad for p in params]
        results.append((out.detach(), grads))
    return results


def _ambiguous(scene, h, w, k, wrap):
    return render_ref.ambiguous_texels(scene["means"], scene["inv_scales"], scene["rotations"], h, w, k, wrap)


def _assert_rare(amb):
    # Rare: under 0.5% of texels (at most 2 on images too small for a percentage).
    assert amb.sum().item() <= max(2, 0.005 * amb.numel()), f"{amb.sum().item()} ambiguous texels"


@pytest.mark.parametrize("wrap", WRAPS, ids=lambda w: f"wrap{int(w[0])}{int(w[1])}")
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_forward_and_gradients_match_reference(case, wrap):
    h, w, c, k, n, opts = case
    scene = random_gaussians(n, c, h, w, seed=h * 1000 + w + k, **opts)
    amb = _ambiguous(scene, h, w, k, wrap)
    _assert_rare(amb)
    g = torch.Generator().manual_seed(1)
    grad_out = torch.randn(h, w, c, generator=g) * (~amb)[..., None]
    (out, grads), (ref, ref_grads) = _render_both(scene, h, w, k, wrap, grad_out)
    keep = ~amb
    torch.testing.assert_close(out[keep], ref[keep], rtol=2e-6, atol=2e-6)
    for name, got, want in zip(PARAM_NAMES, grads, ref_grads):
        scale = want.abs().max().item() if want.numel() else 0.0
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * scale + 1e-5, msg=lambda m: f"d{name}: {m}")


def test_ambiguous_texels_are_rare_on_a_realistic_scene():
    h, w, c, k = 96, 80, 3, 10
    scene = random_gaussians(400, c, h, w, seed=5, coverage=1.0)
    amb = _ambiguous(scene, h, w, k, (True, False))
    assert amb.float().mean().item() < 0.005
    (out, _), (ref, _) = _render_both(scene, h, w, k, (True, False))
    torch.testing.assert_close(out[~amb], ref[~amb], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("wrap", WRAPS, ids=lambda w: f"wrap{int(w[0])}{int(w[1])}")
def test_degenerate_zero_inverse_scale(wrap):
    # w = 0 along one axis: an infinite line-shaped Gaussian (extent clamps to the image / period).
    h, w, c, k = 40, 45, 3, 4
    scene = random_gaussians(20, c, h, w, seed=3)
    scene["inv_scales"][:6, 0] = 0.0
    scene["inv_scales"][6:9, 1] = 0.0
    scene["rotations"][:3] = 0.0  # axis-aligned lines too
    amb = _ambiguous(scene, h, w, k, wrap)
    _assert_rare(amb)
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(2)) * (~amb)[..., None]
    (out, grads), (ref, ref_grads) = _render_both(scene, h, w, k, wrap, grad_out)
    torch.testing.assert_close(out[~amb], ref[~amb], rtol=2e-6, atol=2e-6)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item() + 1e-5)


def test_wrap_covers_the_opposite_edge():
    # A small Gaussian centred on the left edge shows on the right edge only when x wraps.
    h, w = 8, 32
    scene = {
        "means": torch.tensor([[0.2, 4.0]]),
        "inv_scales": torch.tensor([[0.5, 0.5]]),
        "rotations": torch.zeros(1),
        "values": torch.ones(1, 1),
        "background": torch.zeros(1),
    }
    args = [scene[n] for n in PARAM_NAMES] + [scene["background"], h, w, 1]
    clamp = native.render(*args, (False, False))
    wrap = native.render(*args, (True, False))
    assert clamp[4, w - 1, 0].item() == 0.0
    assert wrap[4, w - 1, 0].item() == 1.0
    assert torch.equal(wrap[:, :4], clamp[:, :4])


def test_no_gaussians_is_all_background():
    h, w, c = 19, 23, 5
    bg = torch.linspace(-1, 1, c)
    empty = [torch.zeros(0, 2), torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, c)]
    params = [t.requires_grad_() for t in empty]
    out = native.render(*params, bg, h, w, 4, (True, False))
    assert torch.equal(out, bg.expand(h, w, c))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.numel() == 0 for p in params)


def test_inference_path_matches_autograd_path():
    h, w, c, k = 33, 40, 3, 4
    scene = random_gaussians(50, c, h, w, seed=11)
    args = [scene[n] for n in PARAM_NAMES] + [scene["background"], h, w, k, (True, True)]
    fast = native.render_inference(*args)
    params = [t.clone().requires_grad_() for t in args[:4]]
    slow = native.render(*params, *args[4:])
    assert slow.requires_grad and not fast.requires_grad
    assert torch.equal(fast, slow.detach())


def test_thread_count_never_changes_a_bit():
    h, w, c, k = 150, 130, 9, 10
    scene = random_gaussians(300, c, h, w, seed=7, coverage=2.5)
    grad_out = torch.randn(h, w, c, generator=torch.Generator().manual_seed(3))
    runs = []
    for threads in (1, 2, 4):
        params = [scene[n].clone().requires_grad_() for n in PARAM_NAMES]
        out = native.render(*params, scene["background"], h, w, k, (True, False), threads=threads)
        out.backward(grad_out)
        runs.append([out.detach()] + [p.grad for p in params])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)


# ---- errors -----------------------------------------------------------------


def _arrays(n=3, c=2):
    scene = random_gaussians(n, c, 8, 8, seed=0)
    return [scene[name].numpy().copy() for name in PARAM_NAMES + ("background",)]


def _forward(arrays, h=8, w=8, k=2):
    return native._native.forward_cpu(*arrays, h, w, k, False, False, 1, False)


@pytest.mark.parametrize(
    "index, value, message",
    [
        (0, float("nan"), r"means\[1, 0\] is NaN"),
        (1, float("inf"), r"inv_scales\[1, 0\] is infinite"),
        (2, float("nan"), r"rotations\[1\] is NaN"),
        (3, float("-inf"), r"values\[1, 0\] is infinite"),
        (4, float("nan"), r"background\[1\] is NaN"),
    ],
)
def test_non_finite_parameters_are_named(index, value, message):
    arrays = _arrays()
    arrays[index].reshape(-1)[arrays[index].shape[-1] if arrays[index].ndim == 2 else 1] = value
    with pytest.raises(ValueError, match=message):
        _forward(arrays)


@pytest.mark.parametrize(
    "h, w, k, message",
    [
        (0, 8, 2, "image size"),
        (8, -1, 2, "image size"),
        (8, 8, 0, r"K must be in 1\.\.16, got 0"),
        (8, 8, 17, r"K must be in 1\.\.16, got 17"),
    ],
)
def test_bad_settings_raise(h, w, k, message):
    with pytest.raises(ValueError, match=message):
        _forward(_arrays(), h, w, k)


def test_bad_channel_counts_raise():
    with pytest.raises(ValueError, match=r"channel count C must be in 1\.\.32, got 33"):
        _forward(_arrays(c=33))
    with pytest.raises(ValueError, match=r"channel count C must be in 1\.\.32, got 0"):
        _forward(_arrays(c=1)[:3] + [np.zeros((3, 0), np.float32), np.zeros(0, np.float32)])


def test_bad_arrays_are_named_and_never_copied():
    arrays = _arrays()
    bad = list(arrays)
    bad[0] = arrays[0].astype(np.float64)
    with pytest.raises(TypeError, match="means must be a float32 array"):
        _forward(bad)
    bad = list(arrays)
    bad[1] = arrays[1][:2]
    with pytest.raises(ValueError, match=r"inv_scales must have shape \(3, 2\), got \(2, 2\)"):
        _forward(bad)
    bad = list(arrays)
    bad[4] = arrays[4][:1]
    with pytest.raises(ValueError, match=r"background must have shape \(2,\)"):
        _forward(bad)
    bad = list(arrays)
    bad[3] = np.asfortranarray(arrays[3])
    with pytest.raises(ValueError, match="values must be C-contiguous"):
        _forward(bad)
    bad = list(arrays)
    bad[2] = np.zeros((6,), np.float32)[::2]
    with pytest.raises(ValueError, match="rotations must be C-contiguous"):
        _forward(bad)


def test_torch_entry_point_checks_dtype_and_device():
    scene = random_gaussians(3, 2, 8, 8)
    args = [scene[n] for n in PARAM_NAMES] + [scene["background"], 8, 8, 2]
    args[3] = args[3].double()
    with pytest.raises(TypeError, match="values must be float32"):
        native.render(*args)
    with pytest.raises(ValueError, match="not available"):
        native.render(
            *[scene[n] for n in PARAM_NAMES],
            scene["background"],
            8,
            8,
            2,
            device="cuda" if not native.cuda_runnable() else "tpu",
        )


def test_backward_rejects_a_state_from_another_call():
    arrays = _arrays()
    out, state = native._native.forward_cpu(*arrays, 8, 8, 2, False, False, 1, True)
    other = _arrays(n=4)
    with pytest.raises(ValueError, match="forward state was made for different"):
        native._native.backward_cpu(state, *other, out, out, 1)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(8, 8, 2\)"):
        native._native.backward_cpu(state, *arrays, out, out[:4], 1)


# ---- benchmark plumbing (not timed) -------------------------------------------


def test_bench_gaussian_count_follows_the_budget():
    from texgs import bench

    # 0.06 bppc x 1024^2 texels x 9 channels / 8 bits, at 2 * (5 + 9) bytes per Gaussian.
    assert bench.gaussian_count(0.06, 1024, 1024, 9) == int(0.06 * 1024 * 1024 * 9 / 8 // 28)
    scene = bench.synthetic_gaussians(64, 48, 3, 200, seed=1)
    assert scene["means"].shape == (200, 2) and scene["values"].shape == (200, 3)
    inside = ((scene["means"] >= 0) & (scene["means"] <= torch.tensor([48.0, 64.0]))).all(1)
    assert inside.all()
    sigma = 1 / scene["inv_scales"]
    coverage = (torch.pi * sigma[:, 0] * sigma[:, 1]).sum().item() / (64 * 48)
    assert 1.5 < coverage < 4.0


def test_bench_command_prints_json(capsys):
    import json

    from texgs.cli import main

    assert main(["bench", "render", "--sizes", "32", "--repeat", "1", "--backends", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    (row,) = result["results"]
    assert row["backend"] == "cpu" and row["size"] == 32 and row["forward_ms"] > 0
    assert main(["bench", "render", "--sizes", "0"]) == 2


@pytest.mark.parametrize("wrap", WRAPS, ids=lambda w: f"wrap{int(w[0])}{int(w[1])}")
def test_extreme_geometry_never_drops_a_candidate(wrap):
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
    _assert_rare(amb)
    (out, _), (ref, _) = _render_both(scene, h, w, k, wrap)
    torch.testing.assert_close(out[~amb], ref[~amb], rtol=2e-6, atol=2e-6)
