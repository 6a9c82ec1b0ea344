"""`texgs bake`: find materials, fit each to its target, write outputs safely.

Per material, into OUT/<material key>/: the packed runtime file, manifest.json
and preview PNGs, committed with one directory rename. Per run: report.json,
junit.xml and a summary table. Exit status: 0 all good, 1 some material missed
a quality gate, 2 some material could not be baked (or an output could not be
written), 130 interrupted. The fits run in executors.py (this process, a local
pool, or Ray); this module plans, commits and reports, in the one process that
holds the output folder's lock.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import TexgsError
from ..writers import json_safe
from . import atomic, cache, shard, store
from . import report as report_mod
from .gates import check_gates
from .junit import junit_xml
from .pipeline import Pipeline
from .report import EXIT_ERROR, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK  # noqa: F401 (re-exported)
from .task import FitTask


@dataclass(frozen=True)
class BakeOptions:
    out: Path
    pipeline: Pipeline
    jobs: int = 1
    force: bool = False
    dry_run: bool = False
    resample: bool | None = None  # None: the pipeline's 'resample'
    progress: str = "auto"  # auto | bar | lines | off
    report: Path | None = None  # default OUT/report.json
    junit: Path | None = None  # default OUT/junit.xml
    shard: tuple[int, int] | None = None  # (K, N): bake the K-th of N parts (shard.py)
    cache: Path | None = None  # shared build cache folder (store.py)
    executor: str = "local"  # local (this machine, --jobs) | ray
    ray_address: str | None = None  # an existing Ray cluster; None: RAY_ADDRESS or a local instance
    task_cpus: int = 1  # CPUs a Ray task declares (and the threads it fits with)
    retries: int = 2  # Ray: attempts after a worker dies, before the material fails


def backend_for(name: str, executor: str = "local") -> str:
    """The renderer backend a bake's fits use (part of the build key). "auto" is
    resolved here, on the driver, and every task fits with the result; under Ray a
    named backend is not checked on the driver (the workers may have the GPU)."""
    from ..render import resolve_backend

    if executor == "ray" and name != "auto":
        return name
    return resolve_backend(name, must_run=True)


class _Log:
    """Plain timestamped lines in logs; a tqdm bar over materials on a terminal."""

    def __init__(self, total: int, mode: str):
        self.bar = None
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.mode = mode
        if mode == "bar" and total > 1:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="material", dynamic_ncols=True, file=sys.stderr)

    def line(self, text: str) -> None:
        if self.mode == "off":
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", file=sys.stderr, flush=True)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def bake(path: Path, opts: BakeOptions) -> tuple[int, dict]:
    """Bake every material under `path` (or the shard opts.shard of them).
    Returns (exit status, report dict); raises KeyboardInterrupt after writing the
    report of an interrupted run, OutputError when an output cannot be written."""
    from .. import ingest

    t0 = time.monotonic()
    sources = shard.select(ingest.discover(path), opts.shard)  # discover raises InputError for a bad path
    pipe = opts.pipeline
    backend = backend_for(pipe.backend, opts.executor)
    log = _Log(len(sources), opts.progress)
    where = f", shard {opts.shard[0]}/{opts.shard[1]}" if opts.shard else ""
    log.line(
        f"texgs {__version__}: {len(sources)} material(s) under {path}{where}, pipeline {pipe.source}, "
        f"backend {backend}, executor {opts.executor}"
    )
    done: dict[str, dict] = {}
    interrupted = False
    error = None
    guard = _Interrupts()
    with guard, atomic.output_lock(opts.out) if not opts.dry_run else _nullcontext():
        if not opts.dry_run:
            atomic.clean_stale(opts.out)
        build_cache = store.BuildCache(opts.cache) if opts.cache and not opts.dry_run else None
        jobs = max(1, min(opts.jobs, len(sources)))
        threads = opts.task_cpus if opts.executor == "ray" else max(1, (os.cpu_count() or 1) // jobs)

        def finish(entry: dict) -> None:
            _gate(entry, pipe)
            entry["summary"] = _one_line(entry)
            done[entry["key"]] = entry
            log.line(entry["summary"])
            log.advance()

        def on_result(item, result: dict) -> None:
            src, entry, task = item
            with guard.deferred():  # a commit and its record in the report happen together
                _commit_result(opts, build_cache, src, entry, task, result)
                finish(entry)

        note = None
        try:
            pending = []
            for src in sources:
                entry, task = plan(src, pipe, backend, opts, build_cache, threads)
                if task is None:
                    finish(entry)
                else:
                    pending.append((src, entry, task))
            if pending:
                from .executors import run

                if pipe.outputs.previews:  # the check gets a Vulkan device: about a second
                    note = threading.Thread(target=_lit_preview_note, args=(log,), daemon=True)
                    note.start()

                run(opts, [p[2] for p in pending], pending, jobs, on_result)
        except KeyboardInterrupt:
            interrupted = True
        except atomic.OutputError as e:
            error = str(e)
        finally:
            if note is not None:
                note.join()
            log.close()
        guard.hold()  # the work is over: the report below is written whatever signal comes now
        why = "the run was interrupted" if interrupted else f"the run stopped: {error}"
        results = [done.get(s.key) or _cancelled(s, why) for s in sources]  # discovery order
        rep = report_mod.build(
            path,
            opts.out,
            pipe,
            backend,
            results,
            time.monotonic() - t0,
            dry_run=opts.dry_run,
            interrupted=interrupted,
            shard=opts.shard,
            executor=opts.executor,
            cache=str(opts.cache) if opts.cache else None,
            error=error,
        )
        if not opts.dry_run:
            try:
                atomic.write_bytes_atomic(
                    opts.report or opts.out / "report.json", json.dumps(json_safe(rep), indent=2).encode()
                )
                atomic.write_bytes_atomic(
                    opts.junit or opts.out / "junit.xml", junit_xml(results, seconds=rep["seconds"])
                )
            except atomic.OutputError:
                if error is None:
                    raise
    if error is not None:
        raise atomic.OutputError(error)
    if interrupted:
        raise KeyboardInterrupt
    return rep["exit_status"], rep


def _lit_preview_note(log: _Log) -> None:
    """One line per run when lit previews cannot be rendered (no Vulkan device):
    the workers then skip them silently. Shown whatever the progress mode; run on a
    thread beside the first fit, and joined before the run's summary."""
    from ..preview import unavailable_note

    note = unavailable_note()
    if note is not None:
        if log.bar is not None:
            log.bar.write(f"texgs bake: {note}", file=sys.stderr)
        else:
            print(f"texgs bake: {note}", file=sys.stderr, flush=True)


def plan(src, pipe: Pipeline, backend: str, opts: BakeOptions, build_cache, threads: int):
    """(entry, None) when nothing needs fitting (an input error, unchanged outputs, a
    dry run, a cache hit, which is committed here), else (entry, FitTask)."""
    t0 = time.monotonic()
    entry = {"name": src.name, "key": src.key, "status": "error", "seconds": 0.0, "warnings": list(src.warnings)}
    final = opts.out / src.key
    try:
        if src.error is not None:
            raise src.error
        inputs = [f.path for f in src.files] + ([src.manifest.path] if src.manifest else [])
        digests = cache.input_digests(inputs)
        resample = pipe.resample if opts.resample is None else opts.resample
        key = cache.build_key(inputs, {**pipe.settings_for_hash(), "resample": resample}, backend, digests)
        existing = None if opts.force else cache.up_to_date(final, key)
        if existing is not None:
            entry.update(status="unchanged", **_figures(existing))
        elif opts.dry_run:
            entry.update(status="would_bake")
        else:
            task = FitTask(
                source=src,
                pipeline=pipe,
                backend=backend,
                build_key=key,
                input_digests=digests,
                resample=resample,
                threads=threads,
                progress=opts.progress if opts.jobs == 1 and opts.executor == "local" else "off",
            )
            files = build_cache.get(_cache_address(task)) if build_cache is not None else None
            if files is None:
                return entry, task
            manifest = json.loads(files[cache.MANIFEST_NAME])
            _commit(final, files)
            entry.update(status="cached", **_figures(manifest))
    except OSError as e:  # reading an input failed between discovery and hashing
        entry["message"] = f"{e.filename or src.folder}: cannot read: {e.strerror or e}"
    except TexgsError as e:
        if isinstance(e, atomic.OutputError):
            raise
        entry["message"] = str(e)
    entry["seconds"] = round(time.monotonic() - t0, 3)
    return entry, None


def _commit_result(opts: BakeOptions, build_cache, src, entry: dict, task: FitTask, result: dict) -> None:
    """Write a worker's files into place (the driver holds the lock) and store them
    in the shared cache."""
    entry["seconds"] = round(entry.get("seconds", 0.0) + result.get("seconds", 0.0), 3)
    if "files" not in result:
        entry["message"] = result["message"]
        if "traceback" in result:
            entry["traceback"] = result["traceback"]
        return
    files = result["files"]
    _commit(opts.out / src.key, files)
    entry.update(status="baked", **_figures(result["manifest"]))
    if build_cache is not None:
        build_cache.put(_cache_address(task), files)


def _commit(final: Path, files: dict[str, bytes]) -> None:
    """Stage the files beside `final`, then replace it with one rename. On a
    write error the staging folder is removed and OutputError names the cause."""
    staging = None
    try:
        staging = atomic.new_staging_dir(final.parent, final.name)
        atomic.write_files(staging, files)
        atomic.commit_dir(staging, final)
        staging = None
    except OSError as e:
        raise atomic.OutputError(atomic.os_error(final.parent, e)) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _cache_address(task: FitTask) -> str:
    outs = dataclasses.asdict(task.pipeline.outputs)
    return store.address(task.build_key, task.source.key, task.source.name, outs)


def _gate(entry: dict, pipe: Pipeline) -> None:
    if entry["status"] in ("baked", "cached", "unchanged"):
        failures = check_gates(entry, pipe.gates)
        if failures:
            entry.update(
                status="gate_failed", gate_failures=failures, message=f"{len(failures)} quality gate(s) missed"
            )


def _cancelled(src, why: str) -> dict:
    entry = {
        "name": src.name,
        "key": src.key,
        "status": "cancelled",
        "seconds": 0.0,
        "warnings": list(src.warnings),
        "message": f"not baked: {why}",
    }
    entry["summary"] = _one_line(entry)
    return entry


def _figures(manifest: dict) -> dict:
    q = manifest["quality"]
    return {
        "bppc": manifest["bppc"],
        "bytes": manifest["bytes"],
        "gaussians": manifest["gaussians"],
        "channels": len(manifest["channels"]),
        "size": [manifest["width"], manifest["height"]],
        "psnr": q["psnr"],
        "psnr_by_group": q["psnr_by_group"],
        **({"normal_angle_deg": q["normal_angle_deg"]} if "normal_angle_deg" in q else {}),
        **({"cutout": q["cutout"]} if "cutout" in q else {}),
        "outputs": str(Path(manifest["key"])),
        "fit_seconds": manifest["seconds"],
    }


def _one_line(r: dict) -> str:
    if r["status"] in ("baked", "cached", "unchanged", "gate_failed") and "psnr" in r:
        text = (
            f"{r['key']}: {r['status']}, {r['channels']} ch, {r['bppc']:.4f} bppc, "
            f"{r['psnr']:.2f} dB, {r['gaussians']} Gaussians, {r['seconds']:.1f} s"
        )
        if r["status"] == "gate_failed":
            text += "; " + "; ".join(r["gate_failures"])
        return text
    return f"{r['key']}: {r['status']}" + (f": {r['message']}" if r.get("message") else "")


def summary_table(report: dict) -> str:
    rows = [("material", "status", "C", "size", "bppc", "PSNR dB", "Gaussians", "s")]
    for r in report["materials"]:
        if "psnr" in r:
            rows.append(
                (
                    r["key"],
                    r["status"],
                    str(r["channels"]),
                    f"{r['size'][0]}x{r['size'][1]}",
                    f"{r['bppc']:.4f}",
                    f"{r['psnr']:.2f}",
                    str(r["gaussians"]),
                    f"{r['seconds']:.1f}",
                )
            )
        else:
            rows.append((r["key"], r["status"], "", "", "", "", "", f"{r['seconds']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in report["materials"]:
        if r["status"] == "error":
            lines.append(f"error: {r['key']}: {r.get('message', '')}")
        elif r["status"] == "gate_failed":
            lines.append(f"gate: {r['key']}: " + "; ".join(r["gate_failures"]))
    c = report["counts"]
    cached = f", {c['cached']} copied from the cache" if c.get("cached") else ""
    cancelled = f", {c['cancelled']} cancelled" if c.get("cancelled") else ""
    lines.append(
        f"{c['baked']} baked{cached}, {c['unchanged']} unchanged, {c['gate_failed']} missed a gate, "
        f"{c['error']} failed{cancelled}"
        + (f", {c['would_bake']} would bake" if report["dry_run"] else "")
        + f" in {report['seconds']:.1f} s"
    )
    return "\n".join(lines)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Interrupts:
    """SIGINT and SIGTERM (a CI runner cancelling the job) unwind the bake as a
    KeyboardInterrupt, except inside `deferred()`, where the interrupt waits until
    the block ends: a commit and its line in the report are never separated."""

    def __init__(self):
        self.depth = 0
        self.pending = False
        self.previous = {}

    def _handler(self, signum, frame):
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, old in self.previous.items():
            signal.signal(sig, old)
        return False

    def hold(self) -> None:
        """From now on, ignore interrupts (the run is finishing its report)."""
        self.depth += 1

    @contextmanager
    def deferred(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending:
            self.pending = False
            raise KeyboardInterrupt
