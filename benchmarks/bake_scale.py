"""What sharding and the Ray executor cost: bake the quick set with 1, 2 and 4
shards (each shard a separate `texgs bake` process, run one after another, as
a CI matrix would run them side by side) and with --executor ray on a local
Ray instance; print a markdown table of wall time, per-material time and the
overhead each layer adds.

    python benchmarks/bake_scale.py                         # quick set, ci-preview pipeline
    python benchmarks/bake_scale.py --pipeline default --ray-cpus 2 --json out.json

Overhead of a run = its wall time - the time its materials kept it busy (as
the report measures each material: load, fit, outputs): their sum for the
local executor, which bakes them one after another, the longest one for Ray,
which runs them side by side. For shards it is per process (interpreter
start-up, imports, discovery, hashing, report); for Ray it adds starting the
local instance, shipping inputs and results, and worker start-up. A shard
with no material shows the per-process cost alone; `ray.init` is also timed
on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_SET = ["gltf-samples/FlightHelmet_LeatherPartsMat", "godot-decals/decal_scifi_1"]


def corpus_root() -> Path:
    return Path(os.environ.get("TEXGS_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def bake(root: Path, out: Path, pipeline: str, *extra: str) -> tuple[float, dict]:
    cmd = [
        sys.executable,
        "-m",
        "texgs",
        "bake",
        str(root),
        "-o",
        str(out),
        "--pipeline",
        pipeline,
        "--progress",
        "off",
        "--force",
        *extra,
    ]
    t0 = time.monotonic()
    r = subprocess.run(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")},
    )
    wall = time.monotonic() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"bake failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return wall, json.loads((out / "report.json").read_text())


def row(label: str, runs: list[tuple[float, dict]], parallel: bool = False) -> dict:
    per_run = []
    for wall, rep in runs:
        secs = [m["seconds"] for m in rep["materials"] if m["status"] in ("baked", "gate_failed")]
        busy = (max(secs) if parallel else sum(secs)) if secs else 0.0
        per_run.append({"wall": wall, "materials": len(secs), "overhead": wall - busy})
    per_material = {
        m["key"]: m["seconds"] for _, rep in runs for m in rep["materials"] if m["status"] in ("baked", "gate_failed")
    }
    walls = [r["wall"] for r in per_run]
    empty = [r["overhead"] for r in per_run if r["materials"] == 0]
    return {
        "config": label,
        "runs": len(runs),
        "wall_sum": sum(walls),
        "wall_max": max(walls),
        "material_seconds": per_material,
        "per_run": per_run,
        "overhead_per_run": sum(r["overhead"] for r in per_run) / len(per_run),
        "empty_run_seconds": sum(empty) / len(empty) if empty else None,
    }


def ray_init_seconds() -> float:
    code = (
        "import time, ray; t = time.monotonic(); "
        "ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False); "
        "print(time.monotonic() - t); ray.shutdown()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")},
    )
    return float(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipeline", default="ci-preview")
    ap.add_argument("--shards", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--ray-cpus", type=int, default=1, help="--task-cpus of each Ray task")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="texgs-bake-scale-"))
    try:
        root = work / "materials"
        for rel in QUICK_SET:
            src = corpus_root() / rel
            if not src.is_dir():
                raise SystemExit(f"{src}: corpus material not found (set TEXGS_CORPUS)")
            shutil.copytree(src, root / Path(rel).name)
        rows = []
        for n in args.shards:
            runs = [
                bake(root, work / f"s{n}-{k}", args.pipeline, *(["--shard", f"{k}/{n}"] if n > 1 else []))
                for k in range(1, n + 1)
            ]
            rows.append(row(f"{n} shard(s)", runs))
        ray_init = None
        if not args.no_ray:
            rows.append(
                row(
                    f"ray, local, {args.ray_cpus} CPU/task",
                    [bake(root, work / "ray", args.pipeline, "--executor", "ray", "--task-cpus", str(args.ray_cpus))],
                    parallel=True,
                )
            )
            ray_init = ray_init_seconds()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    keys = sorted({k for r in rows for k in r["material_seconds"]})
    print(f"pipeline {args.pipeline}, {os.cpu_count()} CPUs\n")
    print(
        "| config | processes | wall, one after another (s) | wall, slowest run (s) | "
        + " | ".join(f"{k} (s)" for k in keys)
        + " | overhead per run (s) | run with no material (s) |"
    )
    print("|---|---:|---:|---:|" + "---:|" * len(keys) + "---:|---:|")
    for r in rows:
        cells = [f"{r['material_seconds'][k]:.1f}" if k in r["material_seconds"] else "" for k in keys]
        empty = f"{r['empty_run_seconds']:.1f}" if r["empty_run_seconds"] is not None else ""
        print(
            f"| {r['config']} | {r['runs']} | {r['wall_sum']:.1f} | {r['wall_max']:.1f} | "
            + " | ".join(cells)
            + f" | {r['overhead_per_run']:.1f} | {empty} |"
        )
    if ray_init is not None:
        print(f"\nray.init of a local 2-CPU instance alone: {ray_init:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ray_init_seconds": ray_init}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
