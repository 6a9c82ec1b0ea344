"""Bridge to the compiled extension ``texgs._native``: the native renderers as
torch operations, and which backends were built.

``render`` is a ``torch.autograd.Function`` over the C++ forward/backward
(native/include/texgs/render.h): torch tensors in, torch tensors out,
gradients for means, inv_scales, rotations and values (background gets none).
When no gradient is needed it takes the inference path, which keeps no state.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from . import constants

try:
    from . import _native  # type: ignore[attr-defined]
except ImportError as e:  # built without the extension (should not happen with pip install)
    _native = None
    _IMPORT_ERROR = str(e)
else:
    _IMPORT_ERROR = ""


def _check_constants() -> None:
    """The C++ core keeps its own copies of the limits; they must match ours."""
    names = (
        "MAX_K",
        "MAX_CHANNELS",
        "SIGMA_CUTOFF",
        "Q_CUTOFF",
        "TILE_SIZE",
        "MAX_SIDE",
        "MAX_RENDER_BYTES",
        "MAX_MAGNITUDE",
    )
    for name in names:
        ours, theirs = getattr(constants, name), getattr(_native, name)
        if ours != theirs:
            raise ImportError(
                f"texgs._native was built with {name}={theirs} but "
                f"texgs/constants.py says {ours}; rebuild the extension"
            )


if _native is not None:
    _check_constants()


def cpu_built() -> bool:
    return _native is not None


def cuda_built() -> bool:
    return _native is not None and bool(getattr(_native, "CUDA_BUILT", False))


def cuda_runnable() -> bool:
    return cuda_built() and torch.cuda.is_available() and _native.cuda_device_count() > 0


def backend_status() -> dict[str, dict]:
    if cuda_runnable():
        cuda_detail = torch.cuda.get_device_name(0)
    elif cuda_built():
        cuda_detail = "built, but no CUDA device is available"
    else:
        cuda_detail = ""  # "not built" says it all
    return {
        "cpu": {"built": cpu_built(), "runnable": cpu_built(), "detail": _IMPORT_ERROR},
        "cuda": {"built": cuda_built(), "runnable": cuda_runnable(), "detail": cuda_detail},
    }


def _require_cpu_backend(backend: str) -> None:
    if backend != "cpu":
        cuda = backend_status()["cuda"]
        raise ValueError(
            f"native backend {backend!r} is not available here (CUDA renderer: "
            f"{cuda['detail'] or ('built' if cuda['built'] else 'not built')})"
        )
    if _native is None:
        raise RuntimeError(f"the native CPU renderer is not built: {_IMPORT_ERROR}")


def _numpy(t: torch.Tensor, name: str):
    """A float32 CPU tensor as a C-contiguous numpy view (copied only if strided)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype != torch.float32:
        raise TypeError(f"{name} must be float32, got {t.dtype}")
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on {t.device}; the native CPU renderer needs CPU tensors")
    return t.detach().contiguous().numpy()


_PARAM_NAMES = ("means", "inv_scales", "rotations", "values", "background")


def check_call(params, height, width, k, wrap, threads=0) -> tuple:
    """TypeError for arguments of the wrong type, whatever the backend: the five
    parameters must be torch tensors, height, width, k and threads integers
    (not bool, not float), wrap a pair of booleans. Returns wrap as a tuple."""
    for t, name in zip(params, _PARAM_NAMES):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    for name, v in (("height", height), ("width", width), ("k", k), ("threads", threads)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {v!r}")
    if not isinstance(wrap, (tuple, list)) or len(wrap) != 2 or not all(isinstance(a, (bool, np.bool_)) for a in wrap):
        raise TypeError(f"wrap must be a pair of booleans (wrap_x, wrap_y), got {wrap!r}")
    return (bool(wrap[0]), bool(wrap[1]))


def check_output_budget(height: int, width: int, channels: int) -> None:
    """ValueError, before allocating, when the [H, W, C] float32 output alone exceeds
    MAX_RENDER_BYTES (the CPU renderer also counts its other buffers, in C++)."""
    need = max(int(height), 0) * max(int(width), 0) * int(channels) * 4
    if need > constants.MAX_RENDER_BYTES:
        raise ValueError(
            f"rendering {height}x{width}x{channels} would allocate {need / 2**30:.1f} GiB "
            f"for its output, over the renderer's budget of "
            f"{constants.MAX_RENDER_BYTES / 2**30:.1f} GiB"
        )


def _forward(params, height, width, k, wrap, threads, keep_state):
    arrays = [_numpy(t, name) for t, name in zip(params, _PARAM_NAMES)]
    out, state = _native.forward_cpu(
        *arrays, int(height), int(width), int(k), bool(wrap[0]), bool(wrap[1]), int(threads), keep_state
    )
    return torch.from_numpy(out), state


class _RenderCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, inv_scales, rotations, values, background, height, width, k, wrap, threads):
        params = (means, inv_scales, rotations, values, background)
        out, state = _forward(params, height, width, k, wrap, threads, keep_state=True)
        ctx.state = state  # opaque C++ ForwardState: tile lists + per-texel selections
        ctx.threads = threads
        ctx.save_for_backward(*params, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        *params, out = ctx.saved_tensors
        arrays = [_numpy(t, name) for t, name in zip(params, _PARAM_NAMES)]
        grads = _native.backward_cpu(
            ctx.state, *arrays, _numpy(out, "out"), _numpy(grad_out, "grad_out"), int(ctx.threads)
        )
        d = [torch.from_numpy(g) for g in grads]
        return (d[0], d[1], d[2], d[3]) + (None,) * 6


def render(
    means, inv_scales, rotations, values, background, height, width, k, wrap=(False, False), backend="cpu", threads=0
) -> torch.Tensor:
    """The image function at texel centres, [H, W, C], on the native renderer.

    means [N, 2] texels (x, y); inv_scales [N, 2] 1/texels; rotations [N] radians;
    values [N, C]; background [C]: float32 CPU tensors. wrap = (wrap_x, wrap_y).
    threads: CPU workers (0 = all); never changes the result, bit for bit.
    Differentiable in the four Gaussian tensors; without grad it stores nothing.
    """
    params = (means, inv_scales, rotations, values, background)
    wrap = check_call(params, height, width, k, wrap, threads)
    if backend == "cuda":
        return _render_cuda(means, inv_scales, rotations, values, background, height, width, k, wrap)
    _require_cpu_backend(backend)
    if torch.is_grad_enabled() and any(t.requires_grad for t in params[:4]):
        return _RenderCPU.apply(*params, height, width, k, tuple(wrap), threads)
    return render_inference(*params, height, width, k, wrap, backend=backend, threads=threads)


class _RenderL2CPU(torch.autograd.Function):
    """The render and a weighted L2 term of it in one native call each way
    (native/include/texgs/render.h: L2Term): forward also sums each channel's
    squared error of lo + span out against target; backward forms dL/dout per
    tile from out and target instead of reading a whole-image gradient, adding
    the gradient of out that other terms send."""

    @staticmethod
    def forward(ctx, means, inv_scales, rotations, values, background, height, width, k, wrap, threads, l2):
        params = (means, inv_scales, rotations, values, background)
        out, state, sq = _forward_l2(params, height, width, k, wrap, threads, True, l2)
        ctx.state, ctx.threads, ctx.l2 = state, threads, l2
        ctx.save_for_backward(*params, out)
        ctx.mark_non_differentiable(sq)
        ctx.set_materialize_grads(False)
        return out, (sq * l2.channel_scale).sum(), sq

    @staticmethod
    def backward(ctx, grad_out, grad_loss, grad_sq):
        *params, out = ctx.saved_tensors
        l2 = ctx.l2
        arrays = [_numpy(t, name) for t, name in zip(params, _PARAM_NAMES)]
        term = {}
        if grad_loss is not None:
            coef = 2.0 * l2.span * l2.channel_scale  # d loss / d out per unit of stored error
            term = dict(
                target=_numpy(l2.target, "target"),
                lo=_numpy(l2.lo, "lo"),
                span=_numpy(l2.span, "span"),
                coef=_numpy(coef, "coef"),
                loss_grad=float(grad_loss),
            )
        elif grad_out is None:
            return (None,) * 11
        grads = _native.backward_cpu(
            ctx.state,
            *arrays,
            _numpy(out, "out"),
            None if grad_out is None else _numpy(grad_out, "grad_out"),
            int(ctx.threads),
            **term,
        )
        d = [torch.from_numpy(g) for g in grads]
        return (d[0], d[1], d[2], d[3]) + (None,) * 7


class L2Term:
    """A weighted L2 data term of a render: the stored value of channel c is
    lo[c] + span[c] * out[c], compared with target [H, W, C]; channel_scale [C]
    weighs each channel's sum of squared errors in the loss. float32 CPU tensors."""

    def __init__(self, target, lo, span, channel_scale):
        self.target, self.lo, self.span, self.channel_scale = target, lo, span, channel_scale


def _forward_l2(params, height, width, k, wrap, threads, keep_state, l2: L2Term):
    arrays = [_numpy(t, name) for t, name in zip(params, _PARAM_NAMES)]
    sq = np.zeros(arrays[3].shape[1], dtype=np.float64)
    out, state = _native.forward_cpu(
        *arrays,
        int(height),
        int(width),
        int(k),
        bool(wrap[0]),
        bool(wrap[1]),
        int(threads),
        keep_state,
        target=_numpy(l2.target, "target"),
        lo=_numpy(l2.lo, "lo"),
        span=_numpy(l2.span, "span"),
        squared_error=sq,
    )
    return torch.from_numpy(out), state, torch.from_numpy(sq).to(torch.float32)


def render_l2(
    means, inv_scales, rotations, values, background, height, width, k, wrap, threads, l2: L2Term
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """render() on the native CPU renderer together with an L2 term of its
    output: (out [H, W, C], loss = sum_c channel_scale_c sq_c, sq [C] the
    per-channel sums of squared errors). out and loss are differentiable in
    the four Gaussian tensors; without grad nothing is kept for backward."""
    params = (means, inv_scales, rotations, values, background)
    wrap = check_call(params, height, width, k, wrap, threads)
    _require_cpu_backend("cpu")
    if torch.is_grad_enabled() and any(t.requires_grad for t in params[:4]):
        return _RenderL2CPU.apply(*params, height, width, k, tuple(wrap), threads, l2)
    out, _, sq = _forward_l2(params, height, width, k, wrap, threads, False, l2)
    return out, (sq * l2.channel_scale).sum(), sq


def render_inference(
    means, inv_scales, rotations, values, background, height, width, k, wrap=(False, False), backend="cpu", threads=0
) -> torch.Tensor:
    """Forward only, no autograd and no saved state: the fast path for decoding."""
    wrap = check_call((means, inv_scales, rotations, values, background), height, width, k, wrap, threads)
    if backend == "cuda":
        with torch.no_grad():
            return _render_cuda(means, inv_scales, rotations, values, background, height, width, k, wrap)
    _require_cpu_backend(backend)
    out, _ = _forward(
        (means, inv_scales, rotations, values, background), height, width, k, wrap, threads, keep_state=False
    )
    return out


# ---- CUDA -------------------------------------------------------------------
# Glue for the CUDA renderer (native/include/texgs/render_cuda.h, docs/cuda.md):
# the C++ side takes raw device pointers, so shapes, dtype, contiguity and the
# device are checked here; kernels run on torch's current stream.


def _cuda_tensor(t, name: str, shape: tuple, device: torch.device) -> torch.Tensor:
    """t detached and contiguous, after checking float32, `device` and `shape` (-1 = any)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype != torch.float32:
        raise TypeError(f"{name} must be float32, got {t.dtype}")
    if t.device != device:
        raise ValueError(f"{name} is on {t.device}; the CUDA renderer needs every tensor on {device}")
    if t.dim() != len(shape) or any(want >= 0 and got != want for got, want in zip(t.shape, shape)):
        want_str = "(" + ", ".join("any" if s < 0 else str(s) for s in shape) + (",)" if len(shape) == 1 else ")")
        raise ValueError(f"{name} must have shape {want_str}, got {tuple(t.shape)}")
    return t.detach().contiguous()


def _cuda_params(means, inv_scales, rotations, values, background):
    """The five parameter tensors, checked: all float32 on one CUDA device."""
    if not isinstance(means, torch.Tensor) or means.device.type != "cuda":
        where = means.device if isinstance(means, torch.Tensor) else type(means).__name__
        raise ValueError(f"means is on {where}; the CUDA renderer needs CUDA tensors")
    device = means.device
    values = _cuda_tensor(values, "values", (-1, -1), device)
    n, c = values.shape
    return (
        _cuda_tensor(means, "means", (n, 2), device),
        _cuda_tensor(inv_scales, "inv_scales", (n, 2), device),
        _cuda_tensor(rotations, "rotations", (n,), device),
        values,
        _cuda_tensor(background, "background", (c,), device),
    )


def _check_magnitudes(params) -> None:
    """ValueError for a finite parameter beyond MAX_MAGNITUDE (the CPU renderer checks
    in C++; the CUDA kernels flag NaN/Inf themselves). One reduction per tensor."""
    for t, name in zip(params, _PARAM_NAMES):
        big = torch.isfinite(t) & (t.abs() > constants.MAX_MAGNITUDE)
        if t.numel() and bool(big.any()):
            at = tuple(int(i) for i in torch.nonzero(big)[0])
            raise ValueError(f"{name}{list(at)} is {float(t[at]):g}; every parameter must be within +-2^40 (1.1e12)")


def _forward_cuda(params, height, width, k, wrap, keep_state):
    """(out [H, W, C] on the params' device, CudaForwardState or None)."""
    values = params[3]
    n, c = values.shape
    check_output_budget(height, width, c)
    _check_magnitudes(params)
    # Sizes < 1 reach the native check (and its message) through an empty `out`.
    out = torch.empty(max(int(height), 0), max(int(width), 0), c, device=values.device, dtype=torch.float32)
    with torch.cuda.device(values.device):
        stream = torch.cuda.current_stream(values.device).cuda_stream
        state = _native.forward_cuda(
            *(t.data_ptr() for t in params),
            n,
            c,
            int(height),
            int(width),
            int(k),
            bool(wrap[0]),
            bool(wrap[1]),
            out.data_ptr(),
            keep_state,
            stream,
        )
    return out, state


class _RenderCUDA(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, inv_scales, rotations, values, background, height, width, k, wrap):
        params = _cuda_params(means, inv_scales, rotations, values, background)
        out, state = _forward_cuda(params, height, width, k, wrap, keep_state=True)
        ctx.state = state  # opaque C++ CudaForwardState: device tile lists + selections
        ctx.save_for_backward(*params, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        *params, out = ctx.saved_tensors
        grad_out = _cuda_tensor(grad_out, "grad_out", tuple(out.shape), out.device)
        grads = [torch.empty_like(p) for p in params[:4]]
        with torch.cuda.device(out.device):
            stream = torch.cuda.current_stream(out.device).cuda_stream
            _native.backward_cuda(
                ctx.state,
                *(t.data_ptr() for t in params),
                out.data_ptr(),
                grad_out.data_ptr(),
                *(g.data_ptr() for g in grads),
                stream,
            )
        return (*grads, None, None, None, None, None)


def _require_cuda_backend() -> None:
    if not cuda_runnable():
        raise ValueError(
            f"native backend 'cuda' is not available here (CUDA renderer: {backend_status()['cuda']['detail']})"
        )


def _render_cuda(means, inv_scales, rotations, values, background, height, width, k, wrap):
    _require_cuda_backend()
    params = (means, inv_scales, rotations, values, background)
    if torch.is_grad_enabled() and any(t.requires_grad for t in params[:4]):
        return _RenderCUDA.apply(*params, height, width, k, tuple(wrap))
    out, _ = _forward_cuda(_cuda_params(*params), height, width, k, wrap, keep_state=False)
    return out
