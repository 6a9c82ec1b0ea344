"""Fitting benchmark and ablation: fit corpus materials at one rate with
several fitter variants; print a markdown table (PSNR over all channels,
bppc from the written bytes, Gaussians, seconds) beside the ASTC figure of
../shared/reference/block_codecs_bench.csv when the material is there.

    python benchmarks/fit_bench.py                       # quick set, 0.06 bppc, all variants
    python benchmarks/fit_bench.py --set benchmark --variants default --preset default
    python benchmarks/fit_bench.py --size 256 --csv out.csv

--size N area-downsamples each material to N x N first (CPU time); ASTC
figures are full resolution, so compare them only with --size 0 runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

QUICK_SET = ["gltf-samples/FlightHelmet_LeatherPartsMat", "godot-decals/decal_scifi_1"]
BENCHMARK_SET = [
    "polyhaven/wooden_crate_01",
    "polyhaven/fabric_pattern_07",
    "polyhaven/dutch_ship_medium_hull",
    "polyhaven/rusty_metal_05",
    "ambientcg/Bricks102",
    "ambientcg/Metal009",
    "ambientcg/Ground054",
    "ambientcg/Rock058",
    "gltf-samples/BoomBox",
    "godot-tps-demo/tile_rivet_panels",
    "godot-tps-demo/player_robot",
    "terrain3d-packed/ground037",
]
#: Ablation variants: FitConfig changes on top of the chosen preset.
VARIANTS = {
    "default": {},  # the project default
    "fp16": {"quant": "fp16"},  # Image-GS's fp16-everywhere records
    "no-palettes": {"palettes": "off"},  # every value code in the record (format 2.0's records)
    "no-refine": {"palette_refine_steps": 0},  # palette entries from k-means only
    "refine100": {"palette_refine_steps": 100},  # twice the default refinement
    "group-palettes": {"palettes": "groups"},  # palettes for multi-channel groups only, no scalar palette
    "palette-bits6": {"palette_bits": 6},
    "palette-bits8": {"palette_bits": 8},  # 256-entry palettes whatever the Gaussian count
    "palette-bits7": {"palette_bits": 7},  # 128-entry palettes
    "palette-vb5": {"palette_value_bits": 5},  # palette entries at the records' 5 bits
    "no-c2f": {"pyramid": (1,), "pyramid_steps": (1.0,)},  # full resolution only
    "no-qat": {"qat_fraction": 0.0},  # quantise only at the end
    "unit-range": {"channel_range": "unit"},  # values over [0, 1], not min..max
    "l1-ssim": {"data_term": "l1", "ssim_weight": 0.1},  # the paper's loss
    "paper-lr": {"lr_inv_scale": 2e-3, "lr_rotation": 2e-3},  # the paper's shape learning rates
    "vb6": {"value_bits": 6},  # 6-bit values: finer values, fewer Gaussians
    "vb4": {"value_bits": 4},  # 4-bit values
    "range-bits": {"value_allocation": "range"},  # fewer value bits for channels spanning less of [0, 1]
    "range-bits-vb6": {"value_allocation": "range", "value_bits": 6},
    "range-bits-vb7": {"value_allocation": "range", "value_bits": 7},
    "no-holes": {"relocate_every": 0},  # neither coverage term nor relocation
    "relocation": {"coverage_weight": 0.0, "relocate_fraction": 0.1},  # hole relocation instead of the coverage term
    "steps250": {"steps": 250},  # half the default schedule
    "steps1000": {"steps": 1000},  # twice the default schedule
    "R32": {"max_radius": 32.0},  # looser radius bound: better on 2048^2 materials, 40% more decode work
    "search-R32": {"search_max_radius": 32.0},  # with --preset search: the radius bound may rise to 32
    "R20": {"max_radius": 20.0},  # tighter radius bound (cheaper decode)
    "R48": {"max_radius": 48.0},  # looser radius bound (dearer decode)
    "init3": {"init_scale": 3.0},  # initial sigma 3 texels (default 10)
    "init8": {"init_scale": 8.0},
    "lr-final-0.01": {"lr_final": 0.01},  # anneal to 1% instead of 10%
    "reloc50": {"relocate_every": 50},  # relocate half as often
    "qat10": {"qat_fraction": 0.1},  # QAT for the last 10% only
    "pyr21": {"pyramid": (2, 1), "pyramid_steps": (0.6, 0.4)},  # two pyramid levels
    "k16": {"k": 16},  # blend up to 16 Gaussians
    "coverage+reloc": {"relocate_fraction": 0.1},  # coverage term and relocation
    "s1000-full40": {"steps": 1000, "pyramid_steps": (0.3, 0.3, 0.4)},  # 1000 steps, 40% at full resolution
    "s800-full30": {"steps": 800, "pyramid_steps": (0.4, 0.3, 0.3)},
    "plateau200": {"plateau_steps": 200},  # decay later on a plateau
    # Fewer full-resolution steps (docs/benchmarks.md "Every renderer call of a fit"):
    "full15": {"pyramid_steps": (0.5, 0.35, 0.15)},  # 75 instead of 100 full-resolution steps
    "refine25": {"palette_refine_steps": 25},  # half the palette refinement
    "full15-refine25": {"pyramid_steps": (0.5, 0.35, 0.15), "palette_refine_steps": 25},
    "full10-refine25": {"pyramid_steps": (0.55, 0.35, 0.1), "palette_refine_steps": 25},
    "half25": {"pyramid_steps": (0.55, 0.25, 0.2)},  # 50 half-resolution steps moved to the quarter level
    "half25-refine25": {"pyramid_steps": (0.55, 0.25, 0.2), "palette_refine_steps": 25},
    "thorough": {"steps": 2000, "pyramid_steps": (0.45, 0.35, 0.2), "plateau_steps": 200},  # FitConfig.thorough()
    # The long-run reference of the speed goal: 10K full-resolution steps, plateau
    # checks over 1000 steps (the paper's) and no early stop before 10 decays.
    "long10k": {"steps": 10000, "pyramid": (1,), "pyramid_steps": (1.0,), "plateau_steps": 1000, "max_decays": 10},
}


def overhead_percent(data: bytes) -> float:
    """Share of a packed file that is not Gaussian records or value palettes (header, tables, index, names)."""
    from texgs.format import layout, unpack

    records = sum(
        sec.size for sec in unpack(data).sections if sec.id in (layout.SECTION_RECORDS, layout.SECTION_PALETTES)
    )
    return round(100.0 * (len(data) - records) / len(data), 2)


def corpus_root() -> Path:
    return Path(os.environ.get("TEXGS_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def astc_reference(bppc: float) -> dict[str, float]:
    path = corpus_root().parent / "reference" / "block_codecs_bench.csv"
    col = f"psnr@{bppc:g}"
    out = {}
    if path.exists():
        for row in csv.DictReader(path.open()):
            if row["family"] == "ASTC" and col in row:
                out[row["material"]] = float(row[col])
    return out


def load(material: str, size: int):
    """The ingested material, downsampled to size x size first when size > 0."""
    from dataclasses import replace

    import torch
    import torch.nn.functional as F

    from texgs import ingest

    m = ingest.load(corpus_root() / material)
    if size:
        x = torch.from_numpy(m.pixels).permute(2, 0, 1)[None]
        pixels = F.interpolate(x, size=(size, size), mode="area")[0].permute(1, 2, 0).contiguous().numpy()
        m = replace(m, pixels=pixels, width=size, height=size)
    return m


def main(argv=None) -> int:
    from texgs.fit.api import fit_material
    from texgs.fit.config import PRESETS, Budget

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["quick", "benchmark"], default="quick")
    ap.add_argument("--materials", nargs="*", help="corpus-relative material folders (overrides --set)")
    ap.add_argument("--bppc", type=float, default=0.06)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--preset", choices=list(PRESETS), default="default")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--size", type=int, default=0, help="downsample to SIZE x SIZE first (0 = full)")
    ap.add_argument("--csv", help="also write the rows to this CSV")
    ap.add_argument("--threads", type=int, default=0, help="renderer threads (0 = all; never changes the bytes)")
    ap.add_argument("--changes", default="{}", help="FitConfig changes (JSON) under every variant's own")
    args = ap.parse_args(argv)

    materials = args.materials or (QUICK_SET if args.set == "quick" else BENCHMARK_SET)
    astc = astc_reference(args.bppc) if not args.size else {}
    rows = []
    print(
        f"# fit_bench: {args.bppc} bppc, preset {args.preset}, size {args.size or 'full'}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    for material in materials:
        m_in = load(material, args.size)
        for variant in args.variants:
            changes = {**json.loads(args.changes), **VARIANTS[variant]}
            if args.steps:
                changes["steps"] = args.steps
            changes["threads"] = args.threads
            cfg = PRESETS[args.preset](**changes)
            cpu0 = time.process_time()
            r = fit_material(m_in, Budget(bppc=args.bppc), cfg, progress="off", label=material)
            cpu = time.process_time() - cpu0
            m = r.metrics
            row = {
                "material": material,
                "variant": variant,
                "H": r.height,
                "W": r.width,
                "C": len(m_in.channels),
                "psnr": round(m["psnr"], 2),
                "bppc": round(m["bppc"], 5),
                "gaussians": m["gaussians"],
                "steps": r.steps,
                "seconds": round(r.seconds, 1),
                "cpu_seconds": round(cpu, 1),  # all threads of this process: less sensitive to other load
                "astc": astc.get(material, ""),
                "overhead_percent": overhead_percent(r.data),
            }
            rows.append(row)
            print(" | ".join(str(v) for v in row.values()), flush=True)
    print()
    print("| material | variant | size | PSNR dB | bppc | Gaussians | steps | s | CPU s | ASTC dB | not records % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['material']} | {r['variant']} | {r['W']}x{r['H']}x{r['C']} | {r['psnr']:.2f} | "
            f"{r['bppc']:.4f} | {r['gaussians']} | {r['steps']} | {r['seconds']} | {r['cpu_seconds']} | {r['astc']} | "
            f"{r['overhead_percent']} |"
        )
    for v in args.variants:
        sel = [r["psnr"] for r in rows if r["variant"] == v]
        print(f"mean {v}: {sum(sel) / len(sel):.2f} dB over {len(sel)} materials")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
