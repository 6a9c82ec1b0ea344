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


def resolve_backend(backend: str, device: torch.device) -> str:
    from . import native

    if backend not in ("auto",) + BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose auto, {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if device.type == "cuda" and native.cuda_runnable():
        return "cuda"
    if device.type == "cpu" and native.cpu_built():
        return "cpu"
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
        means, inv_scales, rotations, values, background, height, width, k, wrap, device=chosen, threads=threads
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
