"""Index-design study: strip height and radius bound against decode cost, and
other index schemes, on synthetic Gaussians (docs/FORMAT.md, docs/benchmarks.md "Format and decode cost").

    python benchmarks/index_study.py            # 1024^2, 9 channels, 0.06 bppc (takes ~1 min)
    python benchmarks/index_study.py --size 256 # quicker

``synthetic_fit`` makes Gaussians shaped like a fit at a given rate: half
uniform, half clustered (detail regions), each 3-sigma radius proportional to
the local spacing of its neighbours (clipped to the radius bound), as fits
produce: small Gaussians where they are dense, large ones where sparse.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from texgs.channels import Channel
from texgs.constants import SIGMA_CUTOFF
from texgs.format import QuantConfig, gaussian_constraints, max_gaussians, pack, unpack
from texgs.format.cost import shader_cost
from texgs.format.layout import SEARCH_MARGIN, SECTION_INDEX, index_bytes
from texgs.gaussians import Gaussians


def synthetic_fit(h: int, w: int, c: int, bppc: float, cfg: QuantConfig, seed: int = 0) -> dict:
    """The arguments of texgs.format.pack for Gaussians shaped like a real fit at `bppc` (see module doc)."""
    from scipy.spatial import cKDTree

    n = max_gaussians(int(bppc * h * w * c / 8), c, h, w, cfg)
    rng = np.random.default_rng(seed)
    n_uni = n // 2
    centres = rng.random((24, 2)) * [w, h]
    clustered = centres[rng.integers(0, 24, n - n_uni)] + rng.normal(0, 0.06 * w, (n - n_uni, 2))
    means = np.concatenate([rng.random((n_uni, 2)) * [w, h], clustered])
    means = np.clip(means, 0, [w - 1e-3, h - 1e-3])
    d, _ = cKDTree(means).query(means, k=5)
    spacing = d[:, 1:].mean(1)
    lim = gaussian_constraints(h, w, cfg)
    radius = np.clip(1.5 * spacing * rng.uniform(0.7, 1.3, n), 2.0, cfg.max_radius)
    aniso = np.exp(rng.normal(0, 0.4, n))
    inv = np.stack([SIGMA_CUTOFF / radius, SIGMA_CUTOFF / radius * aniso], 1)
    inv = np.clip(inv, lim["min_inv_scale"], lim["max_inv_scale"])
    gaussians = Gaussians(
        means.astype(np.float32),
        inv.astype(np.float32),
        (rng.random(n) * math.pi).astype(np.float32),
        rng.random((n, c)).astype(np.float32),
        np.full(c, 0.5, np.float32),
    )
    return dict(gaussians=gaussians, channels=[Channel(f"c{i}") for i in range(c)], height=h, width=w, k=10, cfg=cfg)


def index_study(inp: dict, file_bytes: int) -> list[dict]:
    """Index candidates for the Gaussians of synthetic_fit: bytes, share of the file, and mean
    records a texel must evaluate (exact Gaussians found / guaranteed window)."""
    h, w, g = inp["height"], inp["width"], inp["gaussians"]
    m = np.asarray(g.means, np.float64)
    rad = SIGMA_CUTOFF / np.minimum(np.abs(g.inv_scales[:, 0]), np.abs(g.inv_scales[:, 1]))
    n = len(m)
    rows = []
    for t in (16, 32, 64):  # per-tile lists of ids (16-bit if n < 65536)
        nbx, nby = -(-w // t), -(-h // t)
        x0 = np.clip(np.floor((m[:, 0] - rad) / t), 0, nbx - 1)
        x1 = np.clip(np.floor((m[:, 0] + rad) / t), 0, nbx - 1)
        y0 = np.clip(np.floor((m[:, 1] - rad) / t), 0, nby - 1)
        y1 = np.clip(np.floor((m[:, 1] + rad) / t), 0, nby - 1)
        per = (x1 - x0 + 1) * (y1 - y0 + 1)
        grid = np.zeros((nby + 1, nbx + 1))
        for i in range(n):  # area-sum of per-tile list lengths
            grid[int(y0[i]) : int(y1[i]) + 1, int(x0[i]) : int(x1[i]) + 1] += 1
        id_bytes = 2 if n < 65536 else 4
        b = 4 * (nbx * nby + 1) + id_bytes * int(per.sum())
        rows.append(
            {
                "scheme": f"per-tile id lists, tile {t}",
                "index_bytes": b,
                "percent": 100.0 * b / (file_bytes + b),
                "evaluated_mean": float(grid[:nby, :nbx].mean()),
            }
        )
    big_r = float(inp["cfg"].max_radius) + SEARCH_MARGIN
    density = n / (h * w)
    for t in (32, 64, 128):  # home tile + fixed neighbourhood of ceil(R / t) tiles
        nb = -(-h // t) * -(-w // t)
        ring = math.ceil(big_r / t)
        b = index_bytes(n, nb, 1)  # one start per tile, same entry width as the strips
        rows.append(
            {
                "scheme": f"home tile {t} + {2 * ring + 1}x{2 * ring + 1} neighbourhood",
                "index_bytes": b,
                "percent": 100.0 * b / (file_bytes + b),
                "evaluated_mean": density * ((2 * ring + 1) * t) ** 2,
            }
        )
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--channels", type=int, default=9)
    ap.add_argument("--bppc", type=float, default=0.06)
    args = ap.parse_args(argv)
    h = w = args.size
    c = args.channels
    print(
        "| strip rows | radius | index bytes | overhead % | window records mean / max | probes mean "
        "| near records mean / max | covering mean | MACs mean / max | transcendentals mean |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    base = None
    for radius in (32.0, 24.0):
        for strip in (4, 8, 16, 32):
            cfg = QuantConfig(max_radius=radius, strip_height=strip, strip_y_bits=strip.bit_length() + 1)
            inp = synthetic_fit(h, w, c, args.bppc, cfg)
            data = pack(**inp)
            p = unpack(data)
            cst = shader_cost(p)
            idx = next(sec.size for sec in p.sections if sec.id == SECTION_INDEX)
            overhead = 100.0 * (len(data) - p.sections[2].size) / len(data)  # all but the records
            print(
                f"| {strip} | {radius:g} | {idx} | {overhead:.2f} "
                f"| {cst['evaluated_mean']:.1f} / {cst['evaluated_max']} | {cst['probes_mean']:.1f} "
                f"| {cst['near_mean']:.1f} / {cst['near_max']} | {cst['covering_mean']:.1f} "
                f"| {cst['macs_mean']:.0f} / {cst['macs_max']} | {cst['transcendentals_mean']:.1f} |"
            )
            if radius == 32.0 and strip == 8:
                base = (inp, len(data), cst)
    inp, size, cst = base
    print(
        f"\nfile {size} bytes for {inp['gaussians'].n} Gaussians ({8 * size / (h * w * c):.4f} bppc); "
        f"holes {cst['holes_percent']:.2f}% of texels; blended mean {cst['blended_mean']:.1f}"
    )
    print("\n| index scheme | index bytes | % of file | records evaluated per texel (mean) |")
    print("|---|---|---|---|")
    for row in index_study(inp, size):
        print(f"| {row['scheme']} | {row['index_bytes']} | {row['percent']:.1f} | {row['evaluated_mean']:.1f} |")


if __name__ == "__main__":
    main()
