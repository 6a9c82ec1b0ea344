"""Where fit tasks run: in this process, in a local process pool (--jobs N), or as
Ray tasks on a cluster (--executor ray). Each executor hands every finished
task's result to `on_result` in the driver, which commits it; none of them
writes outputs itself. Scheduling, placement and retries are the pool's or
Ray's; this module only submits, collects and cancels.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time

from ..errors import ConfigError
from .task import init_worker, read_blobs, run_task

RAY_INSTALL_HINT = 'pip install "texgs[ray]" (or: pip install ray)'


def timed_task(task) -> dict:
    t0 = time.monotonic()
    result = run_task(task)
    result["seconds"] = round(time.monotonic() - t0, 3)
    return result


def run(opts, tasks: list, items: list, jobs: int, on_result) -> None:
    """Run tasks[i] and call on_result(items[i], result) in the driver as each ends."""
    if opts.executor == "ray":
        run_ray(opts, tasks, items, on_result)
    elif jobs == 1:
        for task, item in zip(tasks, items):
            on_result(item, timed_task(task))
    else:
        run_pool(tasks, items, jobs, on_result)


def run_pool(tasks: list, items: list, jobs: int, on_result) -> None:
    """A spawn process pool whose workers die with this process (task.init_worker).
    On an interrupt or an output error the queued tasks are cancelled and the
    running ones terminated: nothing they computed is committed."""
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=init_worker, initargs=(os.getpid(),))
    finished = False
    try:
        futures = {pool.submit(timed_task, t): item for t, item in zip(tasks, items)}
        for fut in cf.as_completed(futures):
            try:
                result = fut.result()
            except cf.process.BrokenProcessPool as e:  # a worker was killed (OOM killer, signal)
                result = {"message": f"worker process died: {e}"}
            on_result(futures[fut], result)
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop_pool(pool)


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
    for p in processes:
        p.join(10)


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: {RAY_INSTALL_HINT}") from None
    return ray


def run_ray(opts, tasks: list, items: list, on_result) -> None:
    """One Ray task per material. Resources are declared per task (task_cpus
    CPUs, one GPU with the cuda backend) so Ray places them; a task whose worker
    dies is retried by Ray up to opts.retries times, then reported as failed
    while the others go on. Input files travel with the task, so workers need
    texgs installed but not the input or output folders."""
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        try:
            if opts.ray_address or os.environ.get("RAY_ADDRESS"):  # connect to a running cluster
                ray.init(address=opts.ray_address, log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
        except Exception as e:  # ConnectionError, RuntimeError, ValueError: Ray's own messages
            where = opts.ray_address or "a local instance"
            raise ConfigError(
                f"--executor ray: could not start or reach {where}: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            ) from None
        started = True
    gpus = 1 if any(t.backend == "cuda" for t in tasks) else 0
    remote = ray.remote(timed_task).options(
        num_cpus=opts.task_cpus,
        num_gpus=gpus,
        max_retries=opts.retries,
        retry_exceptions=False,
        name="texgs_bake_material",
    )
    refs = {}
    try:
        for task, item in zip(tasks, items):
            refs[remote.remote(read_blobs(task))] = item
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                item = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as e:
                    first = (str(e).strip().splitlines() or [""])[0]
                    result = {
                        "message": f"Ray task failed after {opts.retries + 1} attempt(s): {type(e).__name__}: {first}"
                    }
                on_result(item, result)
    finally:
        for ref in refs:  # interrupted or stopped: cancel what has not finished
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        if started:
            ray.shutdown()
