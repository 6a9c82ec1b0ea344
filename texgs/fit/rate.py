"""Rate control on real bytes.

bppc = 8 * len(packed bytes) / (W * H * C) (docs/METRICS.md). The Gaussian count
comes from the format's exact size_bound (texgs.format.max_gaussians), the
result is packed for real, and if the file is still over budget the least
important Gaussians are dropped and it is packed again. A quality target
(target PSNR) searches the rate in log space over a few fits.
"""

from __future__ import annotations

import math
import time

import torch

from ..gaussians import Gaussians
from . import packing
from .config import Budget

#: Fits a target-PSNR search may run.
PSNR_SEARCH_FITS = 4
#: The search starts at 0.03 bppc, or at the rate of this many Gaussians if higher
#: (on a small image the file's fixed part alone can exceed 0.03 bppc).
SEARCH_MIN_GAUSSIANS = 16
#: PSNR gained per doubling of the rate, the search's first guess (dB).
DB_PER_DOUBLING = 1.5


def budget_bytes(bppc: float, height: int, width: int, channels: int) -> int:
    """Largest file size (bytes) whose bppc is <= the target."""
    return int(math.floor(bppc * height * width * channels / 8.0 + 1e-9))


#: Strip heights the automatic choice (FitConfig.strip_height = 0) considers, smallest first.
AUTO_STRIP_HEIGHTS = (8, 16, 32)
#: A taller strip is chosen only when it holds at least this share more Gaussians than strips
#: of 8: each doubling adds about 4-5% decode work (docs/benchmarks.md "Strip height and
#: radius bound"), and 3% more Gaussians measured no gain (512^2 at 0.03 bppc, +-0.01 dB).
AUTO_STRIP_MIN_GAIN = 0.05


def auto_strip_height(budget_bytes: int, channels, height: int, width: int, qcfg, lod_levels: int):
    """qcfg with the strip height of AUTO_STRIP_HEIGHTS whose file holds the most Gaussians
    within budget_bytes, taking a taller strip than the first only for AUTO_STRIP_MIN_GAIN
    more than it. The index has strips x levels entries and y costs log2(strip) + 2 bits per
    record, so on a small file a taller strip frees bytes and on a large one it costs them."""
    first = packing.with_strip_height(qcfg, AUTO_STRIP_HEIGHTS[0])
    floor = packing.max_gaussians(budget_bytes, channels, height, width, first, lod_levels)
    best, best_n = first, floor
    for s in AUTO_STRIP_HEIGHTS[1:]:
        q = packing.with_strip_height(qcfg, s)
        n = packing.max_gaussians(budget_bytes, channels, height, width, q, lod_levels)
        if n > best_n and n >= floor * (1.0 + AUTO_STRIP_MIN_GAIN):
            best, best_n = q, n
    return best


def plan_file(bppc: float, cfg, qcfg, channels, height: int, width: int, lod_levels: int, *, reserved: int = 0):
    """(budget bytes, quantiser, Gaussian count) of a fit at `bppc` whose file also holds
    `reserved` bytes outside the Gaussians' sections (the mip tail): the strip height
    (cfg.strip_height 0: auto_strip_height), then the palettes for the count and the count
    for the palettes, kept only when they buy more Gaussians than plain records. The file's
    layout follows from these exactly (texgs.format.layout.section_sizes)."""
    from ..errors import ConfigError
    from ..metrics import bppc as bppc_of

    budget = budget_bytes(bppc, height, width, len(channels)) - reserved
    if cfg.strip_height == 0:
        qcfg = auto_strip_height(budget, channels, height, width, qcfg, lod_levels)
    n_total = packing.max_gaussians(budget, channels, height, width, qcfg, lod_levels)
    pcfg, n_pal = qcfg, n_total
    for _ in range(2):  # palette size follows the count, which follows the palette size
        pcfg = packing.with_palettes(cfg, qcfg, channels, n_pal)
        n_pal = packing.max_gaussians(budget, channels, height, width, pcfg, lod_levels)
    if n_pal > n_total:  # on a small file the palettes can cost more than they save
        qcfg, n_total = pcfg, n_pal
    if n_total < 1:
        floor = packing.size_bound(1, channels, height, width, qcfg, lod_levels)
        c = len(channels)
        raise ConfigError(
            f"a budget of {bppc} bppc ({budget} bytes) cannot hold even one "
            f"Gaussian for a {width}x{height}x{c} stack (needs {floor} bytes, "
            f"{bppc_of(floor, height, width, c):.4g} bppc)"
        )
    return budget, qcfg, n_total


def useful_gaussians(height: int, width: int) -> int:
    """More Gaussians than texels cannot help (initial positions are distinct texels)."""
    return height * width


def importance(g: Gaussians, height, width, k, wrap, backend, threads):
    """[N] total blend weight each Gaussian (torch tensors) receives over the image, sum over
    texels of G_i / sum_k G_k: d(sum of the image)/d(values[:, 0]) (docs/IMAGE_FUNCTION.md
    gradients), so one backward pass of the renderer gives it."""
    from ..render import render

    vals = g.values.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = render(
            g.means.detach(),
            g.inv_scales.detach(),
            g.rotations.detach(),
            vals,
            g.background,
            height,
            width,
            k=k,
            wrap=tuple(wrap),
            backend=backend,
            threads=threads,
        )
        out[..., 0].sum().backward()
    return vals.grad[:, 0].detach()


def pack_within(
    g: Gaussians,
    channels,
    height,
    width,
    wrap,
    k,
    qcfg,
    lod_levels: int,
    limit_bytes: int | None,
    backend: str,
    threads: int,
    palettes=None,
) -> tuple[bytes, int]:
    """Pack the Gaussians g (torch tensors); if over limit_bytes, drop the least
    important ones until it fits. Returns (bytes, Gaussians kept)."""
    n = g.n
    data = packing.pack(g, channels, height, width, wrap, k, qcfg, lod_levels, palettes)
    if limit_bytes is None or len(data) <= limit_bytes:
        return data, n
    imp = importance(g, height, width, k, wrap, backend, threads)
    order = torch.sort(-imp, stable=True).indices  # most important first
    keep = n
    while len(data) > limit_bytes and keep > 1:
        per_gaussian = max(1.0, len(data) / keep)
        keep = max(1, keep - max(1, math.ceil((len(data) - limit_bytes) / per_gaussian)))
        sel = torch.sort(order[:keep]).values  # keep the original order
        data = packing.pack(g.select(sel), channels, height, width, wrap, k, qcfg, lod_levels, palettes)
    return data, keep


def fit_to_psnr(fit_at, budget: Budget, t_start: float, min_bppc: float = 0.0):
    """Smallest-rate fit reaching budget.target_psnr, searched over at most
    PSNR_SEARCH_FITS fits: start at 0.03 bppc, step by the assumed
    DB_PER_DOUBLING slope, then interpolate in log-rate between the bracketing
    fits (never below min_bppc, the smallest useful file). fit_at(Budget(bppc=...))
    runs one fit. Returns the cheapest fit that meets the target, else the best
    one (metrics["target_met"] says which)."""
    target = budget.target_psnr
    below, above = None, None  # (bppc, result)
    rate = min(max(0.03, min_bppc * 1.1), budget.max_bppc)
    tried = set()
    for _ in range(PSNR_SEARCH_FITS):
        tried.add(round(rate, 6))
        r = fit_at(Budget(bppc=rate))
        p = r.metrics["psnr"]
        if p >= target:
            if above is None or rate < above[0]:
                above = (rate, r)
        elif below is None or rate > below[0]:
            below = (rate, r)
        if above and below:
            (r0, a), (r1, b) = below, above
            p0, p1 = a.metrics["psnr"], b.metrics["psnr"]
            f = (target - p0) / max(1e-6, p1 - p0)
            nxt = math.exp(math.log(r0) + f * (math.log(r1) - math.log(r0)))
            if (r1 - r0) / r1 < 0.1:
                break
        elif above:
            nxt = rate / 2
        else:
            nxt = min(budget.max_bppc, rate * 2 ** max(0.5, (target - p) / DB_PER_DOUBLING))
        nxt = round(nxt, 6)
        if nxt in tried or nxt <= 0:
            break
        rate = nxt
    chosen = above or below
    result = chosen[1]
    result.budget = budget
    result.metrics["target_met"] = above is not None
    result.seconds = time.monotonic() - t_start
    return result
