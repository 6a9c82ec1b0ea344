"""CPU time of choosing one 256-entry value palette (texgs/format/palette.py) as
the Gaussian count grows, and what training on a sample costs in quality.

    python benchmarks/palette_cost.py MATERIAL_DIR --counts 2000 8000 35000 140000

The values stand in for a fit's: the material's texels (its first three maps'
RGB) at N random positions plus a
little noise, so there are N distinct values with the material's spread. Per
count and per 3-channel group: CPU seconds of the k-means (build) and of the
assignment pass over every value (assign), the mean squared error of each
value to its nearest entry, and the same with the k-means trained on every
value (KMEANS_POINTS_PER_ENTRY unbounded; equal to the default up to 256
values per entry). One JSON line per count and group.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from texgs.format import palette


def texel_values(material: Path) -> np.ndarray:
    """[texels, 3 * maps] unit values of the material's first three colour maps (sorted by name)."""
    maps, shape = [], None
    for f in sorted(material.iterdir()):
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is not None and shape in (None, img.shape):
            shape = img.shape
            maps.append(img[..., ::-1].reshape(-1, 3) / 255.0)
    return np.concatenate(maps[:3], 1)


def cpu(fn):
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("material", type=Path)
    ap.add_argument("--counts", type=int, nargs="+", default=[2000, 8000, 35000, 140000])
    ap.add_argument("--entries", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    px = texel_values(args.material)
    rng = np.random.default_rng(args.seed)
    default_cap = palette.KMEANS_POINTS_PER_ENTRY
    for n in args.counts:
        values = np.clip(px[rng.integers(len(px), size=n)] + rng.normal(0, 0.01, (n, px.shape[1])), 0, 1)
        for g in range(px.shape[1] // 3):
            x = np.ascontiguousarray(values[:, 3 * g : 3 * g + 3])
            row = {"gaussians": n, "group": g, "entries": args.entries}
            for name, cap in (("", default_cap), ("all_values_", 1 << 62)):
                palette.KMEANS_POINTS_PER_ENTRY = cap
                centres, build = cpu(lambda: palette._kmeans(x, args.entries, args.seed))
                index, assign = cpu(lambda: palette.nearest_entry(x, centres))
                row[name + "build_s"] = round(build, 3)
                row[name + "assign_s"] = round(assign, 3)
                row[name + "mse"] = float(f"{((x - centres[index]) ** 2).mean():.4e}")
            palette.KMEANS_POINTS_PER_ENTRY = default_cap
            row["build_us_per_gaussian"] = round(row["build_s"] / n * 1e6, 2)
            row["all_values_build_us_per_gaussian"] = round(row["all_values_build_s"] / n * 1e6, 2)
            row["mse_change_pct"] = round(100 * (row["mse"] / row["all_values_mse"] - 1), 2)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
