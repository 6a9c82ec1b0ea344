"""Palette refinement: after the value palettes are chosen, train the palette
entries together with every Gaussian's other parameters, each Gaussian's
palette index held fixed.

The main loop trains palette channels as plain value codes; k-means then
moves every Gaussian's group values to its nearest entry, which cost up to
0.2 dB (Rock058 at 512^2; docs/benchmarks.md "Value palettes").
A few full-resolution steps through the quantiser let the geometry, the
direct channels and the entries absorb that error.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..gaussians import Gaussians
from ..metrics import psnr_from_mse
from . import packing
from .adam import Adam
from .config import FitConfig
from .loss import loss_workers, render_weighted_l2
from .optimize import Limits, TrainableGaussians, project
from .schedule import position_lr_scale


@dataclasses.dataclass
class Palettes:
    """Palette entries [2^b, len(chans)] (unit range, float64) and each Gaussian's index [N] per palette."""

    entries: list[np.ndarray]
    index: list[torch.Tensor]


def choose(values: torch.Tensor, qcfg) -> Palettes:
    """The writer's palettes for these unit values (packing.palette_entries)."""
    return Palettes(*packing.palette_entries(values, qcfg))


def refine(
    g: TrainableGaussians,
    pal: Palettes,
    qcfg,
    target: torch.Tensor,
    weights: torch.Tensor,
    lo: torch.Tensor,
    span: torch.Tensor,
    background: torch.Tensor,
    cfg: FitConfig,
    wrap,
    backend: str,
    limits: Limits,
    steps: int,
    height: int,
    width: int,
    cutout=None,
):
    """Train g's geometry and direct values and pal's entries for `steps`
    full-resolution steps through the file's quantiser (indices fixed).
    Returns (g, pal, psnr_before, psnr_after), the best iterate seen.
    cutout: a texgs.fit.cutout.Cutout whose loss term joins the data term."""
    c = g.values.shape[1]
    quantize = packing.file_quantizer(qcfg, c, height, width, wrap)
    groups = [[int(x) for x in chans] for chans, _ in qcfg.palettes]

    pos = g.positions.detach().clone().requires_grad_(True)
    inv = g.inv_scales.detach().clone().requires_grad_(True)
    rot = g.rotations.detach().clone().requires_grad_(True)
    val = g.values.detach().clone().requires_grad_(True)
    dev = pos.device
    ent = [torch.tensor(e, dtype=torch.float32, device=dev, requires_grad=True) for e in pal.entries]
    index = [i.to(dev) for i in pal.index]
    columns = [torch.tensor(chans, device=dev) for chans in groups]  # on the device: no copy per step
    sides = torch.tensor([float(width), float(height)], device=dev)
    scale = cfg.lr_final  # the learning rates the main loop ended on
    opt = Adam(
        [
            {"params": [pos], "lr": cfg.lr_position * position_lr_scale(height, width) * scale},
            {"params": [inv], "lr": cfg.lr_inv_scale * scale},
            {"params": [rot], "lr": cfg.lr_rotation * scale},
            {"params": [val], "lr": cfg.lr_value * scale},
            {"params": ent, "lr": cfg.lr_value * scale},
        ]
    )

    def values_now():
        v = val.clone()  # palette columns come from the entries, not val
        for cols, e, idx in zip(columns, ent, index):
            v[:, cols] = e[idx]
        return v

    buf = torch.empty(height, width, c, device=dev)
    workers = loss_workers(cfg.threads)
    best_err, best = math.inf, None
    first = None
    for step in range(steps + 1):
        opt.zero_grad(set_to_none=True)
        # The last render only measures: without grad the renderer keeps no backward state.
        with torch.set_grad_enabled(step < steps):
            gs = quantize(Gaussians(pos * sides, inv, rot, values_now(), background, g.levels))
            img, loss, sq = render_weighted_l2(
                gs, height, width, cfg.k, wrap, backend, cfg.threads, lo, span, target, weights, buf, workers
            )
            err = float(sq.sum()) / target.numel()
            if cutout is not None:
                cut = cutout.loss(img, lo, span, target)
                loss, err = loss + cut, err + float(cut.detach())  # err also judges the best iterate
        if first is None:
            first = err
        if err < best_err:
            best_err = err
            best = [t.detach().clone() for t in (pos, inv, rot, val)] + [e.detach().clone() for e in ent]
        if step == steps:
            break
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e in ent:
                e.clamp_(0, 1)
        tmp = TrainableGaussians(pos, inv, rot, val, g.levels)
        project(tmp, limits, wrap, 1.0)
    out = TrainableGaussians(*best[:4], g.levels)
    bits = qcfg.channel_value_bits(c)
    entries = []
    for chans, cols, e, idx in zip(groups, columns, best[4:], index):
        # On the code grid, so the writer's nearest entry is exactly this one.
        lv = torch.tensor([float((1 << bits[ch]) - 1) for ch in chans], dtype=torch.float64, device=dev)
        eq = torch.round(e.to(torch.float64).clamp(0, 1) * lv) / lv
        entries.append(eq.cpu().numpy())  # the writer's input: host memory
        out.values[:, cols] = eq[idx].to(out.values.dtype)
    return out, Palettes(entries, pal.index), psnr_from_mse(first), psnr_from_mse(best_err)
