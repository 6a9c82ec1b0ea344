"""The training loss, per channel and weighted:

    loss = sum_c w_c * (D_c + ssim_weight * (1 - SSIM_c)) / sum_c w_c

D_c is the mean absolute error (L1, the Image-GS paper) or the mean squared
error (L2, what PSNR measures) of channel c.

SSIM is the usual one (Wang et al. 2004): an 11-tap Gaussian window of
sigma 1.5, constants for data in [0, 1], mean over the "valid" window
positions; written here as two separable 1-D convolutions per statistic.
"""

from __future__ import annotations

import concurrent.futures
import os

import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def _window_1d(size: int, sigma: float, dtype, device) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Valid separable blur of x [1, K, H, W] with win [S] along H then W (depthwise)."""
    k = x.shape[1]
    kh = win.view(1, 1, -1, 1).repeat(k, 1, 1, 1)  # contiguous kernels: the fast conv path
    kw = win.view(1, 1, 1, -1).repeat(k, 1, 1, 1)
    return F.conv2d(F.conv2d(x, kh, groups=k), kw, groups=k)


def ssim_per_channel(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of each channel: pred, target [H, W, C] in [0, 1] -> [C].

    Images smaller than the window use a window shrunk to fit (odd size)."""
    h, w, c = pred.shape
    size = max(1, min(SSIM_WINDOW, h - (1 - h % 2), w - (1 - w % 2)))
    win = _window_1d(size, SSIM_SIGMA, pred.dtype, pred.device)
    x = pred.permute(2, 0, 1)
    y = target.permute(2, 0, 1)
    # One convolution for all five local statistics of all channels.
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y])[None], win)[0]
    mx, my, exx, eyy, exy = stats.split(c)
    sxx, syy, sxy = exx - mx * mx, eyy - my * my, exy - mx * my
    num = (2 * mx * my + SSIM_C1) * (2 * sxy + SSIM_C2)
    den = (mx * mx + my * my + SSIM_C1) * (sxx + syy + SSIM_C2)
    return (num / den).mean(dim=(1, 2))


def image_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    ssim_weight: float = 0.1,
    ssim_window: tuple[int, int, int, int] | None = None,
    data_term: str = "l1",
) -> torch.Tensor:
    """Scalar loss. pred, target [H, W, C]; weights [C] >= 0 (per-channel loss weight).

    ssim_window (row, col, height, width): evaluate the SSIM term on this crop
    only. On large images a random crop per step is an unbiased, much cheaper
    estimate of the image's mean SSIM (its cost grows with the area).
    data_term: "l1" or "l2"."""
    diff = pred - target
    data = (diff * diff if data_term == "l2" else diff.abs()).mean(dim=(0, 1))  # [C]
    per_channel = data
    if ssim_weight > 0:
        p, t = pred, target
        if ssim_window is not None:
            r, c, h, w = ssim_window
            p, t = pred[r : r + h, c : c + w], target[r : r + h, c : c + w]
        per_channel = data + ssim_weight * (1.0 - ssim_per_channel(p, t))
    return (per_channel * weights).sum() / weights.sum()


#: Rows (texels) of the error the fused L2 loss squares at a time: a chunk
#: of 65,536 x C floats stays in cache between its passes.
L2_CHUNK_TEXELS = 1 << 16
#: Texels the elementwise passes treat as one row: [rows, C] with C = 9 gives
#: torch an inner loop of 9 floats with broadcast per-channel factors, which
#: it does not vectorise (2-3x slower); [rows / 64, 64 C] does the same
#: arithmetic, element for element, with rows of 576.
L2_ROW_TEXELS = 64
#: Most threads the loss's chunks are spread over (it is bound by memory
#: bandwidth beyond a few cores).
L2_MAX_WORKERS = 4

_pool: concurrent.futures.ThreadPoolExecutor | None = None


def workers_pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """A thread pool of at least `workers` threads, kept for the process (torch ops release the GIL)."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="texgs-l2")
    return _pool


def loss_workers(threads: int) -> int:
    """Threads for weighted_l2 given a fit's renderer `threads` (0 = every core this process may use)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(L2_MAX_WORKERS, threads or cores))


def _l2_chunk(u, t, diff, lo, span, coef, wide) -> torch.Tensor:
    """diff = (lo + span * u - t) * coef for one chunk [rows, C]; returns its [C] sum of squared errors
    (before the scaling by coef). wide: (lo, span, coef) repeated L2_ROW_TEXELS times, or None."""
    c = u.shape[-1]
    if wide is not None and u.shape[0] % L2_ROW_TEXELS == 0:
        lo, span, coef = wide
        u, t, diff = (x.view(-1, L2_ROW_TEXELS * c) for x in (u, t, diff))
    d = torch.addcmul(lo, span, u, out=diff).sub_(t)
    sq = d.view(-1, c).square().sum(0)
    d.mul_(coef)
    return sq


class _WeightedL2(torch.autograd.Function):
    """The L2 loss of stored values lo + span * unit against target in one
    pass over one reused buffer, chunk by chunk so each chunk is still in
    cache when it is squared and scaled, the chunks spread over `workers`
    threads. The buffer ends up holding the gradient for a loss gradient of
    1 (what backward almost always receives), so backward costs nothing.
    Every element gets the same operations whatever the chunking and the
    threads, and the chunks' sums are added in chunk order, so the results
    do not depend on the thread count; they equal the whole-image
    expression's bit for bit in the gradient (docs/benchmarks.md "Time
    outside the renderer"). Returns (loss, per-channel sums of squared errors)."""

    @staticmethod
    def forward(ctx, unit, lo, span, target, channel_scale, buf, workers):
        c = unit.shape[-1]
        # Contiguous (a copy only for a strided input, e.g. channel-planar): the row-wide views need it, and
        # every input then takes the same kernels, so the bits do not depend on the memory layout.
        diff, u, t = buf.view(-1, c), unit.reshape(-1, c).contiguous(), target.reshape(-1, c).contiguous()
        coef = 2.0 * span * channel_scale  # d loss / d unit = coef * stored-value error
        # One chunk on a GPU (a launch per chunk would cost more than the passes).
        step = diff.shape[0] if diff.is_cuda else L2_CHUNK_TEXELS
        wide = None if diff.is_cuda else tuple(x.repeat(L2_ROW_TEXELS) for x in (lo, span, coef))
        starts = range(0, diff.shape[0], step)

        def chunk(s):
            with torch.no_grad():  # grad mode is per thread: a pool thread's is on
                return _l2_chunk(u[s : s + step], t[s : s + step], diff[s : s + step], lo, span, coef, wide)

        workers = min(workers, len(starts))
        if workers > 1:
            # One task per worker (chunks j, j + workers, ...): a task per chunk cost the
            # calling thread more in futures than the passes it handed out.
            lists = list(workers_pool(workers).map(lambda j: [chunk(s) for s in starts[j::workers]], range(workers)))
            parts = [lists[i % workers][i // workers] for i in range(len(starts))]
        else:
            parts = [chunk(s) for s in starts]
        sq = torch.zeros(c, dtype=unit.dtype, device=unit.device)
        for p in parts:  # in chunk order, as a single thread adds them
            sq += p
        ctx.save_for_backward(buf)
        ctx.mark_non_differentiable(sq)
        return (sq * channel_scale).sum(), sq

    @staticmethod
    def backward(ctx, grad_loss, grad_sq):
        (grad,) = ctx.saved_tensors
        if float(grad_loss) != 1.0:
            grad = grad.mul_(grad_loss)
        return grad, None, None, None, None, None, None


def l2_channel_scale(weights: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[C] factors of the channels' sums of squared errors in the weighted L2 loss: w_c / (sum w * H W)."""
    return weights / (weights.sum() * (height * width))


def weighted_l2(
    unit: torch.Tensor,
    lo: torch.Tensor,
    span: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    buf: torch.Tensor | None = None,
    workers: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """sum_c w_c MSE_c / sum_c w_c of pred = lo + span * unit against target
    (the data term "l2" without SSIM), and the [C] sums of squared errors.

    Equal to image_loss(lo + span * unit, target, weights, 0, None, "l2"); the
    gradient reaches `unit` only. buf: an [H, W, C] tensor to work in (reused
    across steps; it holds the gradient until backward has consumed it);
    workers: threads to spread the chunks over (loss_workers; never changes the result)."""
    h, w, _ = unit.shape
    channel_scale = l2_channel_scale(weights, h, w)
    if buf is None or buf.shape != unit.shape or buf.dtype != unit.dtype or not buf.is_contiguous():
        buf = torch.empty_like(unit, memory_format=torch.contiguous_format)  # not a strided unit's layout
    return _WeightedL2.apply(unit, lo, span, target, channel_scale, buf, workers)


def render_weighted_l2(
    gs,
    height: int,
    width: int,
    k: int,
    wrap,
    backend: str,
    threads: int,
    lo: torch.Tensor,
    span: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    buf: torch.Tensor | None = None,
    workers: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(img, loss, sq): the unit image render_gaussians(gs, ...) draws and
    weighted_l2(img, lo, span, target, weights, buf, workers) of it.

    On the native CPU renderer both are one call each way
    (texgs.native.render_l2), with no whole-image passes of their own. The
    results agree with weighted_l2's to float rounding, not bit for bit:
    the native side rounds span * out and the sum with lo separately (torch's
    addcmul fuses them) and sums sq per tile in float64."""
    from .. import native
    from ..render import render_gaussians, resolve_backend

    if resolve_backend(backend, gs.means.device) == "cpu":
        l2 = native.L2Term(target, lo, span, l2_channel_scale(weights, height, width))
        params = (gs.means, gs.inv_scales, gs.rotations, gs.values, gs.background)
        return native.render_l2(*params, height, width, k, wrap, threads, l2)
    img = render_gaussians(gs, height, width, k=k, wrap=wrap, backend=backend, threads=threads)
    loss, sq = weighted_l2(img, lo, span, target, weights, buf, workers)
    return img, loss, sq


def random_window(height: int, width: int, size: int, gen: torch.Generator):
    """A size x size crop (row, col, h, w) drawn from gen, or None when the image is not larger."""
    if height <= size and width <= size:
        return None
    h, w = min(height, size), min(width, size)
    r = int(torch.randint(0, height - h + 1, (1,), generator=gen))
    c = int(torch.randint(0, width - w + 1, (1,), generator=gen))
    return r, c, h, w
