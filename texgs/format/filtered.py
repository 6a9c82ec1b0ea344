"""Reference filtered sampling: the filtered image function of
docs/IMAGE_FUNCTION.md ("Filtered value") of a packed file, at arbitrary
points and pixel footprints. The truth the engine shaders' texgs_sample_grad
and texgs_sample_level are tested against.

A footprint is the UV Jacobian of a pixel (ddx, ddy). It becomes a
covariance in texels, the variance one texel already holds is taken off
(``effective_footprint``), it is widened past mip level 2 (``filter_footprint``),
and each Gaussian is convolved exactly with that Gaussian filter: covariance
widened, amplitude 1 / sqrt(det(I + T)) folded into its q as + log det(I + T).
Every candidate (q' <= 9) is blended and normalised (no top-K: the file's K is
the point function's) from lam = FADE_LAM; below it the candidates outside the file's
top K are weighted lam / FADE_LAM, so the value fades continuously from the point function.
A zero effective footprint is the point function itself (``decode_points``).

Evaluation mirrors decoder.decode_points: points are grouped by footprint size
(each group bins the Gaussians by their widened 3-sigma boxes, a superset of
the candidates; the q' <= 9 test is exact), then blocks of texels are
evaluated as vectorised torch in float32, in the operation order written in
the spec.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..constants import Q_CUTOFF
from ..errors import InputError
from . import mip_tail
from .decoder import _as_packed, _bin_gaussians, _lod, _padded_groups, decode_points, uv_to_texels
from .layout import BOX_CUTOFF, REJECT_SLACK, SEARCH_MARGIN
from .reader import Packed

#: Variance of one texel (a unit box): what a texel centre's value already averages.
TEXEL_VARIANCE = 1.0 / 12.0
#: The Gaussians' filter is the effective footprint widened by 1 + WIDEN_MAX_EXTRA * t,
#: t = clamp((lam - WIDEN_FROM) * WIDEN_RATE, 0, 1): none up to lam = 15 / 12 (a 4-texel box,
#: mip level 2), WIDEN_MAX_EXTRA from lam = 63 / 12 (level 3). A Gaussian of the box's variance
#: is measured to be narrower than a box mip looks (docs/IMAGE_FUNCTION.md "Filtered value").
WIDEN_FROM = 1.25
WIDEN_RATE = 0.25
WIDEN_MAX_EXTRA = 0.5
#: Fade band (0, FADE_LAM) of the largest eigenvalue lam: the candidates outside the file's top K
#: (order (q~, index)) are weighted a = lam / FADE_LAM, the top K 1, so the value is continuous
#: from the point function (a = 0) to the blend of every candidate (lam >= FADE_LAM). Below mip
#: level 1 (lam = 0.25), so levels >= 1 blend every candidate. Chosen by measurement
#: (docs/benchmarks.md "Fade from the point value").
FADE_LAM = 0.125
_BATCH_ELEMS = 1 << 21


def footprint_cap(packed: Packed) -> float:
    """Largest footprint variance (per eigen-axis, texels^2): a box as wide as the larger side."""
    return float(max(packed.width, packed.height)) ** 2 * TEXEL_VARIANCE


def effective_footprint(ddx, ddy, cap: float) -> np.ndarray:
    """[P, 2] ddx, ddy in texels per pixel -> [P, 3] float32 (m, p, b): the effective
    footprint covariance [[m + p, b], [b, m - p]] in texels^2.

    Sigma_pixel = (ddx ddx^T + ddy ddy^T) / 12 (the covariance of a unit pixel box
    mapped by the Jacobian); minus TEXEL_VARIANCE * I; eigenvalues clamped into
    [0, cap]. Anything at most one texel wide in every direction gives exactly 0."""
    ddx = np.asarray(ddx, np.float32).reshape(-1, 2)
    ddy = np.asarray(ddy, np.float32).reshape(-1, 2)
    f12 = np.float32(TEXEL_VARIANCE)
    sxx = (ddx[:, 0] * ddx[:, 0] + ddy[:, 0] * ddy[:, 0]) * f12
    syy = (ddx[:, 1] * ddx[:, 1] + ddy[:, 1] * ddy[:, 1]) * f12
    sxy = (ddx[:, 0] * ddx[:, 1] + ddy[:, 0] * ddy[:, 1]) * f12
    m = np.float32(0.5) * (sxx + syy) - f12
    p = np.float32(0.5) * (sxx - syy)
    b = sxy
    rad = np.sqrt(p * p + b * b)
    lam1 = np.clip(m + rad, 0.0, cap).astype(np.float32)  # eigenvalues, clamped
    lam2 = np.clip(m - rad, 0.0, cap).astype(np.float32)
    # Same eigenvectors, clamped eigenvalues: m' = mean, and (p, b) scaled by the new half-spread.
    scale = np.where(rad > 0, (np.float32(0.5) * (lam1 - lam2)) / np.where(rad > 0, rad, 1), 0).astype(np.float32)
    out = np.stack([np.float32(0.5) * (lam1 + lam2), p * scale, b * scale], 1).astype(np.float32)
    return out


def footprint_lambda(fp: np.ndarray) -> np.ndarray:
    """[P] largest eigenvalue of each (m, p, b) footprint."""
    return (fp[:, 0] + np.sqrt(fp[:, 1] * fp[:, 1] + fp[:, 2] * fp[:, 2])).astype(np.float32)


def filter_footprint(fp: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussians' filter of effective footprints fp [P, 3] with largest eigenvalues lam [P]:
    (fp', lam'), both scaled by 1 + WIDEN_MAX_EXTRA * clamp((lam - WIDEN_FROM) * WIDEN_RATE, 0, 1)
    in float32 (the shaders' order). Zero stays zero."""
    lam = np.asarray(lam, np.float32)
    t = np.clip((lam - np.float32(WIDEN_FROM)) * np.float32(WIDEN_RATE), 0.0, 1.0).astype(np.float32)
    s = (np.float32(1.0) + np.float32(WIDEN_MAX_EXTRA) * t).astype(np.float32)
    return (np.asarray(fp, np.float32) * s[:, None]).astype(np.float32), (lam * s).astype(np.float32)


def fade_weight(lam) -> np.ndarray:
    """[P] float32 weight of the candidates outside the top K: lam / FADE_LAM below FADE_LAM, else 1."""
    lam = np.asarray(lam, np.float32)
    band = lam < np.float32(FADE_LAM)
    return np.where(band, lam / np.where(band, np.float32(FADE_LAM), np.float32(1.0)), np.float32(1.0)).astype(
        np.float32
    )


def level_footprint(level: float) -> tuple[np.ndarray, np.ndarray]:
    """ddx, ddy (texels) of mip level `level`: an isotropic pixel 2^level texels wide."""
    s = np.float32(2.0 ** float(level))
    return np.array([[s, 0]], np.float32), np.array([[0, s]], np.float32)


def _check(a, name, p):
    a = np.asarray(a, dtype=np.float32)
    if a.shape in ((2,), (1, 2)):
        a = np.broadcast_to(a.reshape(1, 2), (p, 2))
    if a.ndim != 2 or a.shape != (p, 2):
        raise InputError(f"{name} must be [P, 2] like uv (or one [2] for all), got {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return a


def sample_grad(packed, uv, ddx_uv, ddy_uv, lod_limit=None, k=None, use_tail=True) -> np.ndarray:
    """[P, C] float32 unit values of the filtered image function at uv [P, 2] with
    pixel footprints ddx_uv, ddy_uv ([P, 2] or one [2] for all; UV units per pixel)."""
    packed = _as_packed(packed)
    pts = uv_to_texels(packed, uv)
    size = np.array([packed.width, packed.height], np.float32)
    ddx = _check(ddx_uv, "ddx_uv", len(pts)) * size
    ddy = _check(ddy_uv, "ddy_uv", len(pts)) * size
    fp = effective_footprint(ddx, ddy, footprint_cap(packed))
    return decode_points_filtered(packed, pts, fp, lod_limit, k=k, use_tail=use_tail)


def sample_level(packed, uv, level: float, lod_limit=None, k=None, use_tail=True) -> np.ndarray:
    """[P, C] float32: the filtered value at uv with the footprint of mip level `level`
    (an isotropic pixel of 2^level texels)."""
    packed = _as_packed(packed)
    if not (math.isfinite(level) and level >= 0):
        raise InputError(f"mip level must be a finite number >= 0, got {level}")
    pts = uv_to_texels(packed, uv)
    dx, dy = level_footprint(level)  # in texels, as the shaders build it (no round trip through UV)
    fp = effective_footprint(np.repeat(dx, len(pts), 0), np.repeat(dy, len(pts), 0), footprint_cap(packed))
    return decode_points_filtered(packed, pts, fp, lod_limit, k=k, use_tail=use_tail)


def max_level(packed: Packed) -> int:
    """The 1x1 mip level: ceil(log2(max(W, H)))."""
    return max(0, math.ceil(math.log2(max(packed.width, packed.height))))


def level_size(packed: Packed, level: int) -> tuple[int, int]:
    """(h, w) of mip level `level`: ceil(side / 2^level), as a 2x2 box mip chain builds it."""
    s = 1 << level
    return -(-packed.height // s), -(-packed.width // s)


def level_points(packed: Packed, level: int) -> torch.Tensor:
    """[h * w, 2] float32 texel points of the level-`level` texel centres, 2^level (i + 0.5),
    reduced by the UV rule (a partial last texel's centre may lie past the edge)."""
    h, w = level_size(packed, level)
    s = float(1 << level)
    ys, xs = torch.meshgrid(
        (torch.arange(h, dtype=torch.float32) + 0.5) * s,
        (torch.arange(w, dtype=torch.float32) + 0.5) * s,
        indexing="ij",
    )
    uv = torch.stack([xs.reshape(-1) / packed.width, ys.reshape(-1) / packed.height], 1)
    return uv_to_texels(packed, uv.numpy())


def decode_level(packed, level: int, lod_limit=None, k=None, use_tail=True) -> np.ndarray:
    """[h, w, C] float32: the material as seen at mip level `level` (0 .. max_level): each
    texel the filtered value at its centre with a 2^level-texel footprint."""
    packed = _as_packed(packed)
    top = max_level(packed)
    if not (isinstance(level, (int, np.integer)) and 0 <= level <= top):
        raise InputError(
            f"mip level must be an integer in 0..{top} for a {packed.width}x{packed.height} material, got {level}"
        )
    h, w = level_size(packed, int(level))
    pts = level_points(packed, int(level))
    dx, dy = level_footprint(level)
    fp = effective_footprint(np.repeat(dx, len(pts), 0), np.repeat(dy, len(pts), 0), footprint_cap(packed))
    return decode_points_filtered(packed, pts, fp, lod_limit, k=k, use_tail=use_tail).reshape(h, w, -1)


def window_radius(packed: Packed, lam) -> np.ndarray:
    """Search radius (texels) for footprints with largest eigenvalue lam: a widened
    Gaussian's 3-sigma radius is at most sqrt(R^2 + 9 lam); + SEARCH_MARGIN."""
    lam = np.asarray(lam, np.float32)
    r = np.float32(packed.radius)
    widened = np.sqrt(r * r + np.float32(Q_CUTOFF) * lam)
    return np.where(lam > 0, widened, r) + np.float32(SEARCH_MARGIN)


def decode_points_filtered(packed, points, footprint, lod_limit=None, k=None, with_counts=False, use_tail=True):
    """The filtered image function at points [P, 2] (texels, reduced per the UV rule)
    with effective footprints [P, 3] (m, p, b; effective_footprint); the Gaussians are
    convolved with filter_footprint of them, the tail's lod is theirs. Returns [P, C]
    float32 unit values; with_counts also (covering, near, window_y, window_xy, bound)
    per point: Gaussians with q' <= 9, those passing the shaders' cheap tests, the
    window records passing the y test and the x test, and the near records passing
    the q bound before the footprint algebra (for cost figures; zero where the mip
    tail alone answers).
    Selection: the file's top K at a zero footprint, every candidate otherwise, those outside
    the top K weighted fade_weight(lam) (below 1 only in the fade band); k (studies only)
    limits the candidates to the top k. A file's mip tail (use_tail=False ignores it, as a
    decoder that does not know the section would) answers footprints of lod >= T
    and is blended in between lod T - 1 and T (mip_tail.tail_weight)."""
    packed = _as_packed(packed)
    lod = _lod(packed, lod_limit)
    pts = torch.as_tensor(np.asarray(points, np.float32))
    fp = np.ascontiguousarray(np.asarray(footprint, np.float32).reshape(-1, 3))
    n, c = pts.shape[0], packed.gaussians.channels
    kk = None if k is None else int(k)  # None: blend every candidate
    out = np.empty((n, c), np.float32)
    counts = [np.zeros(n, np.int64) for _ in range(5)]
    lam = footprint_lambda(fp)
    tail = packed.mip_tail if use_tail else None
    lods = mip_tail.footprint_lod(lam)  # the tail sees the pixel itself, the Gaussians the widened filter
    fpg, lamg = filter_footprint(fp, lam)
    wt = mip_tail.tail_weight(lods, tail.first_level) if tail is not None else np.zeros(n, np.float32)
    gauss = wt < 1  # the points the Gaussians contribute to
    zero = (lam <= 0) & gauss
    if zero.any() and not with_counts:
        # The point function, exactly (bit for bit): a zero footprint is no filter.
        out[zero] = decode_points(packed, pts[torch.from_numpy(zero)], lod)
        todo = np.nonzero(gauss & ~zero)[0]
    else:
        todo = np.nonzero(gauss)[0]
    if len(todo):
        # Footprint classes: largest eigenvalue within a factor 2 (zero alone), each binned once.
        cls = np.where(lamg[todo] > 0, np.floor(np.log2(np.maximum(lamg[todo], 1e-30))) + 1000, 0).astype(np.int64)
        for cv in np.unique(cls):
            sel = todo[cls == cv]
            k_sel = kk if cv else packed.k
            _decode_class(packed, pts[torch.from_numpy(sel)], fpg[sel], lamg[sel], lod, k_sel, out, counts, sel)
    mixed = np.nonzero(wt > 0)[0]
    if len(mixed):
        tv = mip_tail.sample(tail, pts.numpy()[mixed], lods[mixed], packed.wrap)
        w = wt[mixed, None]
        g = np.where(w < 1, out[mixed], 0.0).astype(np.float32)
        out[mixed] = np.where(w < 1, g + w * (tv - g), tv)
    return (out, *counts) if with_counts else out


def _decode_class(packed: Packed, pts: torch.Tensor, fp: np.ndarray, lam, lod: int, k: int, out, counts, ids):
    h, w = packed.height, packed.width
    c = packed.gaussians.channels
    res = torch.empty(len(pts), c, dtype=torch.float32)
    cnt = [torch.zeros(len(pts), dtype=torch.int64) for _ in range(5)]
    if not (packed.gaussians.levels < lod).any():
        res[:] = torch.from_numpy(packed.gaussians.background)
    else:
        lam_max = float(lam.max())
        tile = int(min(256, max(16, 2 ** math.ceil(math.log2(math.sqrt(lam_max / TEXEL_VARIANCE + 1))))))
        nbx, nby = -(-w // tile), -(-h // tile)
        pn = pts.numpy()
        pbx = np.clip(np.floor(pn[:, 0] / tile), 0, nbx - 1).astype(np.int64)
        pby = np.clip(np.floor(pn[:, 1] / tile), 0, nby - 1).astype(np.int64)
        pblock = pby * nbx + pbx
        porder = np.argsort(pblock, kind="stable")
        blocks = np.unique(pblock)
        pmat, pval, _ = _padded_groups(pblock[porder], porder, blocks)
        gblock, gitem = _bin_gaussians(packed, lod, tile, lam_max=lam_max)
        cmat, cval, ccnt = _padded_groups(gblock, gitem, blocks)
        ctx = _Context(packed, k, fp, lam)
        border = np.argsort(ccnt, kind="stable")
        pw = pmat.shape[1]
        i = 0
        while i < len(border):
            j = i
            mm = 1
            while j < len(border) and (j - i + 1) * pw * max(mm, int(ccnt[border[j]]), 1) <= _BATCH_ELEMS:
                mm = max(mm, int(ccnt[border[j]]), 1)
                j += 1
            j = max(j, i + 1)
            sel = border[i:j]
            mm = max(1, int(ccnt[sel].max()))
            ctx.eval(
                torch.from_numpy(pmat[sel]),
                torch.from_numpy(pval[sel]),
                torch.from_numpy(cmat[sel, :mm]),
                torch.from_numpy(cval[sel, :mm]),
                pts,
                res,
                cnt,
            )
            i = j
    out[ids] = res.numpy()
    for a, b in zip(counts, cnt):
        a[ids] = b.numpy()


class _Context:
    """The per-file tensors and per-point footprints one class evaluates with."""

    def __init__(self, packed: Packed, k: int, fp: np.ndarray, lam: np.ndarray):
        g = packed.gaussians.as_torch()
        self.means, self.inv, self.vals, self.background = g.means, g.inv_scales, g.values, g.background
        self.cos, self.sin = torch.cos(g.rotations), torch.sin(g.rotations)
        self.k = k
        self.kfile = packed.k
        self.fade = torch.from_numpy(fade_weight(lam))  # weight of the candidates outside the top K
        self.period = (
            float(packed.width) if packed.wrap[0] else None,
            float(packed.height) if packed.wrap[1] else None,
        )
        self.fp = torch.from_numpy(fp)
        lam_t = torch.from_numpy(lam)
        self.lam = lam_t
        self.rho = torch.sqrt(lam_t) * np.float32(BOX_CUTOFF)  # cheap-test widening
        self.qb = lam_t * np.float32(Q_CUTOFF * REJECT_SLACK)  # the q bound's slope
        self.r = torch.from_numpy(window_radius(packed, lam))  # search radius (x window)

    def eval(self, pid, pvalid, cid, cvalid, pts, out, cnt):
        """Filtered blend of a batch of blocks (see decoder._eval_batch): the top self.k, or every candidate."""
        pm, mm = pid.shape[1], cid.shape[1]
        p = pts[pid]
        m = self.means[cid]
        dx = p[:, :, None, 0] - m[:, None, :, 0]
        dy = p[:, :, None, 1] - m[:, None, :, 1]
        if self.period[0] is not None:
            dx -= self.period[0] * torch.floor(dx / self.period[0] + 0.5)
        if self.period[1] is not None:
            dy -= self.period[1] * torch.floor(dy / self.period[1] + 0.5)
        w1 = self.inv[cid][:, None, :, 0]
        w2 = self.inv[cid][:, None, :, 1]
        # The shaders' cheap tests, widened by rho = BOX_CUTOFF sqrt(lambda) (cost figures only).
        rho = self.rho[pid][:, :, None]
        wmin = torch.minimum(w1, w2)
        ey = wmin * torch.clamp(dy.abs() - rho, min=0.0)
        ex = wmin * torch.clamp(dx.abs() - rho, min=0.0)
        r = self.r[pid][:, :, None]
        in_window = (dx.abs() <= r) & (dy.abs() <= r) & cvalid[:, None, :]
        py_ = (ey <= BOX_CUTOFF) & in_window
        pxy = py_ & (ex <= BOX_CUTOFF)
        near = pxy & (ex * ex + ey * ey <= Q_CUTOFF * REJECT_SLACK)
        del ex, ey, in_window, r
        cos, sin = self.cos[cid][:, None, :], self.sin[cid][:, None, :]
        u = cos * dx
        u += sin * dy
        v = (-sin) * dx
        v += cos * dy
        del dx, dy
        e1 = u * w1
        e2 = v * w2
        del u, v
        # The shaders skip the footprint algebra where q > 9 slack + (9 slack lam) max(w)^2 (cost figures only).
        wmax = torch.maximum(w1, w2)
        qb = self.qb[pid][:, :, None]
        bound = near & (e1 * e1 + e2 * e2 <= np.float32(Q_CUTOFF * REJECT_SLACK) + qb * (wmax * wmax))
        del wmax, qb
        f = self.fp[pid]  # [B, P, 3]
        fm, fpp, fb = f[..., 0, None], f[..., 1, None], f[..., 2, None]
        cos2 = cos * cos - sin * sin  # the footprint in the Gaussian's frame
        sin2 = 2.0 * (cos * sin)
        pr = fpp * cos2 + fb * sin2
        br = fb * cos2 - fpp * sin2
        t11 = (w1 * w1) * (fm + pr)
        t22 = (w2 * w2) * (fm - pr)
        t12 = (w1 * w2) * br
        del pr, br, cos2, sin2
        d = torch.clamp((1.0 + t11) * (1.0 + t22) - t12 * t12, min=1.0)
        qn = (1.0 + t22) * (e1 * e1) - 2.0 * t12 * (e1 * e2)
        qn += (1.0 + t11) * (e2 * e2)
        qn.clamp_(min=0.0)  # rounding never makes q' negative
        del e1, e2, t11, t22, t12
        qw = qn / d  # q' of the widened Gaussian
        del qn
        ok = qw <= Q_CUTOFF
        ok &= cvalid[:, None, :]
        q = qw.add_(torch.log(d))  # + log det: the amplitude factor
        del d
        kk = mm if self.k is None else min(self.k, mm)
        key = q.view(torch.int32).to(torch.int64)
        key.masked_fill_(~ok, 0x7F800000)
        key <<= 16
        key += torch.arange(mm, dtype=torch.int64)
        sel = torch.topk(key, kk, dim=2, largest=False, sorted=True).indices
        del key
        qsel = torch.gather(q, 2, sel)
        valid = torch.gather(ok, 2, sel)
        covered = ok.sum(2)
        del q, ok
        g = torch.exp(-0.5 * qsel) * valid.to(qsel.dtype)
        if kk > self.kfile:  # fade band: the candidates after the file's top K weigh fade_weight(lam)
            g[:, :, self.kfile :] *= self.fade[pid][:, :, None]
        ssum = g.sum(2, keepdim=True)
        has = valid.any(2, keepdim=True)
        gid = torch.gather(cid[:, None, :].expand(-1, pm, -1), 2, sel)
        blended = torch.einsum("bpk,bpkc->bpc", g, self.vals[gid]) / torch.where(has, ssum, torch.ones_like(ssum))
        res = torch.where(has, blended, self.background[None, None, :])
        keep = pid[pvalid]
        out[keep] = res[pvalid]
        for a, b in zip(cnt, (covered, near.sum(2), py_.sum(2), pxy.sum(2), bound.sum(2))):
            a[keep] = b[pvalid]
