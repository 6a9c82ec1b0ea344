"""Where a fit computes: the torch device its renderer backend needs, random
draws that do not depend on that device, and the determinism settings of a
CUDA fit (docs/cuda.md "Fitting on a GPU").

Every tensor of a fit lives on `fit_device(backend)`; only the packer moves
data to the host, where the bytes are written.
"""

from __future__ import annotations

import contextlib
import os
import threading

import torch

# cuBLAS reads this when torch first uses it, and torch's deterministic mode
# warns on every cuBLAS call without it; set here, at import, so it is in place
# before any matrix product of the process (a user's own value stays).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def fit_device(backend: str) -> torch.device:
    """The device a fit with this (resolved) renderer backend keeps its tensors on."""
    return torch.device("cuda") if backend == "cuda" else torch.device("cpu")


def multinomial(prob: torch.Tensor, n: int, replacement: bool, gen: torch.Generator) -> torch.Tensor:
    """torch.multinomial drawn from the CPU generator `gen` on a CPU copy of
    prob, returned on prob's device: the same random stream on every device
    (a CUDA generator would draw other numbers)."""
    out = torch.multinomial(prob.cpu(), n, replacement=replacement, generator=gen)
    return out.to(prob.device)


def randperm(n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """torch.randperm(n) from the CPU generator `gen`, on `device`."""
    return torch.randperm(n, generator=gen).to(device)


# torch's deterministic mode is process-wide; fits may run in several threads
# (texgs bake --jobs), so it stays on while any CUDA fit runs.
_lock = threading.Lock()
_active = 0
_saved: tuple[bool, bool] | None = None


@contextlib.contextmanager
def deterministic(device: torch.device):
    """On CUDA: run torch with deterministic algorithms (warning, not failing,
    on an op that has none; cuBLAS with the fixed workspace set above), so a CUDA fit
    gives the same bytes on every run. A CPU fit is left as it is (its ops
    are already deterministic at one torch thread, api.torch_threads)."""
    global _active, _saved
    if device.type != "cuda":
        yield
        return
    with _lock:
        if _active == 0:
            _saved = (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            )
            if not _saved[0]:  # a caller's own (stricter) setting stays
                torch.use_deterministic_algorithms(True, warn_only=True)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                torch.use_deterministic_algorithms(_saved[0], warn_only=_saved[1])
