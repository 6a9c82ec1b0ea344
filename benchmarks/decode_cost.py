"""Decode cost of fitted materials as the engine shaders see it
(texgs.format.cost.shader_cost): Gaussians evaluated per texel and
multiply-adds per texel, mean and maximum, per material. Prints one JSON
line per material, then a markdown table.

    python benchmarks/decode_cost.py --set benchmark --size 512 --bppc 0.06
    python benchmarks/decode_cost.py --materials polyhaven/wooden_crate_01 --max-radius 24

The records a texel evaluates are the Gaussian density times the search
window's area (2R + margin by 2R + margin + strip height), so at a fixed bppc
the count hardly depends on the resolution: --size 512 (area-downsampled)
measures the benchmark set in minutes instead of an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_bench  # noqa: E402  (corpus helpers and the material lists)


def main(argv=None) -> int:
    from texgs.fit.api import fit
    from texgs.fit.config import Budget, FitConfig
    from texgs.format.cost import shader_cost

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["quick", "benchmark"], default="benchmark")
    ap.add_argument("--materials", nargs="*", help="corpus-relative material folders (overrides --set)")
    ap.add_argument("--bppc", type=float, default=0.06)
    ap.add_argument("--size", type=int, default=0, help="downsample to SIZE x SIZE first (0 = full)")
    ap.add_argument("--max-radius", type=float, default=FitConfig().max_radius)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    materials = args.materials or (fit_bench.QUICK_SET if args.set == "quick" else fit_bench.BENCHMARK_SET)
    print(f"# decode_cost: {args.bppc} bppc, size {args.size or 'full'}, R {args.max_radius}, "
          f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    rows = []
    for material in materials:
        pixels, metas, weights = fit_bench.load(material, args.size)
        r = fit(pixels, Budget(bppc=args.bppc), FitConfig(max_radius=args.max_radius, threads=args.threads),
                channels=metas, weights=weights, progress="off", label=material)
        cost = shader_cost(r.data)
        row = {"material": material, "size": f"{r.width}x{r.height}x{len(metas)}", "gaussians": r.n,
               "psnr": round(r.metrics["psnr"], 2), "evaluated_mean": round(cost["evaluated_mean"], 1),
               "evaluated_max": int(cost["evaluated_max"]), "blended_mean": round(cost["blended_mean"], 1),
               "macs_mean": round(cost["macs_mean"], 1), "macs_max": int(cost["macs_max"])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| material | size | Gaussians | PSNR dB | evaluated mean | evaluated max | blended mean | MACs mean | MACs max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['material']} | {r['size']} | {r['gaussians']} | {r['psnr']:.2f} | {r['evaluated_mean']} | "
              f"{r['evaluated_max']} | {r['blended_mean']} | {r['macs_mean']} | {r['macs_max']} |")
    n = len(rows)
    print(f"| **mean of {n}** | | | | {sum(r['evaluated_mean'] for r in rows) / n:.1f} | "
          f"{max(r['evaluated_max'] for r in rows)} (max) | {sum(r['blended_mean'] for r in rows) / n:.1f} | "
          f"**{sum(r['macs_mean'] for r in rows) / n:.1f}** | {max(r['macs_max'] for r in rows)} (max) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
