"""Public rendering entry point: picks a backend and renders the image function
of a texgs.gaussians.Gaussians (render_gaussians) or of its tensors (render).

Every backend computes the function of docs/IMAGE_FUNCTION.md:
- "reference": texgs.render_ref (plain PyTorch, autograd; slow, the truth),
- "cpu": the native C++ renderer (texgs.native),
- "cuda": the native CUDA renderer, for tensors on a CUDA device.
"""

from __future__ import annotations

import torch

from . import render_ref
from .gaussians import Gaussians

BACKENDS = ("reference", "cpu", "cuda")


def available_backends() -> dict[str, dict]:
    """{backend: {"built": bool, "runnable": bool, "detail": str}}."""
    from . import native

    return {
        "reference": {"built": True, "runnable": True, "detail": f"PyTorch {torch.__version__}"},
        **native.backend_status(),
    }


def resolve_backend(backend: str, device: torch.device | None = None, *, must_run: bool = False) -> str:
    """The backend that renders: `backend` itself (must_run: ConfigError unless it
    can run here), or for "auto" the best one that runs here: for tensors on
    `device`, the native renderer of that device when it is built; with no
    device (choosing where a fit or a bake runs), cuda when it can run
    (native.cuda_runnable), else cpu when its kernels run; else reference."""
    from . import native
    from .errors import ConfigError

    if backend not in ("auto",) + BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose auto, {', '.join(BACKENDS)}")
    if backend != "auto":
        st = available_backends()[backend] if must_run else {"runnable": True}
        if not st["runnable"]:
            raise ConfigError(f"renderer backend {backend!r} cannot run here ({st.get('detail') or 'not built'})")
        return backend
    if device is not None:
        if device.type == "cuda" and native.cuda_runnable():
            return "cuda"
        if device.type == "cpu" and native.cpu_built():
            return "cpu"
        return "reference"
    if native.cuda_runnable():
        return "cuda"
    if native.cpu_built():
        try:  # a build can import yet lack the kernels; fall back rather than fail a fit
            one = torch.ones(1, 2)
            render(one, one, torch.zeros(1), torch.zeros(1, 1), torch.zeros(1), 2, 2, 1, backend="cpu", threads=1)
            return "cpu"
        except NotImplementedError:
            pass
    return "reference"


def render(
    means,
    inv_scales,
    rotations,
    values,
    background,
    height,
    width,
    k=10,
    wrap=(False, False),
    backend="auto",
    threads=0,
):
    """Render [H, W, C] at texel centres; differentiable in the Gaussian parameters.

    means [N, 2], inv_scales [N, 2], rotations [N], values [N, C], background [C]
    (float32 tensors on one device); wrap = (wrap_x, wrap_y); threads only
    affects speed (0 = all cores), never the result.
    """
    from . import native

    wrap = native.check_call((means, inv_scales, rotations, values, background), height, width, k, wrap, threads)
    chosen = resolve_backend(backend, means.device)
    if chosen == "reference":
        return render_ref.render(means, inv_scales, rotations, values, background, height, width, k, wrap)
    return native.render(
        means, inv_scales, rotations, values, background, height, width, k, wrap, backend=chosen, threads=threads
    )


def render_gaussians(
    g: Gaussians, height: int, width: int, k: int = 10, wrap=(False, False), backend: str = "auto", threads: int = 0
) -> torch.Tensor:
    """render() of a Gaussians whose arrays are float32 tensors on one device
    (levels are not looked at: select the levels to draw first)."""
    return render(
        g.means,
        g.inv_scales,
        g.rotations,
        g.values,
        g.background,
        height,
        width,
        k=k,
        wrap=wrap,
        backend=backend,
        threads=threads,
    )
