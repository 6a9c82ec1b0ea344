"""The part of a material's bake that runs on a worker: load, fit, and render its
output files into memory. Workers never write into the output folder: they
return the files' bytes and the driver, which holds the output lock, commits them
(see runner.py). A worker that outlives its driver therefore cannot change the
outputs, and a task can run on any machine of a cluster.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import shutil
import signal
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TexgsError
from . import outputs
from .pipeline import Pipeline

if TYPE_CHECKING:  # ingest is imported lazily: a worker loads it when it runs a task
    from ..ingest import MaterialSource

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class FitTask:
    """Everything a worker needs for one material (picklable)."""

    source: MaterialSource
    pipeline: Pipeline
    backend: str  # resolved renderer backend (runner.backend_for), in the build key
    build_key: str
    input_digests: list  # (input file name, sha256), as the build key saw them
    resample: bool
    threads: int
    progress: str = "off"
    blobs: dict | None = None  # input bytes by path, for workers without the input folder


def run_task(task: FitTask) -> dict:
    """{"files": {relative path: bytes}, "manifest": dict} or, for a material that
    cannot be baked, {"message": ..., ["traceback": ...]}. Never raises for the
    material's own problems, so a failure is not retried (it would fail again)."""
    from .. import ingest

    scratch = Path(tempfile.mkdtemp(prefix="texgs-task-"))
    warming = None
    try:
        src = task.source
        if task.blobs is not None:
            src = _relocate(src, task.blobs, scratch / "inputs")
        outputs.check_memory(src, task.pipeline, task.backend, task.resample)  # from the headers
        material = ingest.load(src, resample=task.resample)
        if task.pipeline.outputs.previews:
            from ..preview import warm_up

            warming = warm_up(material.pixels.shape[2])  # the lit preview's kernel compiles while the fit runs
        result = outputs.fit_material(material, task.pipeline, task.backend, task.threads, task.progress)
        folder = scratch / "out"
        folder.mkdir()
        manifest = outputs.write(folder, material, result, task.pipeline, task.build_key, task.input_digests)
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return {"files": files, "manifest": manifest}
    except TexgsError as e:
        return {"message": str(e)}
    except Exception as e:  # a bug, not the user's input: keep the batch going, keep the trace
        return {
            "message": f"internal error baking {task.source.key}: {type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
        }
    finally:
        if warming is not None:  # never outlives its task (nor the process, inside the device driver)
            warming.join()
        shutil.rmtree(scratch, ignore_errors=True)


def _relocate(src, blobs: dict, folder: Path):
    """The source with its image files written under `folder` from the shipped bytes
    (names kept: the manifest and the channel names use them)."""
    files = []
    for i, f in enumerate(src.files):
        d = folder / str(i)
        d.mkdir(parents=True)
        p = d / Path(f.path).name
        p.write_bytes(blobs[str(f.path)])
        files.append(dataclasses.replace(f, path=p))
    return dataclasses.replace(src, files=tuple(files))


def read_blobs(task: FitTask) -> FitTask:
    """The task with its input files' bytes attached (for remote workers)."""
    return dataclasses.replace(task, blobs={str(f.path): Path(f.path).read_bytes() for f in task.source.files})


def init_worker(parent_pid: int) -> None:
    """Process-pool initializer: die with the parent, leave interrupts to it.

    PR_SET_PDEATHSIG makes the kernel SIGKILL this worker when the parent dies
    (even by kill -9); the pid check covers a parent that died before the prctl.
    (The signal follows the thread that started the worker: the pool starts
    them from the bake's main thread, which lives as long as the bake.)
    SIGINT is ignored: a Ctrl-C reaches the whole process group, and the parent
    decides what to cancel (it terminates the workers itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the driver-only commit still keeps outputs safe
        pass
    if os.getppid() != parent_pid:
        os._exit(1)
