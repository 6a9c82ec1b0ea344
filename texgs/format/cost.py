"""Decoding cost and index-design figures (docs/FORMAT.md, docs/benchmarks.md "Format and decode cost").

    python -m texgs.format.cost            # 1024^2, 9 channels, 0.06 bppc (takes ~1 min)
    python -m texgs.format.cost --size 256 # quicker

``shader_cost`` counts, per texel, what the engine shaders do: index probes
(binary-search steps), window records (x inside the window of a strip inside
the window: position and inverse scales decoded, then the cheap distance
tests), near records (passing them: rotation decoded, full q), covering
Gaussians (q <= 9) and blended ones (min(K, covering)). The cheap tests, in
order: ey = min(w) dy, |ey| > BOX_CUTOFF rejects (1 multiply); ex = min(w) dx,
|ex| > BOX_CUTOFF rejects (2 in all); ex^2 + ey^2 > 9 * slack rejects (4 in
all). y goes first: a strip window is up to S rows taller than wide.
Multiply-adds per texel: those + 8 per near record (u, v: 2 each; w*u, w*v: 1
each; q: 2) + (C + 1) per blended Gaussian (C channel accumulations and the
weight sum) + C (normalisation). Position and inverse-scale dequantisation
(one or two multiplies per field) is not counted; cos, sin (per near record)
and exp (per blended) are counted separately as transcendentals.

``synthetic_fit`` makes Gaussians shaped like a fit at a given rate: half
uniform, half clustered (detail regions), each 3-sigma radius proportional to
the local spacing of its neighbours (clipped to the radius bound), as fits
produce: small Gaussians where they are dense, large ones where sparse.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from .decoder import decode_points
from .layout import BOX_CUTOFF, SEARCH_MARGIN, SECTION_INDEX, index_bytes
from .quant import QuantConfig, gaussian_constraints, max_gaussians
from .reader import Packed, unpack
from .writer import ChannelDesc, PackInput, pack

MACS_Y_REJECT = 1  # window record rejected by min(w) |dy|
MACS_X_REJECT = 2  # ... by min(w) |dx|
MACS_CIRCLE_TEST = 4  # reaching the circle test (ex^2 + ey^2)
MACS_PER_NEAR_RECORD = 8


def synthetic_fit(h: int, w: int, c: int, bppc: float, cfg: QuantConfig, seed: int = 0) -> PackInput:
    """PackInput of Gaussians shaped like a real fit at `bppc` (see module doc)."""
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
    inv = np.stack([3.0 / radius, 3.0 / radius * aniso], 1)
    inv = np.clip(inv, lim["min_inv_scale"], lim["max_inv_scale"])
    return PackInput(
        h,
        w,
        [ChannelDesc(f"c{i}") for i in range(c)],
        means.astype(np.float32),
        inv.astype(np.float32),
        (rng.random(n) * math.pi).astype(np.float32),
        rng.random((n, c)).astype(np.float32),
        np.full(c, 0.5, np.float32),
        k=10,
        cfg=cfg,
    )


def _interval_counts(lo: np.ndarray, hi: np.ndarray, side: int, wrap: bool) -> np.ndarray:
    """[side] number of the closed intervals [lo_i, hi_i] (texels) holding each
    texel centre j + 0.5; on a wrapped axis the intervals are taken mod side."""
    j0 = np.ceil(lo - 0.5).astype(np.int64)
    j1 = np.floor(hi - 0.5).astype(np.int64)
    diff = np.zeros(side + 1, np.int64)
    if wrap:
        full = j1 - j0 + 1 >= side
        diff[0] += int(full.sum())
        diff[side] -= int(full.sum())
        j0, j1 = j0[~full], j1[~full]
        s0 = np.mod(j0, side)
        e0 = s0 + (j1 - j0)  # may pass side: split
        first_end = np.minimum(e0, side - 1)
        np.add.at(diff, s0, 1)
        np.add.at(diff, first_end + 1, -1)
        over = e0 >= side
        np.add.at(diff, np.zeros(int(over.sum()), np.int64), 1)
        np.add.at(diff, e0[over] - side + 1, -1)
    else:
        j0, j1 = np.clip(j0, 0, side), np.clip(j1, -1, side - 1)
        ok = j1 >= j0
        np.add.at(diff, j0[ok], 1)
        np.add.at(diff, j1[ok] + 1, -1)
    return np.cumsum(diff[:side])


def shader_cost(packed, lod_limit=None) -> dict:
    """Per-texel work of the engine shaders at every texel centre (see module doc)."""
    p: Packed = packed if isinstance(packed, Packed) else unpack(packed)
    h, w, s, nl = p.height, p.width, p.strip_height, p.n_levels
    lod = nl if lod_limit is None else lod_limit
    r = p.radius + SEARCH_MARGIN
    n_strips = p.header["strip_count"]
    evaluated = np.zeros((h, w), np.int64)  # window records: x within r of the texel
    probes = np.zeros(h, np.int64)
    pass_y = np.zeros((h, w), np.int64)  # window records passing the y box test
    pass_xy = np.zeros((h, w), np.int64)  # ... and the x box test (reach the circle test)
    cells = [(st, lv) for st in range(n_strips) for lv in range(lod)]
    span = {cl: slice(int(p.index[cl[0] * nl + cl[1]]), int(p.index[cl[0] * nl + cl[1] + 1])) for cl in cells}
    wmin = np.minimum(p.inv_scales[:, 0], p.inv_scales[:, 1]).astype(np.float64)
    rho = BOX_CUTOFF / wmin  # |d| beyond which a box test rejects
    for y in range(h):
        py = y + 0.5
        strips = set()
        for lo, hi in _y_intervals(py - r, py + r, h, p.wrap[1]):
            strips.update(range(max(int(lo // s), 0), min(int(hi // s), n_strips - 1) + 1))
        recs = []
        for st in strips:
            for lv in range(lod):
                sl = span[(st, lv)]
                if sl.stop > sl.start:
                    probes[y] += math.ceil(math.log2(sl.stop - sl.start + 1))
                    recs.append(np.arange(sl.start, sl.stop))
        if recs:
            i = np.concatenate(recs)
            x, rr = p.means[i, 0].astype(np.float64), rho[i]
            dy = np.abs(py - p.means[i, 1].astype(np.float64))
            if p.wrap[1]:
                dy = np.minimum(dy, h - dy)
            near_y = dy <= rr
            evaluated[y] = _interval_counts(x - r, x + r, w, p.wrap[0])
            pass_y[y] = _interval_counts(x[near_y] - r, x[near_y] + r, w, p.wrap[0])
            pass_xy[y] = _interval_counts(x[near_y] - rr[near_y], x[near_y] + rr[near_y], w, p.wrap[0])
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    _, cover, near = decode_points(p, np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32), lod, with_counts=True)
    blended = np.minimum(cover, p.k)
    c = p.values.shape[1]
    ev, py_, pxy = evaluated.ravel(), pass_y.ravel(), pass_xy.ravel()
    macs = (
        MACS_Y_REJECT * (ev - py_)
        + MACS_X_REJECT * (py_ - pxy)
        + MACS_CIRCLE_TEST * pxy
        + MACS_PER_NEAR_RECORD * near
        + (c + 1) * blended
        + c
    )
    return {
        "texels": h * w,
        "gaussians": int(p.header["gaussian_count"]),
        "channels": c,
        "k": p.k,
        "evaluated_mean": float(evaluated.mean()),
        "evaluated_max": int(evaluated.max()),
        "covering_mean": float(cover.mean()),
        "covering_max": int(cover.max()),
        "blended_mean": float(blended.mean()),
        "probes_mean": float(probes.mean()),
        "probes_max": int(probes.max()),
        "macs_mean": float(macs.mean()),
        "macs_max": int(macs.max()),
        "near_mean": float(near.mean()),
        "near_max": int(near.max()),
        "circle_tests_mean": float(pxy.mean()),
        "transcendentals_mean": float(2 * near.mean() + blended.mean()),
        "holes_percent": float(100.0 * (cover == 0).mean()),
    }


def _y_intervals(a, b, side, wrap):
    if not wrap:
        return [(max(a, 0.0), min(b, float(side)))]
    if b - a >= side:
        return [(0.0, float(side))]
    lo = a - side * math.floor(a / side)
    hi = lo + (b - a)
    return [(lo, hi)] if hi <= side else [(lo, float(side)), (0.0, hi - side)]


def index_study(inp: PackInput, file_bytes: int) -> list[dict]:
    """Index candidates for these Gaussians: bytes, share of the file, and mean
    records a texel must evaluate (exact Gaussians found / guaranteed window)."""
    h, w = inp.height, inp.width
    m = np.asarray(inp.means, np.float64)
    rad = 3.0 / np.minimum(np.abs(inp.inv_scales[:, 0]), np.abs(inp.inv_scales[:, 1]))
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
    big_r = float(inp.cfg.max_radius) + SEARCH_MARGIN
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
            data = pack(inp)
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
        f"\nfile {size} bytes for {len(inp.means)} Gaussians ({8 * size / (h * w * c):.4f} bppc); "
        f"holes {cst['holes_percent']:.2f}% of texels; blended mean {cst['blended_mean']:.1f}"
    )
    print("\n| index scheme | index bytes | % of file | records evaluated per texel (mean) |")
    print("|---|---|---|---|")
    for row in index_study(inp, size):
        print(f"| {row['scheme']} | {row['index_bytes']} | {row['percent']:.1f} | {row['evaluated_mean']:.1f} |")


if __name__ == "__main__":
    main()
