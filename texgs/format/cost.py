"""Decoding cost of a packed file (docs/FORMAT.md, docs/benchmarks.md "Format and decode cost").

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
"""

from __future__ import annotations

import math

import numpy as np

from .decoder import _intervals, decode_points
from .layout import BOX_CUTOFF, SEARCH_MARGIN
from .reader import Packed, unpack

MACS_Y_REJECT = 1  # window record rejected by min(w) |dy|
MACS_X_REJECT = 2  # ... by min(w) |dx|
MACS_CIRCLE_TEST = 4  # reaching the circle test (ex^2 + ey^2)
MACS_PER_NEAR_RECORD = 8


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
    wmin = np.minimum(p.gaussians.inv_scales[:, 0], p.gaussians.inv_scales[:, 1]).astype(np.float64)
    rho = BOX_CUTOFF / wmin  # |d| beyond which a box test rejects
    for y in range(h):
        py = y + 0.5
        strips = set()
        for lo, hi in _intervals(py - r, py + r, h, p.wrap[1]):
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
            x, rr = p.gaussians.means[i, 0].astype(np.float64), rho[i]
            dy = np.abs(py - p.gaussians.means[i, 1].astype(np.float64))
            if p.wrap[1]:
                dy = np.minimum(dy, h - dy)
            near_y = dy <= rr
            evaluated[y] = _interval_counts(x - r, x + r, w, p.wrap[0])
            pass_y[y] = _interval_counts(x[near_y] - r, x[near_y] + r, w, p.wrap[0])
            pass_xy[y] = _interval_counts(x[near_y] - rr[near_y], x[near_y] + rr[near_y], w, p.wrap[0])
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    _, cover, near = decode_points(p, np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32), lod, with_counts=True)
    blended = np.minimum(cover, p.k)
    c = p.gaussians.channels
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
