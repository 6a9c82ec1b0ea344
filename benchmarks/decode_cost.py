"""Decode cost of fitted materials as the engine shaders see it
(texgs.format.cost.shader_cost): Gaussians evaluated per texel and
multiply-adds per texel, mean and maximum, per material. Prints one JSON
line per material, then a markdown table.

    python benchmarks/decode_cost.py --set benchmark --size 512 --bppc 0.06
    python benchmarks/decode_cost.py --materials polyhaven/wooden_crate_01 --max-radius 24
    python benchmarks/decode_cost.py --baked OUT --filtered     # filtered sampling, per mip level
    python benchmarks/decode_cost.py --files R/texgs/*.texgs --levels 1   # the same files with 1 LOD level

--filtered (on the .texgs files of a `texgs bake` output folder, --baked) counts
what texgs_sample_grad does per sample (filtered_cost below) at mip levels 0..6
(an axis-aligned square pixel of 2^L texels, as texgs_sample_level has it: the
shader's isotropic branch; samples at 4096 seeded random points) and at
anisotropic footprints (8:1, at 30 degrees): records evaluated (the search
window), near records (passing the cheap tests), covering, blended, multiply-adds
and transcendentals. Level 0 is the point sampler (a zero footprint). "band S" is a
square pixel of S texels in the fade band (lam < FADE_LAM), which blends the top K
again after every candidate (topk_blended).

--files with --levels L counts the point sampler's work (records evaluated and index
probes, the binary-search steps, per texel) on existing .texgs files as written and with
the same Gaussians in a file of L LOD levels (relevel below: the records re-sorted by
(strip, level, x), the later levels merged into the last), so the difference is the
index's alone.

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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_bench  # noqa: E402  (corpus helpers and the material lists)

#: Multiply-adds of the filtered path (engine_shaders/texgs_core.inc, texgs_q and texgs_footprint):
#: per near record the point q (8) and its bound q > 9 slack + qb max(w)^2 (2); per record passing
#: the bound the footprint in the Gaussian's frame (cos 2t, sin 2t: 3; rotated p, b: 4; T: 6), det (2),
#: the rest of the q' numerator (4) and / det (1): 20; per sample the footprint from the UV
#: derivatives (20) and its widening and bound slope (texgs_filter_footprint: 5), or for a mip level
#: (texgs_sample_level: an isotropic 2^L-texel pixel) m = (s s - 1) / 12 (2), rho (1) and the
#: widening (4).
MACS_FILTERED_NEAR = 10
MACS_FILTERED_BOUND = 20
MACS_FILTERED_BOUND_ISOTROPIC = 8  # T diagonal: T11, T22 (4), det (1), q' numerator (2), / det (1)
MACS_FILTERED_SETUP = 25
MACS_FILTERED_SETUP_LEVEL = 7
#: The mip tail (texgs_sample_filtered): lod and blend weight (3), two bilinear taps' coordinates
#: and weights (2 x 6); per channel 2 x 3 lerps, the trilinear lerp and the blend (8), reading 8 bytes.
MACS_TAIL_FIXED = 15
MACS_TAIL_PER_CHANNEL = 8
FOOTPRINTS = {f"level {lv}": (2.0**lv, 2.0**lv) for lv in range(7)}
FOOTPRINTS["level 5.5"] = (2.0**5.5, 2.0**5.5)
FOOTPRINTS.update({"aniso 8x1": (8.0, 1.0), "aniso 32x4": (32.0, 4.0), "aniso 64x8": (64.0, 8.0)})
# Pixels just over one texel: the fade band (0 < lam < FADE_LAM) keeps the top K and blends every candidate.
FOOTPRINTS.update({f"band {s}": (s, s) for s in (1.001, 1.1, 1.2, 1.3)})


def _torus_intervals(c, r, side: float, wrap: bool):
    """Per point, [c - r, c + r] as two intervals on [0, side] (the second empty unless it wraps)."""
    import numpy as np

    lo, hi = c - r, c + r
    if not wrap:
        return [(np.maximum(lo, 0.0), np.minimum(hi, side)), (np.ones_like(c), np.zeros_like(c))]
    full = hi - lo >= side
    lo_m = lo - side * np.floor(lo / side)
    hi_m = lo_m + (hi - lo)
    first = (np.where(full, 0.0, lo_m), np.where(full, side, np.minimum(hi_m, side)))
    second = (np.where(full | (hi_m <= side), 1.0, 0.0), np.where(full | (hi_m <= side), 0.0, hi_m - side))
    return [first, second]


def window_records(packed, pts, r) -> np.ndarray:
    """[P] records in the search window of each point (radius r [P]): the cells of the
    strips overlapping [py - r, py + r] and, in each, the records with x in [px - r, px + r]."""
    import numpy as np

    s, n_lv = packed.strip_height, packed.n_levels
    n_strips = packed.header["strip_count"]
    mx = packed.gaussians.means[:, 0].astype(np.float64)
    ys = _torus_intervals(pts[:, 1], r, float(packed.height), packed.wrap[1])
    xs = _torus_intervals(pts[:, 0], r, float(packed.width), packed.wrap[0])
    total = np.zeros(len(pts), np.int64)
    for st in range(n_strips):
        covered = np.zeros(len(pts), bool)
        for lo, hi in ys:
            s0 = np.floor(lo / s)
            s1 = np.minimum(np.floor(hi / s), n_strips - 1)
            covered |= (hi >= lo) & (s0 <= st) & (st <= s1)
        if not covered.any():
            continue
        for lv in range(n_lv):
            a, b = int(packed.index[st * n_lv + lv]), int(packed.index[st * n_lv + lv + 1])
            if a == b:
                continue
            seg = mx[a:b]
            for lo, hi in xs:
                cnt = np.searchsorted(seg, hi, "right") - np.searchsorted(seg, lo, "left")
                total += np.where(covered & (hi >= lo), np.maximum(cnt, 0), 0)
    return total


def filtered_cost(packed, along: float, across: float, n_points: int = 4096, seed: int = 0) -> dict:
    """Per-sample work of texgs_sample_grad for a pixel `along` x `across` texels: at 30 degrees
    when anisotropic, axis-aligned (texgs_sample_level's footprint) when square."""
    import math

    import numpy as np

    from texgs.format.cost import MACS_CIRCLE_TEST, MACS_PER_NEAR_RECORD, MACS_X_REJECT, MACS_Y_REJECT
    from texgs.format.filtered import (
        FADE_LAM,
        decode_points_filtered,
        effective_footprint,
        filter_footprint,
        footprint_cap,
        footprint_lambda,
        window_radius,
    )

    rng = np.random.default_rng(seed)
    pts = (rng.random((n_points, 2)) * [packed.width, packed.height]).astype(np.float32)
    a = math.radians(30.0) if along != across else 0.0
    ddx = np.tile([[along * math.cos(a), along * math.sin(a)]], (n_points, 1)).astype(np.float32)
    ddy = np.tile([[-across * math.sin(a), across * math.cos(a)]], (n_points, 1)).astype(np.float32)
    fp = effective_footprint(ddx, ddy, footprint_cap(packed))
    lam = footprint_lambda(fp)
    filtered = bool(lam[0] > 0)
    wt = np.zeros(n_points, np.float32)
    if packed.mip_tail is not None:
        from texgs.format import mip_tail

        wt = mip_tail.tail_weight(mip_tail.footprint_lod(lam), packed.mip_tail.first_level)
    gauss = wt < 1  # the Gaussians take part (the tail alone answers the others)
    _, cover, near, pass_y, pass_xy, bound = decode_points_filtered(packed, pts, fp, with_counts=True)
    lam_g = filter_footprint(fp, lam)[1]  # the Gaussians' (widened) filter sets the search window
    ev = window_records(packed, pts.astype(np.float64), window_radius(packed, lam_g).astype(np.float64)) * gauss
    blended = cover if filtered else np.minimum(cover, packed.k)  # a footprint blends every candidate
    fade = bool(filtered and lam[0] < FADE_LAM)
    topk = np.minimum(cover, packed.k) * gauss if fade else 0  # the fade band blends the top K too
    c = packed.gaussians.channels
    per_near = MACS_FILTERED_NEAR if filtered else MACS_PER_NEAR_RECORD
    isotropic = bool(fp[0, 1] == 0 and fp[0, 2] == 0)
    per_bound = MACS_FILTERED_BOUND_ISOTROPIC if isotropic else MACS_FILTERED_BOUND
    macs = (
        MACS_Y_REJECT * (ev - pass_y)
        + MACS_X_REJECT * (pass_y - pass_xy)
        + MACS_CIRCLE_TEST * pass_xy
        + per_near * near
        + (c + 1) * (blended + topk)
        + c * gauss
        + (((MACS_FILTERED_SETUP_LEVEL if isotropic else MACS_FILTERED_SETUP) + per_bound * bound) if filtered else 0)
    )
    macs = macs + np.where(wt > 0, MACS_TAIL_FIXED + MACS_TAIL_PER_CHANNEL * c, 0)
    trans = 2 * near + blended + topk + ((bound + cover) if filtered else 0)  # cos, sin; exp; 1/det, log
    trans = trans + (wt > 0)  # log2 of the lod
    return {
        "evaluated_mean": float(ev.mean()),
        "near_mean": float(near.mean()),
        "bound_mean": float(bound.mean()),
        "covering_mean": float(cover.mean()),
        "blended_mean": float(blended.mean()),
        "topk_blended_mean": float(np.mean(topk)),
        "macs_mean": float(macs.mean()),
        "macs_max": int(macs.max()),
        "transcendentals_mean": float(trans.mean()),
        "window_radius": float(window_radius(packed, lam_g[:1])[0]),
        "tail_share": float(wt.mean()),
        "tail_bytes_read": float(8 * c * (wt > 0).mean()),
    }


def main_filtered(args) -> int:
    import numpy as np

    from texgs.format import unpack

    print(
        f"# decode_cost --filtered: {args.baked}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}", flush=True
    )
    rows = []
    if args.rows:
        rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines() if line.startswith("{")]
    for material in [] if args.rows else (args.materials or fit_bench.BENCHMARK_SET):
        path = Path(args.baked) / material / f"{material.split('/')[-1]}.texgs"
        data = path.read_bytes()
        packed = unpack(data, name=str(path))
        if args.mip_tail > 0 and packed.mip_tail is None:  # as filtered_quality.py --mip-tail attaches it
            from filtered_quality import with_source_tail

            from texgs.compare.material import load_materials

            (source,) = load_materials(fit_bench.corpus_root() / material)
            packed = unpack(with_source_tail(packed, data, source.data, args.mip_tail))
        row = {"material": material, "gaussians": int(packed.header["gaussian_count"])}
        if packed.mip_tail is not None:
            row["mip_tail_first_level"] = packed.mip_tail.first_level
        for name, (along, across) in FOOTPRINTS.items():
            if args.footprints and name not in args.footprints.split(","):
                continue
            row[name] = {k: round(v, 1) for k, v in filtered_cost(packed, along, across).items()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(
        "| footprint (texels) | window radius | evaluated | near | past the q bound | covering | blended | "
        "MACs mean | x level 0 | MACs max | transcendentals | tail share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = np.mean([r["level 0"]["macs_mean"] for r in rows])
    for name in [f for f in FOOTPRINTS if all(f in r for r in rows)]:  # earlier rows may lack some

        def mean(key):
            return float(np.mean([r[name][key] for r in rows]))

        print(
            f"| {name} | {mean('window_radius'):.1f} | {mean('evaluated_mean'):.1f} | {mean('near_mean'):.1f} | "
            f"{mean('bound_mean'):.1f} | {mean('covering_mean'):.1f} | {mean('blended_mean'):.1f} | "
            f"{mean('macs_mean'):.1f} | "
            f"{mean('macs_mean') / base:.2f} | {max(r[name]['macs_max'] for r in rows)} | "
            f"{mean('transcendentals_mean'):.1f} | "
            + (f"{float(np.mean([r[name].get('tail_share', 0.0) for r in rows])):.2f} |")
        )
    return 0


def relevel(packed, levels: int):
    """The Packed file `packed` as the writer would lay out the same Gaussians in a file of
    `levels` LOD levels (levels from `levels` - 1 on merged into the last): records sorted
    by (strip, level, x), the index rebuilt; enough for texgs.format.cost.shader_cost."""
    import dataclasses

    old = packed.n_levels
    n_strips = packed.header["strip_count"]
    cell = np.repeat(np.arange(n_strips * old), np.diff(packed.index))
    strip = cell // old
    g = packed.gaussians
    lv = np.minimum(g.levels.astype(np.int64), levels - 1)
    order = np.lexsort((np.arange(g.n), g.means[:, 0], lv, strip))
    new = g.select(order)
    new = dataclasses.replace(new, levels=lv[order].astype(np.int32))
    counts = np.bincount(strip[order] * levels + lv[order], minlength=n_strips * levels)
    index = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return dataclasses.replace(packed, header=dict(packed.header, levels=levels), gaussians=new, index=index)


def main_files(args) -> int:
    """Point-sampler cost of each file as written and relevelled to --levels (JSON lines, then means)."""
    from texgs.format.cost import shader_cost
    from texgs.format.reader import unpack

    rows = []
    for f in args.files:
        p = unpack(Path(f).read_bytes())
        a, b = shader_cost(p), shader_cost(relevel(p, args.levels))
        row = {"file": Path(f).name, "size": f"{p.width}x{p.height}x{p.gaussians.channels}", "gaussians": p.gaussians.n}
        for key in ("evaluated_mean", "probes_mean", "macs_mean"):
            row[key] = [round(a[key], 2), round(b[key], 2)]
        row["levels"] = [p.n_levels, args.levels]
        rows.append(row)
        print(json.dumps(row), flush=True)
    if rows:
        keys = ("evaluated_mean", "probes_mean", "macs_mean")
        mean = {k: [round(float(np.mean([r[k][i] for r in rows])), 2) for i in (0, 1)] for k in keys}
        print(json.dumps({"files": len(rows), "mean as written, relevelled": mean}))
    return 0


def main(argv=None) -> int:
    from texgs.fit.api import fit_material
    from texgs.fit.config import Budget, FitConfig
    from texgs.format.cost import shader_cost

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["quick", "benchmark"], default="benchmark")
    ap.add_argument("--materials", nargs="*", help="corpus-relative material folders (overrides --set)")
    ap.add_argument("--bppc", type=float, default=0.06)
    ap.add_argument("--size", type=int, default=0, help="downsample to SIZE x SIZE first (0 = full)")
    ap.add_argument("--max-radius", type=float, default=FitConfig().max_radius)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--baked", help="a texgs bake output folder (with --filtered)")
    ap.add_argument(
        "--footprints", help="with --filtered: only these rows (comma-separated names, e.g. 'level 0,level 6')"
    )
    ap.add_argument("--mip-tail", type=float, default=0.0, help="with --filtered: attach a tail of this share")
    ap.add_argument("--filtered", action="store_true", help="filtered sampling cost per mip level (needs --baked)")
    ap.add_argument("--rows", help="with --filtered: tabulate these JSON lines (earlier runs) instead of measuring")
    ap.add_argument("--files", nargs="*", help=".texgs files: their point-sampler cost as written and with --levels")
    ap.add_argument("--levels", type=int, default=1, help="with --files: LOD levels to relevel the files to")
    args = ap.parse_args(argv)
    if args.files:
        return main_files(args)
    if args.filtered:
        if not (args.baked or args.rows):
            ap.error("--filtered needs --baked")
        return main_filtered(args)
    materials = args.materials or (fit_bench.QUICK_SET if args.set == "quick" else fit_bench.BENCHMARK_SET)
    print(
        f"# decode_cost: {args.bppc} bppc, size {args.size or 'full'}, R {args.max_radius}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    rows = []
    for material in materials:
        r = fit_material(
            fit_bench.load(material, args.size),
            Budget(bppc=args.bppc),
            FitConfig(max_radius=args.max_radius, threads=args.threads),
            progress="off",
            label=material,
        )
        cost = shader_cost(r.data)
        row = {
            "material": material,
            "size": f"{r.width}x{r.height}x{len(r.channels)}",
            "gaussians": r.n,
            "psnr": round(r.metrics["psnr"], 2),
            "evaluated_mean": round(cost["evaluated_mean"], 1),
            "evaluated_max": int(cost["evaluated_max"]),
            "blended_mean": round(cost["blended_mean"], 1),
            "macs_mean": round(cost["macs_mean"], 1),
            "macs_max": int(cost["macs_max"]),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(
        "| material | size | Gaussians | PSNR dB | evaluated mean | evaluated max | blended mean "
        "| MACs mean | MACs max |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['material']} | {r['size']} | {r['gaussians']} | {r['psnr']:.2f} | {r['evaluated_mean']} | "
            f"{r['evaluated_max']} | {r['blended_mean']} | {r['macs_mean']} | {r['macs_max']} |"
        )
    n = len(rows)
    print(
        f"| **mean of {n}** | | | | {sum(r['evaluated_mean'] for r in rows) / n:.1f} | "
        f"{max(r['evaluated_max'] for r in rows)} (max) | {sum(r['blended_mean'] for r in rows) / n:.1f} | "
        f"**{sum(r['macs_mean'] for r in rows) / n:.1f}** | {max(r['macs_max'] for r in rows)} (max) |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
