"""Where a fit's CPU time goes: one 0.06 bppc fit of a material at SIDE
(resized as benchmarks/size_cost.py does), profiled with cProfile on the
process's CPU clock (all threads; other load inflates it far less than wall
time). Prints the totals as one JSON line, then CPU seconds per phase (calls,
cumulative, own); --json also writes them.

    python benchmarks/fit_profile.py MATERIAL_DIR 1024 [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import pstats
import resource
import tempfile
import time
from pathlib import Path

PHASES = {
    "forward_cpu": "renderer forward",
    "backward_cpu": "renderer backward",
    "weighted_l2": "L2 loss (forward)",
    "backward": "autograd backward (renderer and loss)",
    "step": "optimiser steps",
    "_optimizer": "optimiser construction",
    "quantize_ste": "QAT quantiser",
    "project": "projection onto the format's bounds",
    "coverage_loss": "coverage term",
    "hole_points": "hole checks (a render each)",
    "coverage_candidates": "coverage candidates",
    "level_target": "pyramid targets",
    "refine": "palette refinement (renders included)",
    "choose": "palette k-means",
    "pack_within": "packing",
    "evaluate": "report: decode and metrics",
}


def main() -> None:
    from texgs.fit import Budget, FitConfig, fit_material
    from texgs.ingest import load

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("material", type=Path)
    ap.add_argument("side", type=int)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("size_cost", Path(__file__).with_name("size_cost.py"))
    size_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(size_cost)
    with tempfile.TemporaryDirectory() as tmp:
        size_cost.resize_maps(args.material, Path(tmp) / "m", args.side)
        mat = load(Path(tmp) / "m")
    prof = cProfile.Profile(time.process_time)
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall, cpu = time.perf_counter(), time.process_time()
    prof.enable()
    r = fit_material(mat, Budget(bppc=0.06), FitConfig(backend="cpu"), wrap=(True, True), progress="off")
    prof.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF)
    phases = {}
    for (_, _, fn), (_, calls, own, cum, _) in pstats.Stats(prof).stats.items():
        name = fn.replace("<built-in method texgs._native.", "").rstrip(">")
        if name in PHASES and cum > phases.get(PHASES[name], {}).get("cpu_s", -1):
            phases[PHASES[name]] = {"calls": calls, "cpu_s": round(cum, 2), "own_cpu_s": round(own, 2)}
    row = {
        "side": args.side,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "psnr": r.metrics["psnr"],
        "gaussians": r.n,
        "bytes": len(r.data),
        "steps": r.steps,
        "minor_page_faults": after.ru_minflt - before.ru_minflt,
        "peak_rss_gb": round(after.ru_maxrss / 2**20, 2),
    }
    print(json.dumps(row), flush=True)
    for name, p in sorted(phases.items(), key=lambda kv: -kv[1]["cpu_s"]):
        print(f"  {name:45s} {p['calls']:6d} {p['cpu_s']:8.2f} {p['own_cpu_s']:8.2f}")
    if args.json:
        args.json.write_text(json.dumps(dict(row, phases=phases), indent=1))


if __name__ == "__main__":
    main()
