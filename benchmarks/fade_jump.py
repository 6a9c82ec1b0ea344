"""How far the filtered value moves from the point value as a pixel's footprint grows past one
texel (docs/benchmarks.md "Fade from the point value"). At every texel centre of each baked file,
the filtered value with an isotropic pixel of s texels (texgs_sample_grad's footprint for
ddx = (s, 0), ddy = (0, s) texels) against the point value (s = 1: a zero effective footprint);
per texel the largest change over the channels, then its max and 99.9th percentile over the
texels, for each s; also the change between successive s ("step"). Prints one JSON line per
material and fade band, then a markdown table.

    python benchmarks/fade_jump.py --baked OUT --materials gltf-samples/BoomBox
    python benchmarks/fade_jump.py --baked OUT --fade-lam 0 0.0625 0.125 0.2   # band widths

--fade-lam sets filtered.FADE_LAM for the run (0: no band, every candidate from any lam > 0);
the default is the committed value. The mip tail is ignored (--use-tail to include it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FOOTPRINTS = (1.001, 1.01, 1.1, 1.2, 2**0.5, 2.0)


def jumps(packed, sizes, use_tail: bool) -> dict:
    from texgs.format import filtered as F

    pts = F.level_points(packed, 0).numpy()
    n = len(pts)
    cap = F.footprint_cap(packed)

    def at(s):
        fp = F.effective_footprint(np.tile([[s, 0.0]], (n, 1)), np.tile([[0.0, s]], (n, 1)), cap)
        return F.decode_points_filtered(packed, pts, fp, use_tail=use_tail)

    base = at(1.0)
    prev, out = base, {}
    for s in sizes:
        v = at(s)
        d = np.abs(v - base).max(1)
        st = np.abs(v - prev).max(1)
        out[f"{s:.4g}"] = {
            "lam": float(F.footprint_lambda(F.effective_footprint([[s, 0.0]], [[0.0, s]], cap))[0]),
            "max": float(d.max()),
            "p999": float(np.quantile(d, 0.999)),
            "step_max": float(st.max()),
        }
        prev = v
    return out


def main(argv=None) -> int:
    from texgs.format import filtered as F
    from texgs.format import unpack

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baked", type=Path, required=True, help="a texgs bake output folder")
    ap.add_argument("--materials", nargs="+", required=True, help="corpus-relative material folders")
    ap.add_argument("--fade-lam", type=float, nargs="*", help="FADE_LAM values to measure (default: the committed)")
    ap.add_argument("--sizes", type=float, nargs="*", default=list(FOOTPRINTS), help="pixel widths in texels")
    ap.add_argument("--use-tail", action="store_true", help="include a file's mip tail")
    args = ap.parse_args(argv)
    bands = args.fade_lam if args.fade_lam else [F.FADE_LAM]
    rows = []
    committed = F.FADE_LAM
    try:
        for material in args.materials:
            path = args.baked / material / f"{material.split('/')[-1]}.texgs"
            packed = unpack(path.read_bytes(), name=str(path))
            for band in bands:
                F.FADE_LAM = band
                row = {
                    "material": material,
                    "fade_lam": band,
                    "k": packed.k,
                    "jumps": jumps(packed, args.sizes, args.use_tail),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        F.FADE_LAM = committed
    print()
    sizes = list(rows[0]["jumps"])
    print("| material | FADE_LAM | " + " | ".join(f"{s} max / p99.9" for s in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for r in rows:
        cells = " | ".join(f"{r['jumps'][s]['max']:.4f} / {r['jumps'][s]['p999']:.4f}" for s in sizes)
        print(f"| {r['material']} | {r['fade_lam']:g} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
