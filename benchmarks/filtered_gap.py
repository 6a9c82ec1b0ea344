"""Where filtered sampling's gap to the "ideal" (the box-filtered decode) comes from,
per mip level, against the source's box mip (docs/benchmarks.md "Where the gap to the
ideal comes from"). Columns, PSNR over all channels (stored values):

  ideal       the decode at level 0, box-filtered to L
  gdec        the decode at level 0 filtered with a Gaussian of the box's variance
              (n^2 - 1) / 12 on the level-0 grid, at the level-L centres: the shape alone
  gsrc_x1.0   the source filtered that way: the shape's ceiling against box mips
  gsrc_x1.5   ... with 1.5 times the variance
  top16/top64 the filtered sampler (decode_level) blending the top 16 / 64 candidates
  all         the filtered sampler as defined (every candidate)
  ss2x2       four filtered samples at (+-n/4, +-n/4) with the 2^(L-1)-texel footprint,
              top 16 each, averaged

    TEXGS_CORPUS=<sources> python benchmarks/filtered_gap.py --baked OUT --materials ambientcg/Bricks102 ...

OUT is a `texgs bake` output folder (OUT/<material>/<name>.texgs). Prints one JSON
line per material, then the means.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_bench  # noqa: E402  (corpus root and the material lists)


def filter_at_centres(img: np.ndarray, level: int, var: float, wrap, box: bool = False) -> np.ndarray:
    """[H, W, C] level-0 image filtered separably with a Gaussian of variance var per axis
    (or, box=True, the 2^level box) at the level-`level` texel centres 2^level (i + 0.5):
    the kernel is sampled at the level-0 texel centres around each level centre."""
    n = 1 << level
    out = img.astype(np.float64)
    for axis, wrapped in ((0, wrap[1]), (1, wrap[0])):
        r = int(np.ceil(4 * np.sqrt(max(var, 0.01)))) + n
        x = np.arange(-r, r + 1, dtype=np.float64) + 0.5  # texel centres around a texel boundary
        k = (np.abs(x) < n / 2).astype(np.float64) if box else np.exp(-0.5 * x * x / var)
        k /= k.sum()
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r + 1, r + 1)
        padded = np.pad(out, pad, mode="wrap" if wrapped else "edge")
        centres = np.arange(-(-out.shape[axis] // n)) * n + n // 2  # the boundary at each level centre
        res = 0.0
        for i, kv in enumerate(k):  # texel centres - r + i + 0.5; padded index + r + 1
            res = res + kv * np.take(padded, centres + i + 1, axis=axis)
        out = res
    return out.astype(np.float32)


def supersampled(packed, level: int, k: int) -> np.ndarray:
    """Four filtered samples at (+-n/4, +-n/4) with the level-1-smaller footprint, averaged."""
    from texgs.format.filtered import (
        decode_points_filtered,
        effective_footprint,
        footprint_cap,
        level_footprint,
        level_points,
        level_size,
    )

    n = 1 << level
    h, w = level_size(packed, level)
    pts = level_points(packed, level).numpy()
    dx, dy = level_footprint(level - 1)
    fp = effective_footprint(np.repeat(dx, len(pts), 0), np.repeat(dy, len(pts), 0), footprint_cap(packed))
    acc = 0.0
    for ox in (-n / 4, n / 4):
        for oy in (-n / 4, n / 4):
            q = pts + np.array([ox, oy], np.float32)
            for ax, side in ((0, packed.width), (1, packed.height)):  # the UV rule
                q[:, ax] = np.mod(q[:, ax], side) if packed.wrap[ax] else np.clip(q[:, ax], 0.5, side - 0.5)
            acc = acc + decode_points_filtered(packed, q, fp, k=k, use_tail=False)
    return (acc / 4).reshape(h, w, -1)


def measure(name: str, baked: Path, levels: list[int]) -> dict:
    from texgs.compare import mips
    from texgs.compare.material import load_materials
    from texgs.format import decode, unpack
    from texgs.format.decoder import apply_channel_ranges
    from texgs.format.filtered import decode_level
    from texgs.metrics import psnr

    leaf = name.split("/")[-1]
    packed = unpack((baked / name / f"{leaf}.texgs").read_bytes())
    (material,) = load_materials(fit_bench.corpus_root() / name)
    ref = mips.mip_chain(material.data, max(levels))
    dec0 = decode(packed, apply_range=True)
    ideal = mips.mip_chain(dec0, max(levels))
    row = {"material": name, "levels": {}}
    for lv in levels:
        n = 1 << lv
        var = (n * n - 1) / 12.0
        r = ref[lv]
        fig = {
            "ideal": psnr(r, ideal[lv]),
            "gdec": psnr(r, filter_at_centres(dec0, lv, var, packed.wrap)),
            "gsrc_x1.0": psnr(r, filter_at_centres(material.data, lv, var, packed.wrap)),
            "gsrc_x1.5": psnr(r, filter_at_centres(material.data, lv, 1.5 * var, packed.wrap)),
        }
        for label, k in (("top16", 16), ("top64", 64), ("all", None)):
            fig[label] = psnr(r, apply_channel_ranges(packed, decode_level(packed, lv, k=k, use_tail=False)))
        fig["ss2x2"] = psnr(r, apply_channel_ranges(packed, supersampled(packed, lv, 16)))
        row["levels"][str(lv)] = {k: round(v, 2) for k, v in fig.items()}
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baked", type=Path, required=True, help="texgs bake output folder")
    ap.add_argument("--materials", nargs="*", default=fit_bench.BENCHMARK_SET)
    ap.add_argument("--levels", default="2,3,4,5")
    args = ap.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    rows = []
    for name in args.materials:
        rows.append(measure(name, args.baked, levels))
        print(json.dumps(rows[-1]), flush=True)
    keys = list(rows[0]["levels"][str(levels[0])])
    means = {lv: {k: round(float(np.mean([r["levels"][str(lv)][k] for r in rows])), 2) for k in keys} for lv in levels}
    print(json.dumps({"materials": len(rows), "mean_psnr_by_level": means}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
