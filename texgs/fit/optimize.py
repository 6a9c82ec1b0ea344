"""The optimisation loop: Image-GS with coarse-to-fine levels and optional
quantisation-aware training.

Trainable parameters are kept in resolution-independent units so a pyramid
level change needs no conversion of optimiser state:
  positions  [N, 2] image-normalised (x / W, y / H) in [0, 1]
  inv_scales [N, 2] 1/texel at full resolution (a level of 1/f the size renders
                    with inv_scales * f, i.e. the same footprint on the image)
  rotations  [N]    radians, kept in [0, pi) (the function has period pi)
  values     [N, C]
Each Gaussian also carries its LOD level: 0 for the initial set, i for the
i-th error-guided addition. Every tensor is on the target's device
(texgs.fit.device).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from ..constants import Q_CUTOFF
from ..gaussians import Gaussians
from ..metrics import psnr_from_mse
from ..render import render_gaussians
from . import init as init_mod
from . import nearest
from .adam import Adam
from .config import FitConfig
from .device import randperm
from .loss import image_loss, loss_workers, random_window, render_weighted_l2, workers_pool
from .progress import Progress
from .schedule import Plan, Plateau, Stage, position_lr_scale

#: quantizer(Gaussians) -> the same Gaussians, their means, inverse scales,
#: rotations and values quantised then dequantised with a straight-through gradient.
Quantizer = Callable[[Gaussians], Gaussians]


@dataclass
class Limits:
    """Bounds every Gaussian is projected into after each step (full-resolution units)."""

    min_inv_scale: float = 1e-3  # the format's 3-sigma radius bound
    max_inv_scale: float = 65504.0  # the format's largest inverse scale
    value_min: float | None = None  # value range the packed format can hold
    value_max: float | None = None


@dataclass
class TrainableGaussians:
    """The optimiser's parameters (units in the module docstring: positions are
    image-normalised, unlike Gaussians.means) and each Gaussian's LOD level [N]
    int32. gaussians() gives the texgs.gaussians.Gaussians they stand for."""

    positions: torch.Tensor
    inv_scales: torch.Tensor
    rotations: torch.Tensor
    values: torch.Tensor
    levels: torch.Tensor

    @property
    def n(self) -> int:
        return int(self.positions.shape[0])

    def tensors(self):
        return [self.positions, self.inv_scales, self.rotations, self.values]

    def append(self, pos, inv, rot, val, level: int):
        def cat(old, new):
            return torch.cat([old.detach(), new]).requires_grad_(True)

        self.positions, self.inv_scales = cat(self.positions, pos), cat(self.inv_scales, inv)
        self.rotations, self.values = cat(self.rotations, rot), cat(self.values, val)
        self.levels = torch.cat(
            [self.levels, torch.full((pos.shape[0],), level, dtype=torch.int32, device=self.levels.device)]
        )

    def gaussians(self, height: int, width: int, background: torch.Tensor) -> Gaussians:
        """The Gaussians of an H x W image these parameters stand for (means in texels)."""
        means = self.positions * torch.tensor([float(width), float(height)], device=self.positions.device)
        return Gaussians(means, self.inv_scales, self.rotations, self.values, background, self.levels)


@dataclass
class LoopResult:
    gaussians: TrainableGaussians
    steps: int
    stopped_early: bool
    history: list[dict] = field(default_factory=list)  # {"step", "psnr", "n", "level", "seconds"}


def level_target(target: torch.Tensor, stage: Stage) -> torch.Tensor:
    """target [H, W, C] averaged down to the stage size (area filter) -> [h, w, C]."""
    if (stage.height, stage.width) == tuple(target.shape[:2]):
        return target
    x = target.permute(2, 0, 1)[None]
    return F.interpolate(x, size=(stage.height, stage.width), mode="area")[0].permute(1, 2, 0).contiguous()


def level_targets(target: torch.Tensor, unit_target: torch.Tensor, stage: Stage, workers: int):
    """(level_target(target, stage), level_target(unit_target, stage)), on two threads when workers > 1
    (each image whole on one: the same bits)."""
    if workers > 1 and target.device.type == "cpu" and (stage.height, stage.width) != tuple(target.shape[:2]):

        def one(t):
            with torch.no_grad():
                return level_target(t, stage)

        a, b = workers_pool(2).map(one, (target, unit_target))
        return a, b
    return level_target(target, stage), level_target(unit_target, stage)


def level_factor(height: int, width: int, stage: Stage) -> float:
    """How many full-resolution texels one level texel spans (geometric mean of both axes)."""
    return math.sqrt((height * width) / (stage.height * stage.width))


def level_gaussians(
    g: TrainableGaussians,
    stage: Stage,
    height: int,
    width: int,
    background: torch.Tensor,
    quantizer: Quantizer | None = None,
) -> Gaussians:
    """The Gaussians as a pyramid level renders them (through the quantiser when
    given; means and inverse scales in level texels), differentiable."""
    gs = g.gaussians(height, width, background)
    if quantizer is not None:
        gs = quantizer(gs)
    if stage.factor != 1:
        gs = replace(
            gs,
            means=gs.means * torch.tensor([stage.width / width, stage.height / height], device=gs.means.device),
            inv_scales=gs.inv_scales * level_factor(height, width, stage),
        )
    return gs


def render_level(
    g: TrainableGaussians,
    stage: Stage,
    height: int,
    width: int,
    background: torch.Tensor,
    cfg: FitConfig,
    wrap,
    backend: str,
    quantizer: Quantizer | None = None,
) -> torch.Tensor:
    """Render the Gaussians at a pyramid level -> [h, w, C], differentiable."""
    gs = level_gaussians(g, stage, height, width, background, quantizer)
    return render_gaussians(gs, stage.height, stage.width, k=cfg.k, wrap=wrap, backend=backend, threads=cfg.threads)


def _optimizer(g: TrainableGaussians, cfg: FitConfig, height: int, width: int) -> Adam:
    groups = [
        (g.positions, cfg.lr_position * position_lr_scale(height, width)),
        (g.inv_scales, cfg.lr_inv_scale),
        (g.rotations, cfg.lr_rotation),
        (g.values, cfg.lr_value),
    ]
    return Adam([{"params": [p], "lr": lr, "base_lr": lr} for p, lr in groups])


def anneal(step: int, start: int, end: int, final: float) -> float:
    """Cosine learning-rate factor: 1 until `start`, then down to `final` at `end`."""
    if step <= start or end <= start:
        return 1.0
    t = min(1.0, (step - start) / (end - start))
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t))


#: Largest inverse scale per texel of the level being trained: a Gaussian
#: narrower than half a texel falls between texel centres and stops learning.
LEVEL_MAX_INV_SCALE = 2.0


@torch.no_grad()
def project(g: TrainableGaussians, limits: Limits, wrap, stage_factor: float):
    """Keep every Gaussian representable: positions inside the image (or wrapped
    onto it), inverse scales within the format's and the level's bounds,
    rotations in [0, pi), values in the packable range."""
    for axis in (0, 1):
        col = g.positions[:, axis]
        if wrap[axis]:
            col.copy_(torch.remainder(col, 1.0))
        else:
            col.clamp_(0.0, 1.0)
    hi = max(limits.min_inv_scale, min(limits.max_inv_scale, LEVEL_MAX_INV_SCALE / stage_factor))
    g.inv_scales.abs_().clamp_(limits.min_inv_scale, hi)
    g.rotations.copy_(torch.remainder(g.rotations, math.pi))
    if limits.value_min is not None or limits.value_max is not None:
        g.values.clamp_(limits.value_min, limits.value_max)


#: Background used only to find holes: no unit value a Gaussian can hold is this low.
HOLE_SENTINEL = -7.0


@torch.no_grad()
def relocate_into_holes(
    g: TrainableGaussians,
    opt: Adam,
    stage: Stage,
    height: int,
    width: int,
    unit_tgt: torch.Tensor,
    cfg: FitConfig,
    wrap,
    backend: str,
    gen: torch.Generator,
) -> int:
    """Move the smallest Gaussians onto texels no Gaussian reaches.

    Top-K blending is normalised, so a Gaussian can shrink without darkening
    the texels it keeps; the texels it uncovers show the background and send
    no gradient back (docs/fitting.md). Left alone, holes grow with training.
    Here (hole share of the texels) * N of the smallest-footprint Gaussians, at
    most relocate_fraction * N, are
    re-initialised (as an error-guided addition would) on hole texels, and
    their Adam moments are cleared. Returns how many moved.
    """
    c = g.values.shape[1]
    sentinel = torch.full((c,), HOLE_SENTINEL, device=g.values.device)
    img = render_level(g, stage, height, width, sentinel, cfg, wrap, backend)
    holes = (img[..., 0] == HOLE_SENTINEL).reshape(-1)
    count = int(holes.sum())
    # A Gaussian covers about (texels / N) texels, so the hole share of the
    # texels is also the share of Gaussians needed to fill them.
    moves = min(count, math.ceil(count / holes.numel() * g.n), int(cfg.relocate_fraction * g.n))
    if moves == 0:
        return 0
    # Which to move: the smallest footprints (1 / (w1 w2)).
    area = 1.0 / (g.inv_scales[:, 0].abs() * g.inv_scales[:, 1].abs())
    victims = torch.argsort(area, stable=True)[:moves]
    texels = init_mod.sample_texels(holes.to(torch.float32) / count, moves, gen)
    pos, inv, rot, val = init_mod.gaussians_at(texels, unit_tgt, 1.0 / cfg.init_scale)
    for t, new in zip(g.tensors(), (pos, inv, rot, val)):
        t[victims] = new
        state = opt.state.get(t)
        if state:
            state["exp_avg"][victims] = 0
            state["exp_avg_sq"][victims] = 0
    return moves


@torch.no_grad()
def hole_points(
    g: TrainableGaussians,
    stage: Stage,
    height: int,
    width: int,
    cfg: FitConfig,
    wrap,
    backend: str,
    gen: torch.Generator,
    count: int,
) -> torch.Tensor:
    """[<= count, 2] centres (level texels) of texels no Gaussian reaches, sampled without replacement."""
    c = g.values.shape[1]
    sentinel = torch.full((c,), HOLE_SENTINEL, device=g.values.device)
    img = render_level(g, stage, height, width, sentinel, cfg, wrap, backend)
    holes = torch.nonzero((img[..., 0] == HOLE_SENTINEL).reshape(-1))[:, 0]
    if holes.numel() > count:
        holes = holes[randperm(holes.numel(), gen, holes.device)[:count]]
    rows = torch.div(holes, stage.width, rounding_mode="floor")
    return torch.stack([(holes - rows * stage.width).float() + 0.5, rows.float() + 0.5], dim=1)


#: Hole texels sampled per check for coverage_loss, and the Gaussians (nearest
#: by centre distance) each considers.
COVERAGE_POINTS = 1024
COVERAGE_CANDIDATES = 8
#: Beyond COVERAGE_POINTS * this many Gaussians, one hole point per this many:
#: with a fixed count the term reached ever fewer of them as the material grew
#: (at 4096^2, 1,024 points for 140K Gaussians; docs/fitting.md).
COVERAGE_GAUSSIANS_PER_POINT = 16


def coverage_points(n: int) -> int:
    """Hole texels sampled per coverage check for n Gaussians."""
    return max(COVERAGE_POINTS, n // COVERAGE_GAUSSIANS_PER_POINT)


def _level_offsets(g: TrainableGaussians, points: torch.Tensor, idx: torch.Tensor | None, stage: Stage, wrap):
    """Offsets points - means in level texels, on the torus on wrapped axes:
    [S, N, 2] for every Gaussian, or [S, k, 2] for the Gaussians idx [S, k]."""
    means = g.positions * torch.tensor([float(stage.width), float(stage.height)], device=g.positions.device)
    d = points[:, None, :] - (means[None, :, :] if idx is None else means[idx])
    for axis, side in ((0, stage.width), (1, stage.height)):
        if wrap[axis]:
            d[..., axis] = d[..., axis] - side * torch.floor(d[..., axis] / side + 0.5)
    return d


@torch.no_grad()
def coverage_candidates(
    g: TrainableGaussians, points: torch.Tensor, stage: Stage, wrap, workers: int = 1
) -> torch.Tensor:
    """[S, k] the Gaussians whose centres are nearest each hole point (the search on `workers` threads)."""
    means = g.positions * torch.tensor([float(stage.width), float(stage.height)], device=g.positions.device)
    return nearest.nearest(points, means, COVERAGE_CANDIDATES, stage.width, stage.height, wrap, workers=workers)


def coverage_loss(
    g: TrainableGaussians, points: torch.Tensor, candidates: torch.Tensor, stage: Stage, height: int, width: int, wrap
) -> torch.Tensor:
    """Mean over hole points of log(min q / 9) where above 0, the min over the
    point's candidate Gaussians: pulls the nearest Gaussian (in q) until it
    reaches the point, the gradient that texels outside every 3-sigma cut-off
    cannot send (docs/fitting.md)."""
    d = _level_offsets(g, points, candidates, stage, wrap)  # [S, k, 2]
    inv = g.inv_scales[candidates] * level_factor(height, width, stage)
    rot = g.rotations[candidates]
    cos, sin = torch.cos(rot), torch.sin(rot)
    u = cos * d[..., 0] + sin * d[..., 1]
    v = -sin * d[..., 0] + cos * d[..., 1]
    q = (inv[..., 0] * u) ** 2 + (inv[..., 1] * v) ** 2
    return torch.log(q.min(dim=1).values.clamp(min=Q_CUTOFF) / Q_CUTOFF).mean()


def initial_gaussians(
    tgt: torch.Tensor,
    unit_tgt: torch.Tensor,
    weights: torch.Tensor,
    n: int,
    cfg: FitConfig,
    wrap,
    gen: torch.Generator,
) -> TrainableGaussians:
    """Eq. 6 sampling on the first level's target tgt [h, w, C] (its texel
    centres); values from unit_tgt (that target in the Gaussians' unit value range)."""
    prob = init_mod.init_probability(init_mod.gradient_magnitude(tgt, weights, wrap), cfg.lambda_init)
    texels = init_mod.sample_texels(prob, n, gen)
    pos, inv, rot, val = init_mod.gaussians_at(texels, unit_tgt, 1.0 / cfg.init_scale)
    return TrainableGaussians(
        pos.requires_grad_(True),
        inv.requires_grad_(True),
        rot.requires_grad_(True),
        val.requires_grad_(True),
        torch.zeros(n, dtype=torch.int32, device=pos.device),
    )


def batch_sizes(n_total: int, n_initial: int, batches: int) -> list[int]:
    """Split the n_total - n_initial added Gaussians into `batches` near-equal batches."""
    extra = n_total - n_initial
    if batches == 0:
        return []
    base, rem = divmod(extra, batches)
    return [base + (1 if i < rem else 0) for i in range(batches)]


def run(
    target: torch.Tensor,
    weights: torch.Tensor,
    n_total: int,
    cfg: FitConfig,
    plan: Plan,
    wrap,
    backend: str,
    limits: Limits,
    quantizer: Quantizer | None = None,
    progress: Progress | None = None,
    value_range=None,
    cutout=None,
) -> LoopResult:
    """Fit n_total Gaussians to target [H, W, C] (weights [C]) following plan.

    value_range: (lo [C], span [C]); a Gaussian's unit value u stands for the
    stored value lo + span * u (the packed channel range), so 6-bit values
    are spent on the range a channel actually uses. The loss is computed on
    stored values. None = unit range. cutout: a texgs.fit.cutout.Cutout whose
    loss term joins the data term (mask channels kept on their side of the cutoff).

    Every tensor argument is on one device, the one the fit runs on; random
    draws come from a CPU generator seeded with cfg.seed (texgs.fit.device).
    """
    height, width, c = target.shape
    dev = target.device
    if value_range is None:
        value_range = (torch.zeros(c, device=dev), torch.ones(c, device=dev))
    lo, span = value_range
    unit_target = (target - lo) / span
    gen = torch.Generator().manual_seed(cfg.seed)
    background = unit_target.mean(dim=(0, 1)).detach()
    adds = len(plan.add_steps)
    n_initial = n_total if adds == 0 else max(1, min(n_total, round(cfg.initial_fraction * n_total)))
    sizes = batch_sizes(n_total, n_initial, adds)
    stage = plan.stages[0]
    workers = loss_workers(cfg.threads)
    tgt, unit_tgt = level_targets(target, unit_target, stage, workers)
    g = initial_gaussians(tgt, unit_tgt, weights, n_initial, cfg, wrap, gen)
    lr_scale = 1.0  # plateau decays
    anneal_start = plan.add_steps[-1] if plan.add_steps else 0
    opt = _optimizer(g, cfg, height, width)
    plateau = Plateau(cfg.plateau_steps, cfg.plateau_db, cfg.max_decays)
    history: list[dict] = []
    t0 = time.monotonic()
    last_psnr = float("nan")
    stopped = False
    step = 0
    limits_factor = level_factor(height, width, stage)
    project(g, limits, wrap, limits_factor)
    best_err, best_mse, best = math.inf, math.inf, None  # best_err: squared error plus the cutout term
    fused_l2 = cfg.data_term == "l2" and cfg.ssim_weight == 0
    loss_buf = None
    cover_pts = cover_idx = None  # hole texels the coverage term pulls Gaussians over, their candidates
    while step < plan.steps:
        new_stage = plan.stage_at(step)
        if new_stage != stage:
            cover_pts = None
            stage, (tgt, unit_tgt) = new_stage, level_targets(target, unit_target, new_stage, workers)
            limits_factor = level_factor(height, width, stage)
            if progress:
                progress.message(f"level {stage.width}x{stage.height} from step {step}")
        quant = quantizer if (quantizer is not None and step >= plan.qat_start) else None
        opt.zero_grad(set_to_none=True)
        if fused_l2:
            # Stored values are convex blends of values inside [lo, hi] (and the
            # background), so they lie in [0, 1]: the MSE needs no clamp.
            if loss_buf is None or loss_buf.shape != tgt.shape:
                loss_buf = torch.empty_like(tgt)
            gs = level_gaussians(g, stage, height, width, background, quant)
            unit_img, loss, sq = render_weighted_l2(
                gs,
                stage.height,
                stage.width,
                cfg.k,
                wrap,
                backend,
                cfg.threads,
                lo,
                span,
                tgt,
                weights,
                loss_buf,
                workers,
            )
            err = float(sq.sum()) / tgt.numel()
        else:
            unit_img = render_level(g, stage, height, width, background, cfg, wrap, backend, quant)
            img = lo + span * unit_img
            window = random_window(stage.height, stage.width, cfg.ssim_crop, gen) if cfg.ssim_crop else None
            loss = image_loss(img, tgt, weights, cfg.ssim_weight, window, cfg.data_term)
            with torch.no_grad():
                err = float(((img.detach().clamp(0, 1) - tgt) ** 2).mean())
        cut_err = 0.0  # the cutout term, which also judges the best iterate
        if cutout is not None and stage.factor == 1:  # at full resolution: texels as the file decodes them
            cut = cutout.loss(unit_img, lo, span, tgt)
            loss, cut_err = loss + cut, float(cut.detach())
        if cover_pts is not None and cover_pts.shape[0]:
            loss = loss + cfg.coverage_weight * coverage_loss(g, cover_pts, cover_idx, stage, height, width, wrap)
        loss.backward()
        if stage.factor == 1 and cfg.keep_best and (quantizer is None or quant is not None):
            # Keep the best full-resolution iterate (the loss can drift up late
            # in a run; see docs/fitting.md), judged through the quantiser when
            # QAT is on: the image was rendered from the parameters as they are now.
            if err + cut_err < best_err:
                best_err, best_mse, best = (
                    err + cut_err,
                    err,
                    [t.detach().clone() for t in g.tensors()] + [g.levels.clone()],
                )
        factor = lr_scale * anneal(step, anneal_start, plan.steps, cfg.lr_final)
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor
        opt.step()
        project(g, limits, wrap, limits_factor)
        step += 1
        if cfg.relocate_every and step % cfg.relocate_every == 0 and step < cfg.relocate_until * plan.steps:
            if cfg.relocate_fraction > 0:
                relocate_into_holes(g, opt, stage, height, width, unit_tgt, cfg, wrap, backend, gen)
            if cfg.coverage_weight > 0:
                cover_pts = hole_points(g, stage, height, width, cfg, wrap, backend, gen, coverage_points(g.n))
                cover_idx = coverage_candidates(g, cover_pts, stage, wrap, workers)
            project(g, limits, wrap, limits_factor)
        if step % cfg.eval_every == 0 or step == plan.steps:
            last_psnr = psnr_from_mse(err)
            history.append(
                {"step": step, "psnr": last_psnr, "n": g.n, "level": stage.factor, "seconds": time.monotonic() - t0}
            )
            final_phase = stage.factor == 1 and (not plan.add_steps or step > plan.add_steps[-1])
            if final_phase:
                action = plateau.update(last_psnr, cfg.eval_every)
                if action == "decay":
                    lr_scale /= cfg.lr_decay
                    if progress:
                        progress.message(f"plateau at step {step}: learning rate / {cfg.lr_decay:g}")
                elif action == "stop":
                    stopped = True
        if step in plan.add_steps:
            i = plan.add_steps.index(step)
            if sizes[i] > 0:
                with torch.no_grad():
                    pred = lo + span * unit_img.detach()
                    prob = init_mod.error_probability(pred, tgt, weights)
                    texels = init_mod.sample_texels(prob, sizes[i], gen)
                    pos, inv, rot, val = init_mod.gaussians_at(texels, unit_tgt, 1.0 / cfg.init_scale)
                g.append(pos, inv, rot, val, level=i + 1)
                project(g, limits, wrap, limits_factor)
                opt = _optimizer(g, cfg, height, width)
        if progress:
            progress.update(step, last_psnr, g.n, f"level 1/{stage.factor}")
        if stopped:
            if progress:
                progress.message(f"converged at step {step} (second plateau)")
            break
    if best is not None:
        with torch.no_grad():
            final = render_level(g, stage, height, width, background, cfg, wrap, backend, quant)
            final_mse = float(((lo + span * final).clamp(0, 1) - tgt).pow(2).mean())
            final_err = final_mse + (float(cutout.loss(final, lo, span, tgt)) if cutout is not None else 0.0)
        if best_err < final_err:
            g = TrainableGaussians(*best)
            if progress:
                progress.message(
                    f"kept the best iterate: PSNR {psnr_from_mse(best_mse):.2f} dB "
                    f"(last {psnr_from_mse(final_mse):.2f} dB)"
                )
    for t in g.tensors():
        t.requires_grad_(False)
    return LoopResult(g, step, stopped, history)
