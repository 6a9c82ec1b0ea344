"""`texgs bake`: find materials, fit each to its target, write outputs safely.

Per material, into OUT/<material key>/: the packed runtime file, manifest.json
and preview PNGs, committed with one directory rename. Per run: report.json,
junit.xml and a summary table. Exit status: 0 all good, 1 some material missed
a quality gate, 2 some material could not be baked.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import TexgsError
from . import atomic, cache, outputs
from .gates import check_gates
from .junit import junit_xml
from .pipeline import Pipeline

EXIT_OK, EXIT_GATE, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class BakeOptions:
    out: Path
    pipeline: Pipeline
    jobs: int = 1
    force: bool = False
    dry_run: bool = False
    resample: bool = True           # the CLI passes the pipeline's unless --[no-]resample
    progress: str = "auto"          # auto | bar | lines | off
    report: Path | None = None      # default OUT/report.json
    junit: Path | None = None       # default OUT/junit.xml


def backend_for(device: str) -> str:
    """The renderer backend a bake uses for --device (part of the build key)."""
    from ..fit.api import resolve_backend

    return resolve_backend({"auto": "auto", "cpu": "cpu", "cuda": "cuda"}[device])


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
    """Bake every material under `path`. Returns (exit status, report dict)."""
    from .. import ingest

    t0 = time.monotonic()
    sources = ingest.discover(path)  # raises InputError for a missing/empty path
    pipe = opts.pipeline
    backend = backend_for(pipe.device)
    log = _Log(len(sources), opts.progress)
    log.line(f"texgs {__version__}: {len(sources)} material(s) under {path}, pipeline {pipe.source}, "
             f"backend {backend}")
    results: list[dict] = []
    interrupted = False
    with _terminate_as_interrupt(), atomic.output_lock(opts.out) if not opts.dry_run else _nullcontext():
        if not opts.dry_run:
            atomic.clean_stale(opts.out)
        jobs = max(1, min(opts.jobs, len(sources)))
        threads = max(1, (os.cpu_count() or 1) // jobs)
        fit_progress = opts.progress if jobs == 1 else "off"
        try:
            if jobs == 1:
                for src in sources:
                    r = bake_one(src, pipe, backend, opts, threads, fit_progress)
                    results.append(r)
                    log.line(_one_line(r))
                    log.advance()
            else:
                ctx = multiprocessing.get_context("spawn")
                with cf.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
                    futures = {pool.submit(bake_one, s, pipe, backend, opts, threads, "off"): s for s in sources}
                    done = {}
                    for fut in cf.as_completed(futures):
                        r = fut.result()
                        done[futures[fut].key] = r
                        log.line(_one_line(r))
                        log.advance()
                    results = [done[s.key] for s in sources]  # report in discovery order
        except KeyboardInterrupt:
            interrupted = True
        finally:
            log.close()
        report = _report(path, opts, backend, results, time.monotonic() - t0, interrupted)
        if not opts.dry_run:
            atomic.write_bytes_atomic(opts.report or opts.out / "report.json",
                                      json.dumps(outputs.json_safe(report), indent=2).encode())
            atomic.write_bytes_atomic(opts.junit or opts.out / "junit.xml",
                                      junit_xml(results, seconds=report["seconds"]))
    if interrupted:
        raise KeyboardInterrupt
    return report["exit_status"], report


def bake_one(src, pipe: Pipeline, backend: str, opts: BakeOptions, threads: int, fit_progress: str) -> dict:
    """Bake one material; never raises for a material problem (it becomes the result)."""
    from .. import ingest

    t0 = time.monotonic()
    entry = {"name": src.name, "key": src.key, "status": "error", "seconds": 0.0,
             "warnings": list(src.warnings)}
    final = opts.out / src.key
    staging = None
    try:
        if src.error is not None:
            raise src.error
        inputs = [f.path for f in src.files] + ([src.manifest.path] if src.manifest else [])
        key = cache.build_key(inputs, {**pipe.settings_for_hash(), "resample": opts.resample}, backend)
        existing = None if opts.force else cache.up_to_date(final, key)
        if existing is not None:
            entry.update(status="unchanged", **_figures(existing))
        elif opts.dry_run:
            entry.update(status="would_bake")
        else:
            material = ingest.load(src, resample=opts.resample)
            result = outputs.fit_material(material, pipe, threads, fit_progress)
            staging = atomic.new_staging_dir(final.parent, final.name)
            manifest = outputs.write(staging, material, result, pipe, key, inputs)
            atomic.commit_dir(staging, final)
            staging = None
            entry.update(status="baked", **_figures(manifest))
        if entry["status"] in ("baked", "unchanged"):
            failures = check_gates(entry, pipe.gates)
            if failures:
                entry.update(status="gate_failed", gate_failures=failures,
                             message=f"{len(failures)} quality gate(s) missed")
    except TexgsError as e:
        entry["message"] = str(e)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a bug, not the user's input: keep the batch going, keep the trace
        entry["message"] = f"internal error baking {src.key}: {type(e).__name__}: {e}"
        entry["traceback"] = traceback.format_exc()
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    entry["seconds"] = round(time.monotonic() - t0, 3)
    entry["summary"] = _one_line(entry)
    return entry


def _figures(manifest: dict) -> dict:
    q = manifest["quality"]
    return {"bppc": manifest["bppc"], "bytes": manifest["bytes"], "gaussians": manifest["gaussians"],
            "channels": len(manifest["channels"]), "size": [manifest["width"], manifest["height"]],
            "psnr": q["psnr"], "psnr_by_group": q["psnr_by_group"],
            **({"normal_angle_deg": q["normal_angle_deg"]} if "normal_angle_deg" in q else {}),
            "outputs": str(Path(manifest["key"])), "fit_seconds": manifest["seconds"]}


def _one_line(r: dict) -> str:
    if r["status"] in ("baked", "unchanged", "gate_failed") and "psnr" in r:
        text = (f"{r['key']}: {r['status']}, {r['channels']} ch, {r['bppc']:.4f} bppc, "
                f"{r['psnr']:.2f} dB, {r['gaussians']} Gaussians, {r['seconds']:.1f} s")
        if r["status"] == "gate_failed":
            text += "; " + "; ".join(r["gate_failures"])
        return text
    return f"{r['key']}: {r['status']}" + (f": {r['message']}" if r.get("message") else "")


def _report(path, opts: BakeOptions, backend, results, seconds, interrupted) -> dict:
    counts = {s: sum(r["status"] == s for r in results)
              for s in ("baked", "unchanged", "would_bake", "gate_failed", "error")}
    status = EXIT_ERROR if counts["error"] else EXIT_GATE if counts["gate_failed"] else EXIT_OK
    psnrs = [r["psnr"] for r in results if "psnr" in r]
    return {
        "texgs_version": __version__,
        "input": str(path),
        "output": str(opts.out),
        "pipeline": opts.pipeline.source,
        "settings": opts.pipeline.settings_for_hash(),
        "backend": backend,
        "dry_run": opts.dry_run,
        "interrupted": interrupted,
        "seconds": round(seconds, 3),
        "counts": counts,
        "mean_psnr": float(np.mean(psnrs)) if psnrs else None,
        "exit_status": status,
        "materials": results,
    }


def summary_table(report: dict) -> str:
    rows = [("material", "status", "C", "size", "bppc", "PSNR dB", "Gaussians", "s")]
    for r in report["materials"]:
        if "psnr" in r:
            rows.append((r["key"], r["status"], str(r["channels"]), f"{r['size'][0]}x{r['size'][1]}",
                         f"{r['bppc']:.4f}", f"{r['psnr']:.2f}", str(r["gaussians"]), f"{r['seconds']:.1f}"))
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
    lines.append(f"{c['baked']} baked, {c['unchanged']} unchanged, {c['gate_failed']} missed a gate, "
                 f"{c['error']} failed" + (f", {c['would_bake']} would bake" if report["dry_run"] else "")
                 + f" in {report['seconds']:.1f} s")
    return "\n".join(lines)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _terminate_as_interrupt:
    """SIGTERM (a CI runner cancelling the job) unwinds like Ctrl-C, so staging
    directories are removed and nothing half-written is left in place."""

    def __enter__(self):
        self.previous = signal.getsignal(signal.SIGTERM)

        def handler(signum, frame):
            raise KeyboardInterrupt

        try:
            signal.signal(signal.SIGTERM, handler)
        except ValueError:  # not the main thread
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False
