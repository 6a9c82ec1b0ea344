"""What a level-major record order would give a texture streamer, measured on baked files:
for each LOD level l, the share of the Gaussians (and so of the records' bytes) in levels
0..l, and the PSNR (all channels, stored values, level 0 against the source) of the material
decoded with only those levels (lod_limit = l + 1: what a level-major prefix of the file would
hold); beside it the PSNR of the mip tail alone (its first level upsampled bilinearly to full
size, what a streamer holding only the tail shows up close) and its share of the file.

    python benchmarks/lod_prefix.py --baked OUT [--materials ...] [--mip-tail 0.1]

OUT is a `texgs bake` output folder; sources from the corpus ($TEXGS_CORPUS). --mip-tail
attaches a tail to files without one, as benchmarks/filtered_quality.py does. One JSON line
per material, then the means.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_bench  # noqa: E402
from filtered_quality import with_source_tail  # noqa: E402


def measure(name: str, baked: Path, fraction: float) -> dict:
    from texgs.compare.material import load_materials
    from texgs.compare.mips import upsample_bilinear
    from texgs.format import decode, unpack
    from texgs.format.decoder import apply_channel_ranges
    from texgs.format.mip_tail import TAIL_VALUE_STEP, file_bytes
    from texgs.metrics import psnr

    path = baked / name / f"{name.split('/')[-1]}.texgs"
    data = path.read_bytes()
    (material,) = load_materials(fit_bench.corpus_root() / name)
    p = unpack(data, name=str(path))
    if fraction > 0 and p.mip_tail is None:
        data = with_source_tail(p, data, material.data, fraction)
        p = unpack(data, name=str(path))
    ref = material.data.astype(np.float32)
    counts = np.bincount(p.gaussians.levels, minlength=p.n_levels)
    row = {"material": name, "bytes": len(data), "lod_levels": p.n_levels, "prefix": []}
    for lv in range(p.n_levels):
        img = decode(p, lod_limit=lv + 1, apply_range=True)
        row["prefix"].append(
            {
                "gaussians_share": round(float(counts[: lv + 1].sum() / counts.sum()), 3),
                "psnr": round(psnr(ref, img), 2),
            }
        )
    if p.mip_tail is not None:
        first = p.mip_tail.first_level
        coarse = p.mip_tail.levels[0].astype(np.float32) * np.float32(TAIL_VALUE_STEP)
        up = apply_channel_ranges(p, upsample_bilinear(coarse, p.height, p.width))
        row["tail"] = {
            "first_level": first,
            "share": round(file_bytes(p.height, p.width, p.gaussians.channels, first) / len(data), 4),
            "psnr": round(psnr(ref, up), 2),
        }
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baked", type=Path, required=True)
    ap.add_argument("--materials", nargs="*", default=fit_bench.BENCHMARK_SET)
    ap.add_argument("--mip-tail", type=float, default=0.0)
    args = ap.parse_args(argv)
    rows = []
    for name in args.materials:
        rows.append(measure(name, args.baked, args.mip_tail))
        print(json.dumps(rows[-1]), flush=True)
    depth = max(r["lod_levels"] for r in rows)
    means = {}
    for lv in range(depth):
        have = [r["prefix"][lv] for r in rows if lv < r["lod_levels"]]
        means[f"levels 0..{lv}"] = {
            "materials": len(have),
            "gaussians_share": round(float(np.mean([h["gaussians_share"] for h in have])), 3),
            "psnr": round(float(np.mean([h["psnr"] for h in have])), 2),
        }
    means["all levels"] = {"psnr": round(float(np.mean([r["prefix"][-1]["psnr"] for r in rows])), 2)}
    tails = [r["tail"] for r in rows if "tail" in r]
    if tails:
        means["tail alone"] = {
            "share": round(float(np.mean([t["share"] for t in tails])), 4),
            "psnr": round(float(np.mean([t["psnr"] for t in tails])), 2),
        }
    print(json.dumps({"materials": len(rows), "means": means}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
