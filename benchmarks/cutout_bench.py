"""Exact cutouts: how many texels of each mask channel land on the wrong side
of the alpha-test cutoff after a fit, with and without the cutout loss term,
and what the term costs the other channels (docs/fitting.md "Exact cutouts").

    python benchmarks/cutout_bench.py                      # every corpus material with a mask, 0.06 bppc
    python benchmarks/cutout_bench.py --weights 0 1 4 --size 256 --materials godot-decals/decal_scifi_1

Prints one JSON object: per material and cutout_weight, the wrong-side share
of each mask channel (of all texels, from the packed file as decoded) and the
least bytes an exact side channel listing those texels would take, the
PSNR of the other channels together and of the mask channels, bppc and
seconds (contended on a shared machine: prefer the other figures). A weight
of 0 is the fit without the term (the channels are still detected and
measured). --size N area-downsamples each material to N x N first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_bench import corpus_root, load  # noqa: E402


def opacity_materials(root: Path) -> list[str]:
    """Corpus-relative keys of the materials that have an opacity channel (from headers)."""
    from texgs import ingest

    keys = []
    for info in ingest.load_all(root, header_only=True):
        if hasattr(info, "channels") and any(c.group == "opacity" for c in info.channels):
            keys.append(Path(info.folder).relative_to(root).as_posix())
    return sorted(set(keys))


def side_channel_bytes(wrong: int, texels: int) -> int:
    """Bytes an exact side channel listing the wrong texels needs at least:
    log2 C(texels, wrong) bits, the entropy of which texels they are (any coder
    of their positions, run lengths or a quadtree, pays this or more)."""
    bits = (math.lgamma(texels + 1) - math.lgamma(wrong + 1) - math.lgamma(texels - wrong + 1)) / math.log(2)
    return math.ceil(bits / 8)


def psnr_of(target: np.ndarray, decoded: np.ndarray, idx: list[int]) -> float | None:
    from texgs import metrics

    if not idx:
        return None
    return round(float(metrics.psnr(target[..., idx], decoded[..., idx])), 3)


def main(argv=None) -> int:
    import torch

    from texgs.fit import Budget, FitConfig, fit_material
    from texgs.fit.cutout import select

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--materials",
        nargs="*",
        help="corpus-relative material folders (default: those with an opacity channel; no mask: skipped)",
    )
    ap.add_argument("--bppc", type=float, default=0.06)
    ap.add_argument("--weights", nargs="*", type=float, default=[0.0, FitConfig().cutout_weight])
    ap.add_argument("--alpha-test", choices=["auto", "on"], default="auto")
    ap.add_argument("--size", type=int, default=0, help="downsample to SIZE x SIZE first (0 = full)")
    ap.add_argument("--steps", type=int, help="override the default schedule's steps")
    args = ap.parse_args(argv)

    root = corpus_root()
    materials = args.materials or opacity_materials(root)
    rows = []
    for key in materials:
        material = load(key, args.size)
        if select(torch.from_numpy(material.pixels), material.channels, args.alpha_test, 0.5, 1.0) is None:
            print(f"{key}: no mask channel under alpha_test {args.alpha_test}, skipped", file=sys.stderr)
            continue
        for weight in args.weights:
            changes = {"cutout_weight": weight, "alpha_test": args.alpha_test}
            if args.steps:
                changes["steps"] = args.steps
            t0 = time.monotonic()
            r = fit_material(material, Budget(bppc=args.bppc), FitConfig(**changes), progress="off", label=key)
            seconds = time.monotonic() - t0
            cut = r.metrics.get("cutout")
            masks = [] if cut is None else [c["index"] for c in cut["channels"]]
            others = [i for i in range(len(material.channels)) if i not in masks]
            decoded = r.render()
            for mask in [] if cut is None else cut["channels"]:
                mask["side_channel_bytes_min"] = side_channel_bytes(mask["wrong_texels"], r.width * r.height)
            rows.append(
                {
                    "material": key,
                    "size": [r.width, r.height, len(material.channels)],
                    "cutout_weight": weight,
                    "bppc": round(r.metrics["bppc"], 5),
                    "gaussians": r.n,
                    "psnr": round(r.metrics["psnr"], 3),
                    "psnr_other_channels": psnr_of(material.pixels, decoded, others),
                    "psnr_mask_channels": psnr_of(material.pixels, decoded, masks),
                    "masks": [] if cut is None else cut["channels"],
                    "seconds_contended": round(seconds, 1),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    summary = {}
    for weight in args.weights:
        sel = [r for r in rows if r["cutout_weight"] == weight and r["masks"]]
        if sel:
            summary[str(weight)] = {
                "mean_wrong_side": float(np.mean([m["wrong_side"] for r in sel for m in r["masks"]])),
                "max_wrong_side": float(np.max([m["wrong_side"] for r in sel for m in r["masks"]])),
                "mean_psnr_other_channels": float(np.mean([r["psnr_other_channels"] for r in sel])),
            }
    out = {
        "bench": "cutout",
        "bppc": args.bppc,
        "size": args.size or "full",
        "alpha_test": args.alpha_test,
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows,
        "summary": summary,
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
