"""Reference decoder: the image function (docs/IMAGE_FUNCTION.md) of a packed
file, from its bytes alone, at texel centres or arbitrary UVs.

Candidates come from the strip index exactly as a shader finds them: a point
p needs the Gaussians whose mean lies within ``radius + SEARCH_MARGIN`` texels
of p (on the torus for wrapped axes), i.e. the strips overlapping
[py - r, py + r] and, inside each (strip, level) range, the x-sorted records
with x in [px - r, px + r]. This file evaluates them in blocks of texels
(vectorised torch); any superset of candidates gives the same image because
the q <= 9 test is exact, and the radius bound guarantees no Gaussian with
q <= 9 lies outside the window.

UV sampling: p = uv * (W, H) texels. A wrapped axis takes p modulo its side
(p - W * floor(p / W)); a clamped axis clamps p into [0.5, W - 0.5].
"""

from __future__ import annotations

import numpy as np
import torch

from ..constants import Q_CUTOFF, SIGMA_CUTOFF
from ..errors import InputError
from .layout import BOX_CUTOFF, REJECT_SLACK, SEARCH_MARGIN
from .reader import Packed, unpack

_BATCH_ELEMS = 1 << 22  # bound of points x candidates evaluated at once


def _as_packed(p) -> Packed:
    return p if isinstance(p, Packed) else unpack(p)


def _intervals(a: float, b: float, period: float, wrap: bool):
    """[a, b] as intervals inside [0, period] (modulo period when wrapped)."""
    if not wrap:
        return [(max(a, 0.0), min(b, period))] if b >= 0 and a <= period else []
    if b - a >= period:
        return [(0.0, period)]
    lo = a - period * np.floor(a / period)
    hi = lo + (b - a)
    return [(lo, hi)] if hi <= period else [(lo, period), (0.0, hi - period)]


def _lod(packed: Packed, lod_limit):
    n = packed.n_levels
    if lod_limit is None:
        return n
    if not 1 <= int(lod_limit) <= n:
        raise InputError(f"LOD limit must be in 1..{n}, got {lod_limit}")
    return int(lod_limit)


def block_candidates(packed: Packed, x0, x1, y0, y1, lod: int) -> np.ndarray:
    """Sorted unique file indices of the Gaussians whose mean lies within the
    search radius of the box [x0, x1] x [y0, y1] (texels), levels < lod."""
    r = packed.radius + SEARCH_MARGIN
    h, w, s = packed.height, packed.width, packed.strip_height
    n_strips, n_lv = packed.header["strip_count"], packed.n_levels
    wx, wy = packed.wrap
    strips = set()
    for lo, hi in _intervals(y0 - r, y1 + r, h, wy):
        strips.update(range(int(lo // s), min(int(hi // s), n_strips - 1) + 1))
    xs = _intervals(x0 - r, x1 + r, w, wx)
    mx = packed.gaussians.means[:, 0]
    parts = []
    for st in sorted(strips):
        for lv in range(lod):
            a, b = packed.index[st * n_lv + lv], packed.index[st * n_lv + lv + 1]
            if a == b:
                continue
            seg = mx[a:b]
            for lo, hi in xs:
                i0 = a + np.searchsorted(seg, lo, "left")
                i1 = a + np.searchsorted(seg, hi, "right")
                if i1 > i0:
                    parts.append(np.arange(i0, i1))
    if not parts:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate(parts))


def uv_to_texels(packed: Packed, uv) -> torch.Tensor:
    """[P, 2] float32 uv -> [P, 2] float32 texel points per the UV sampling rule."""
    uv = torch.as_tensor(np.asarray(uv, dtype=np.float32))
    if uv.dim() != 2 or uv.shape[1] != 2:
        raise InputError(f"uv must be [P, 2], got {tuple(uv.shape)}")
    if not bool(torch.isfinite(uv).all()):
        raise InputError("uv contains NaN or infinite values")
    size = torch.tensor([packed.width, packed.height], dtype=torch.float32)
    p = uv * size
    for a in (0, 1):
        if packed.wrap[a]:
            p[:, a] = p[:, a] - size[a] * torch.floor(p[:, a] / size[a])
        else:
            p[:, a] = p[:, a].clamp(0.5, float(size[a]) - 0.5)
    return p


def _axis_tiles(c: np.ndarray, r: np.ndarray, side: int, tile: int, wrap: bool):
    """Tiles along one axis touched by [c - r, c + r] for each Gaussian: (gaussian [E], tile [E]),
    sorted by Gaussian, each tile once. Wrapped axes split the interval on [0, side)
    (the last tile may be partial, so tile numbers are not simply taken modulo)."""
    nb = -(-side // tile)
    lo, hi = c - r, c + r
    pieces = [(np.maximum(lo, 0.0), np.minimum(hi, float(side)), np.ones(len(c), bool))]
    if wrap:
        full = hi - lo >= side
        pieces = [
            (
                np.where(full, 0.0, np.maximum(lo, 0.0)),
                np.where(full, float(side), np.minimum(hi, float(side))),
                np.ones(len(c), bool),
            ),
            (lo + side, np.full(len(c), float(side)), (lo < 0) & ~full),
            (np.zeros(len(c)), hi - side, (hi > side) & ~full),
        ]
    gs, ts = [], []
    for a, b, use in pieces:
        t0 = np.clip(np.floor(a / tile), 0, nb - 1).astype(np.int64)
        t1 = np.clip(np.floor(b / tile), 0, nb - 1).astype(np.int64)
        cnt = np.where(use & (b >= a), t1 - t0 + 1, 0)
        g = np.repeat(np.arange(len(c)), cnt)
        ts.append(t0[g] + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        gs.append(g)
    key = np.unique(np.concatenate(gs) * nb + np.concatenate(ts))
    return key // nb, key % nb


def _bin_gaussians(packed: Packed, lod: int, tile: int, subset=None, lam_max: float = 0.0):
    """Tile binning for evaluation: (block of each pair, Gaussian of each pair),
    sorted by block then file index, over the Gaussians of levels < lod (among
    `subset`, sorted file indices, when given) whose own 3-sigma box (plus
    SEARCH_MARGIN) touches the tile (on the torus when wrapped). lam_max > 0
    widens each box for a filter footprint of that largest eigenvalue
    (filtered.py): radius sqrt(r^2 + Q_CUTOFF lam_max)."""
    h, w = packed.height, packed.width
    nbx = -(-w // tile)
    gs = packed.gaussians
    keep = np.nonzero(gs.levels < lod)[0] if subset is None else subset[gs.levels[subset] < lod]
    m = gs.means[keep].astype(np.float64)
    r = SIGMA_CUTOFF / np.minimum(np.abs(gs.inv_scales[keep, 0]), np.abs(gs.inv_scales[keep, 1])).astype(np.float64)
    if lam_max > 0:
        r = np.sqrt(r * r + Q_CUTOFF * lam_max)
    r = r + SEARCH_MARGIN
    gx, tx = _axis_tiles(m[:, 0], r, w, tile, packed.wrap[0])
    gy, ty = _axis_tiles(m[:, 1], r, h, tile, packed.wrap[1])
    # Join the x and y tiles of each Gaussian (both lists are sorted by Gaussian).
    cy = np.bincount(gy, minlength=len(keep))
    ystart = np.cumsum(cy) - cy
    rep = cy[gx]
    g = np.repeat(gx, rep)
    k = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    block = ty[ystart[g] + k] * nbx + np.repeat(tx, rep)
    order = np.lexsort((keep[g], block))
    return block[order], keep[g][order]


def _padded_groups(group: np.ndarray, item: np.ndarray, groups: np.ndarray):
    """For sorted group labels [E] and items [E]: (matrix [len(groups), max count]
    of items padded with 0, valid mask) with one row per requested group."""
    starts = np.searchsorted(group, groups, "left")
    ends = np.searchsorted(group, groups, "right")
    cnt = ends - starts
    width = max(1, int(cnt.max()) if len(cnt) else 1)
    cols = np.arange(width)
    valid = cols[None, :] < cnt[:, None]
    pos = np.where(valid, starts[:, None] + cols[None, :], 0)
    mat = np.where(valid, item[np.minimum(pos, max(len(item) - 1, 0))] if len(item) else 0, 0)
    return mat, valid, cnt


def decode_points(packed, points, lod_limit=None, with_counts=False, tile=16, subset=None):
    """The image function at points [P, 2] (texels, already reduced per
    uv_to_texels); subset: sorted file indices that include every Gaussian
    within the search radius of the points (None: all). Returns [P, C] float32 unit values (and, with_counts,
    (covering, near): per point, the Gaussians with q <= 9 and those passing
    the shaders' cheap distance tests: min(w) |dy| and min(w) |dx| <= BOX_CUTOFF,
    then (min(w) dx)^2 + (min(w) dy)^2 <= 9 * REJECT_SLACK)."""
    packed = _as_packed(packed)
    lod = _lod(packed, lod_limit)
    pts = torch.as_tensor(points, dtype=torch.float32)
    c = packed.gaussians.channels
    h, w = packed.height, packed.width
    out = torch.empty(pts.shape[0], c, dtype=torch.float32)
    cover = torch.zeros(pts.shape[0], dtype=torch.int64)
    near = torch.zeros(pts.shape[0], dtype=torch.int64) if with_counts else None
    if pts.shape[0] == 0 or not (packed.gaussians.levels < lod).any():
        out[:] = torch.from_numpy(packed.gaussians.background)
        return (out.numpy(), cover.numpy(), near.numpy()) if with_counts else out.numpy()

    nbx, nby = -(-w // tile), -(-h // tile)
    pn = pts.numpy()
    pbx = np.clip(np.floor(pn[:, 0] / tile), 0, nbx - 1).astype(np.int64)
    pby = np.clip(np.floor(pn[:, 1] / tile), 0, nby - 1).astype(np.int64)
    pblock = pby * nbx + pbx
    porder = np.argsort(pblock, kind="stable")
    blocks = np.unique(pblock)
    pmat, pval, _ = _padded_groups(pblock[porder], porder, blocks)  # [B, Pmax] point ids
    gblock, gitem = _bin_gaussians(packed, lod, tile, subset)
    cmat, cval, ccnt = _padded_groups(gblock, gitem, blocks)  # [B, Mmax] file indices

    g = packed.gaussians.as_torch()
    means, inv, vals, background = g.means, g.inv_scales, g.values, g.background
    cos_all, sin_all = torch.cos(g.rotations), torch.sin(g.rotations)
    period = (float(w) if packed.wrap[0] else None, float(h) if packed.wrap[1] else None)

    # Batch blocks of similar candidate counts so padding stays small.
    border = np.argsort(ccnt, kind="stable")
    pw = pmat.shape[1]
    i = 0
    while i < len(border):
        mm = max(1, int(ccnt[border[i]]))
        j = i
        while j < len(border) and (j - i + 1) * pw * max(mm, int(ccnt[border[j]]), 1) <= _BATCH_ELEMS:
            mm = max(mm, int(ccnt[border[j]]), 1)
            j += 1
        j = max(j, i + 1)
        sel = border[i:j]
        mm = max(1, int(ccnt[sel].max()))
        _eval_batch(
            torch.from_numpy(pmat[sel]),
            torch.from_numpy(pval[sel]),
            torch.from_numpy(cmat[sel, :mm]),
            torch.from_numpy(cval[sel, :mm]),
            pts,
            means,
            inv,
            cos_all,
            sin_all,
            vals,
            background,
            packed.k,
            period,
            out,
            cover,
            near,
        )
        i = j
    return (out.numpy(), cover.numpy(), near.numpy()) if with_counts else out.numpy()


def _eval_batch(
    pid, pvalid, cid, cvalid, pts, means, inv, cos_all, sin_all, vals, background, k, period, out, cover, near=None
):
    """Top-K blend for a batch of B blocks: points pid [B, P] (pvalid), candidate
    file indices cid [B, M] in ascending order (cvalid). Arithmetic in the order
    of texgs/render_ref.py (float32, unfused)."""
    pm, mm = pid.shape[1], cid.shape[1]
    p = pts[pid]  # [B, P, 2]
    m = means[cid]  # [B, M, 2]
    dx = p[:, :, None, 0] - m[:, None, :, 0]  # [B, P, M]
    dy = p[:, :, None, 1] - m[:, None, :, 1]
    if period[0] is not None:
        dx -= period[0] * torch.floor(dx / period[0] + 0.5)
    if period[1] is not None:
        dy -= period[1] * torch.floor(dy / period[1] + 0.5)
    if near is not None:  # the shaders' cheap reject tests, for cost figures
        wmin = torch.minimum(inv[cid][:, :, 0], inv[cid][:, :, 1])[:, None, :]
        ex, ey = wmin * dx, wmin * dy
        passed = (
            (ex.abs() <= BOX_CUTOFF)
            & (ey.abs() <= BOX_CUTOFF)
            & (ex * ex + ey * ey <= Q_CUTOFF * REJECT_SLACK)
            & cvalid[:, None, :]
        )
        del ex, ey
        near[pid[pvalid]] = passed.sum(2)[pvalid]
        del passed
    cos, sin = cos_all[cid][:, None, :], sin_all[cid][:, None, :]
    u = cos * dx
    u += sin * dy
    v = (-sin) * dx
    v += cos * dy
    del dx, dy
    u *= inv[cid][:, None, :, 0]
    v *= inv[cid][:, None, :, 1]
    u *= u
    v *= v
    q = u.add_(v)  # [B, P, M], as render_ref computes it
    del v
    ok = q <= Q_CUTOFF
    ok &= cvalid[:, None, :]
    kk = min(k, mm)
    # Exact (q, index) order: non-negative float32 bit patterns sort like the floats, and
    # candidates are in ascending file index, so (q bits << 16 | slot) breaks ties by index.
    key = q.view(torch.int32).to(torch.int64)
    key.masked_fill_(~ok, 0x7F800000)
    key <<= 16
    key += torch.arange(mm, dtype=torch.int64)
    sel = torch.topk(key, kk, dim=2, largest=False, sorted=True).indices  # [B, P, kk]
    del key
    qsel = torch.gather(q, 2, sel)
    valid = torch.gather(ok, 2, sel)
    covered = ok.sum(2)
    del q, ok
    g = torch.exp(-0.5 * qsel) * valid.to(qsel.dtype)
    ssum = g.sum(2, keepdim=True)
    has = valid.any(2, keepdim=True)
    gid = torch.gather(cid[:, None, :].expand(-1, pm, -1), 2, sel)  # [B, P, kk] file indices
    blended = torch.einsum("bpk,bpkc->bpc", g, vals[gid]) / torch.where(has, ssum, torch.ones_like(ssum))
    res = torch.where(has, blended, background[None, None, :])
    out[pid[pvalid]] = res[pvalid]
    cover[pid[pvalid]] = covered[pvalid]


#: Largest image decode() builds at once (a tiny valid file may declare 65535^2
#: texels of background); sample larger ones through decode_uv in pieces.
MAX_DECODE_VALUES = 1 << 28


def decode(packed, lod_limit=None, apply_range=False) -> np.ndarray:
    """[H, W, C] float32: the image function at every texel centre. Unit values
    unless apply_range (then each channel is mapped to its stored range).
    Beyond the result it holds one row band's working set (decode_bands)."""
    packed = _as_packed(packed)
    h, w = packed.height, packed.width
    if h * w * packed.gaussians.channels > MAX_DECODE_VALUES:
        raise InputError(
            f"{w}x{h}x{packed.gaussians.channels} is too large to decode at once "
            f"(limit {MAX_DECODE_VALUES} values); sample it with decode_uv in pieces"
        )
    img = np.empty((h, w, packed.gaussians.channels), np.float32)
    for y0, band in decode_bands(packed, lod_limit):
        img[y0 : y0 + band.shape[0]] = band
    return apply_channel_ranges(packed, img) if apply_range else img


#: Texels per row band of decode_bands (rounded to whole tile rows): bounds the
#: per-point arrays of one decode_points call (~100 bytes a texel) at any size.
BAND_TEXELS = 1 << 18


def band_rows(width: int, tile: int = 16) -> int:
    """Rows of each band decode_bands yields for this width (a multiple of the tile)."""
    return max(tile, BAND_TEXELS // max(width, 1) // tile * tile)


def decode_bands(packed, lod_limit=None):
    """Yield (y0, [rows, W, C] float32 unit values) for consecutive row bands
    from the top: the same image as decode() in bounded memory. Each band
    evaluates only the Gaussians within the search radius of its rows."""
    packed = _as_packed(packed)
    return _bands(packed, _lod(packed, lod_limit))  # checks the LOD limit before the first band


def _bands(packed: Packed, lod: int):
    h, w = packed.height, packed.width
    rows = band_rows(w)
    xs = torch.arange(w, dtype=torch.float32) + 0.5
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        ys = torch.arange(y0, y1, dtype=torch.float32) + 0.5
        pts = torch.stack([xs.repeat(y1 - y0), ys.repeat_interleave(w)], 1)
        near = block_candidates(packed, 0.0, float(w), y0 + 0.5, y1 - 0.5, lod)
        yield y0, decode_points(packed, pts, lod, subset=near).reshape(y1 - y0, w, -1)


def decode_uv(packed, uv, lod_limit=None) -> np.ndarray:
    """[P, C] float32 unit values at uv [P, 2] (see the UV sampling rule above)."""
    packed = _as_packed(packed)
    return decode_points(packed, uv_to_texels(packed, uv), lod_limit)


def apply_channel_ranges(packed: Packed, img: np.ndarray) -> np.ndarray:
    """Unit values [..., C] -> stored values: each channel's range and transfer (texgs.transfer)."""
    from ..transfer import to_stored

    lo = np.array([c.range[0] for c in packed.channels], np.float32)
    hi = np.array([c.range[1] for c in packed.channels], np.float32)
    return to_stored(img, lo, hi, [c.colour_space == "log2" for c in packed.channels])
