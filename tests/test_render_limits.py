"""Native renderer limits: requests over the memory budget are refused before
allocating, with their size; arguments of the wrong type raise TypeError;
parameters beyond MAX_MAGNITUDE are refused instead of blending to inf."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from conftest import PARAM_NAMES, random_gaussians

from texgs import constants, native, render

pytestmark = pytest.mark.skipif(not native.cpu_built(), reason="native CPU renderer not built")

BUDGET_GIB = f"{constants.MAX_RENDER_BYTES / 2**30:.1f} GiB"


def _scene(n=6, c=2, h=16, w=16):
    scene = random_gaussians(n, c, h, w, seed=3)
    return [scene[name] for name in PARAM_NAMES] + [scene["background"]]


def test_an_output_over_the_budget_is_refused_with_its_size():
    # 65536^2 x 9 float32 is 144 GiB: it used to surface as MemoryError: std::bad_alloc.
    params = _scene(c=9)
    for call in (
        lambda: native.render(*params, 65536, 65536, 4),
        lambda: render.render(*params, 65536, 65536, 4, backend="cpu"),
        lambda: native._native.forward_cpu(*(p.numpy() for p in params), 65536, 65536, 4, False, False, 1, False),
    ):
        with pytest.raises(ValueError, match=r"rendering 65536x65536x9 would allocate 144\.\d GiB") as e:
            call()
        assert BUDGET_GIB in str(e.value)


def test_tile_lists_over_the_budget_are_refused_before_they_are_allocated():
    # 1 GiB of output, and 160 Gaussians covering all 2^20 tiles of a 16384^2 image:
    # 1.7e8 tile-list entries, under the old 2^31 bound, but with the state backward
    # needs (64 bytes an entry at C = 1) over the budget.
    n, side = 160, 16384
    means = np.full((n, 2), side / 2, np.float32)
    inv = np.full((n, 2), 1e-4, np.float32)  # 3 sigma = 30,000 texels
    arrays = [means, inv, np.zeros(n, np.float32), np.ones((n, 1), np.float32), np.zeros(1, np.float32)]
    with pytest.raises(ValueError, match=rf"tile lists hold {n * 1024 * 1024} entries would allocate") as e:
        native._native.forward_cpu(*arrays, side, side, 4, False, False, 1, True)
    assert BUDGET_GIB in str(e.value)


def test_requests_inside_the_budget_still_render():
    params = _scene()
    out = native.render(*params, 16, 16, 4)
    assert out.shape == (16, 16, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("entry", [native.render, render.render])
def test_non_tensor_parameters_raise_type_error(entry):
    params = _scene()
    for i, name in enumerate(PARAM_NAMES + ("background",)):
        bad = list(params)
        bad[i] = bad[i].tolist()
        with pytest.raises(TypeError, match=f"{name} must be a torch.Tensor, got list"):
            entry(*bad, 16, 16, 4)


@pytest.mark.parametrize("wrap", [(), (True,), (True, False, True), True, "xy", "x", (1, 0), ("x", "y"), None])
@pytest.mark.parametrize("entry", [native.render, native.render_inference, render.render])
def test_malformed_wrap_raises_type_error(entry, wrap):
    with pytest.raises(TypeError, match="wrap must be a pair of booleans"):
        entry(*_scene(), 16, 16, 4, wrap=wrap)


@pytest.mark.parametrize(
    "field, value", [("height", 16.5), ("height", 16.0), ("width", "16"), ("k", 4.0), ("k", True), ("threads", 1.5)]
)
def test_non_integer_sizes_raise_type_error(field, value):
    args = {"height": 16, "width": 16, "k": 4, "threads": 0}
    args[field] = value
    with pytest.raises(TypeError, match=f"{field} must be an integer"):
        native.render(*_scene(), args["height"], args["width"], args["k"], threads=args["threads"])


def test_numpy_integers_and_booleans_are_accepted():
    out = native.render(*_scene(), np.int64(16), np.int32(16), np.int64(4), wrap=(np.bool_(True), False))
    assert out.shape == (16, 16, 2)


@pytest.mark.parametrize(
    "index, where",
    [(0, "means[1, 0]"), (1, "inv_scales[1, 0]"), (2, "rotations[1]"), (3, "values[1, 0]"), (4, "background[1]")],
)
@pytest.mark.parametrize("value", [3e38, -3.4e38, 2.0**41])
def test_parameters_beyond_the_magnitude_limit_are_refused(index, where, value):
    # values of 3e38 used to blend to inf without a word.
    params = [p.clone() for p in _scene()]
    params[index].reshape(-1)[params[index].shape[-1] if params[index].dim() == 2 else 1] = value
    with pytest.raises(ValueError, match=re.escape(f"{where} is {np.float32(value):g}") + ".*2\\^40"):
        native.render(*params, 16, 16, 4)


def test_parameters_at_the_magnitude_limit_render_and_differentiate_finite():
    big = constants.MAX_MAGNITUDE
    means, inv, rot, values, background = _scene(n=40, c=3)
    values = (values * 2 - 1) * big  # +-2^40, 16 of them blended per texel
    values[0] = big
    background = torch.full((3,), -big)
    params = [t.clone().requires_grad_(i < 4) for i, t in enumerate((means, inv, rot, values, background))]
    out = native.render(*params, 16, 16, 16, wrap=(True, True))
    assert torch.isfinite(out).all() and out.abs().max() <= big * (1 + 1e-6)
    out.sum().backward()
    for p in params[:4]:
        assert torch.isfinite(p.grad).all()
    rotated = native.render(means, inv, torch.full_like(rot, big), values, background, 16, 16, 4)
    assert torch.isfinite(rotated).all()


def test_the_cuda_output_budget_is_checked_before_allocating():
    # The CUDA path allocates its output with torch: the same budget, checked in Python.
    with pytest.raises(ValueError, match=re.escape("rendering 65536x65536x9 would allocate 144.0 GiB")):
        native.check_output_budget(65536, 65536, 9)
    native.check_output_budget(4096, 4096, 9)


@pytest.mark.skipif(not native.cuda_runnable(), reason="no CUDA device")
def test_cuda_refuses_the_same_requests():
    params = [p.cuda() for p in _scene(c=9)]
    with pytest.raises(ValueError, match="144.0 GiB"):
        native.render(*params, 65536, 65536, 4, backend="cuda")
    params[3][1, 0] = 3e38
    with pytest.raises(ValueError, match=re.escape("values[1, 0] is 3e+38")):
        native.render(*params, 16, 16, 4, backend="cuda")
    with pytest.raises(TypeError, match="wrap must be a pair"):
        native.render(*params, 16, 16, 4, wrap="xy", backend="cuda")
