"""The run report (report.json): counts, the exit-status rule, and merging the
reports of a sharded bake into one (`texgs report merge`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError

EXIT_OK, EXIT_GATE, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

# baked: fitted and written; cached: copied from the shared build cache;
# unchanged: outputs already in place; cancelled: not baked because the run was
# interrupted (nothing of it was written).
STATUSES = ("baked", "cached", "unchanged", "would_bake", "gate_failed", "error", "cancelled")


def counts(results: list[dict]) -> dict:
    return {s: sum(r["status"] == s for r in results) for s in STATUSES}


def exit_status(results: list[dict], interrupted: bool) -> int:
    """130 for an interrupted run (what the process exits with), else 2 when some
    material could not be baked, 1 when some missed a gate, 0 otherwise."""
    c = counts(results)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if c["error"] else EXIT_GATE if c["gate_failed"] else EXIT_OK


def build(
    path,
    out,
    pipeline,
    backend: str,
    results: list[dict],
    seconds: float,
    *,
    dry_run: bool,
    interrupted: bool,
    shard: tuple[int, int] | None = None,
    executor: str = "local",
    cache: str | None = None,
    error: str | None = None,
) -> dict:
    psnrs = [r["psnr"] for r in results if r.get("psnr") is not None]
    status = exit_status(results, interrupted)
    report = {
        "texgs_version": __version__,
        "input": str(path),
        "output": str(out),
        "pipeline": pipeline.source,
        "settings": pipeline.settings_for_hash(),
        "backend": backend,
        "executor": executor,
        "cache": cache,
        "shard": {"index": shard[0], "count": shard[1]} if shard else None,
        "dry_run": dry_run,
        "interrupted": interrupted,
        "seconds": round(seconds, 3),
        "counts": counts(results),
        "mean_psnr": float(np.mean(psnrs)) if psnrs else None,
        "exit_status": status,
        "materials": results,
    }
    if error is not None:  # the run stopped on an output error (exit 2)
        report.update(error=error, exit_status=EXIT_ERROR if not interrupted else status)
    return report


def load(path: Path) -> dict:
    """A report.json, or the one inside an output folder."""
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{file}: no such report (expected a bake's output folder or its report.json)") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{file}: not a readable report.json: {e}") from None
    if not isinstance(report, dict) or not isinstance(report.get("materials"), list):
        raise InputError(f"{file}: not a texgs bake report (no 'materials' list)")
    report["_file"] = str(file)
    return report


def merge(reports: list[dict]) -> dict:
    """One report for the shards of one bake. Refuses reports of different
    settings, backends or texgs versions, a shard given twice or missing, and a
    material reported by two shards."""
    if not reports:
        raise InputError("report merge: no reports given")
    first = reports[0]
    for r in reports[1:]:
        for field in ("texgs_version", "settings", "backend"):
            if r.get(field) != first.get(field):
                raise InputError(
                    f"{r['_file']}: {field} differs from {first['_file']}; these reports are not shards of one bake"
                )
    shards = [r.get("shard") for r in reports]
    if all(shards):
        n = shards[0]["count"]
        seen: dict[int, str] = {}
        for r, s in zip(reports, shards):
            if s["count"] != n:
                raise InputError(f"{r['_file']}: shard {s['index']}/{s['count']} is not one of {n} shards")
            if s["index"] in seen:
                raise InputError(f"{r['_file']}: shard {s['index']}/{n} given twice (also {seen[s['index']]})")
            seen[s["index"]] = r["_file"]
        missing = sorted(set(range(1, n + 1)) - set(seen))
        if missing:
            raise InputError(f"report merge: shard(s) {', '.join(f'{k}/{n}' for k in missing)} missing")
    by_key: dict[str, tuple[dict, str]] = {}
    for r in reports:
        for m in r["materials"]:
            if m["key"] in by_key:
                raise InputError(f"{r['_file']}: material {m['key']} also reported by {by_key[m['key']][1]}")
            by_key[m["key"]] = (m, r["_file"])
    results = [by_key[k][0] for k in sorted(by_key)]
    interrupted = any(r.get("interrupted") for r in reports)
    errors = [f"{r['_file']}: {r['error']}" for r in reports if r.get("error")]
    psnrs = [m["psnr"] for m in results if m.get("psnr") is not None]
    merged = {
        "texgs_version": first.get("texgs_version"),
        "input": first.get("input"),
        "output": [r.get("output") for r in reports],
        "pipeline": first.get("pipeline"),
        "settings": first.get("settings"),
        "backend": first.get("backend"),
        "executor": sorted({r.get("executor", "local") for r in reports}),
        "merged_from": [r["_file"] for r in reports],
        "shard": None,
        "dry_run": any(r.get("dry_run") for r in reports),
        "interrupted": interrupted,
        # Shards run side by side: the run took as long as the slowest one.
        "seconds": max(float(r.get("seconds", 0.0)) for r in reports),
        "seconds_total": round(sum(float(r.get("seconds", 0.0)) for r in reports), 3),
        "counts": counts(results),
        "mean_psnr": float(np.mean(psnrs)) if psnrs else None,
        "exit_status": exit_status(results, interrupted),
        "materials": results,
    }
    # A shard that stopped on an output error, or exited non-zero for a reason its
    # materials do not show, keeps the merged status from reading 0.
    worst = max(int(r.get("exit_status", 0)) for r in reports)
    if errors:
        merged["error"] = "; ".join(errors)
    if not interrupted and worst == EXIT_ERROR:
        merged["exit_status"] = max(merged["exit_status"], EXIT_ERROR)
    return merged
