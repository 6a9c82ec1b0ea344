"""Bridge to the compiled extension texgs._native (placeholder until the native
renderer lands): reports which backends were built."""

from __future__ import annotations

try:
    from . import _native  # type: ignore[attr-defined]
except ImportError as e:  # built without the extension (should not happen with pip install)
    _native = None
    _IMPORT_ERROR = str(e)
else:
    _IMPORT_ERROR = ""


def cpu_built() -> bool:
    return _native is not None


def cuda_runnable() -> bool:
    return False


def backend_status() -> dict[str, dict]:
    return {
        "cpu": {"built": cpu_built(), "runnable": cpu_built(), "detail": _IMPORT_ERROR},
        "cuda": {"built": False, "runnable": False, "detail": "not built"},
    }


def render(*args, **kwargs):
    raise NotImplementedError("native renderer not built yet")
