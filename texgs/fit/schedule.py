"""The step plan of a fit: which pyramid level each step trains at, when
Gaussians are added, when quantisation-aware training starts, and the
plateau rule that decays the learning rate and stops early."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import FitConfig

#: Additions must finish within this share of the steps so the last batch
#: still gets trained; longer add intervals are shortened to fit.
ADDITIONS_WITHIN = 0.6


#: Largest side at which FitConfig.lr_position (image-normalised units) is
#: used as it is: beyond, it shrinks with the side, so a step moves a Gaussian
#: no more texels than at this side (half a texel at the default 5e-4; at
#: 4096^2 it was 2 texels, and fits of the same detail per texel lost dB as
#: the material grew; docs/fitting.md).
POSITION_LR_SIDE = 1024


def position_lr_scale(height: int, width: int) -> float:
    """Factor on FitConfig.lr_position for an H x W fit."""
    return min(1.0, POSITION_LR_SIDE / max(height, width))


#: FitConfig.steps = 0 (the default): AUTO_STEPS for a fit of STEP_REFERENCE_TEXELS
#: texels or more; a smaller fit gets up to SMALL_FIT_STEP_SCALE times as many, as
#: many as keep its work (steps x texels) within the reference fit's. A 256^2 or
#: 512^2 step is 16x or 4x cheaper, and the longer schedule gains there at every
#: rate (docs/fitting.md "Steps").
AUTO_STEPS = 500
STEP_REFERENCE_TEXELS = 1024 * 1024
SMALL_FIT_STEP_SCALE = 4.0


def fit_steps(cfg: FitConfig, height: int, width: int) -> int:
    """The step budget of an H x W fit: cfg.steps, or the automatic one when it is 0."""
    if cfg.steps:
        return cfg.steps
    scale = min(SMALL_FIT_STEP_SCALE, max(1.0, STEP_REFERENCE_TEXELS / max(1, height * width)))
    return int(round(AUTO_STEPS * scale))


@dataclass(frozen=True)
class Stage:
    factor: int  # downscale factor of this pyramid level (1 = full resolution)
    height: int  # level size in texels
    width: int
    start: int  # first global step of the stage
    end: int  # one past its last step


@dataclass(frozen=True)
class Plan:
    stages: tuple[Stage, ...]
    add_steps: tuple[int, ...]  # global steps after which a batch of Gaussians is added
    qat_start: int  # first step trained through the quantiser (== steps: never)
    steps: int

    def stage_at(self, step: int) -> Stage:
        for s in self.stages:
            if s.start <= step < s.end:
                return s
        return self.stages[-1]


def level_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """Size of a pyramid level: the full size divided by factor, rounded up, at least 1."""
    return max(1, math.ceil(height / factor)), max(1, math.ceil(width / factor))


def make_plan(cfg: FitConfig, height: int, width: int, progressive: bool = True) -> Plan:
    """Plan fit_steps(cfg, H, W) steps for an H x W target. Levels smaller than 8
    texels on a side are skipped (too coarse to teach anything); their steps go to the next."""
    steps = fit_steps(cfg, height, width)
    factors, fractions = [], []
    carry = 0.0
    for f, frac in zip(cfg.pyramid, cfg.pyramid_steps):
        h, w = level_size(height, width, f)
        if f != 1 and min(h, w) < 8:
            carry += frac
            continue
        factors.append(f)
        fractions.append(frac + carry)
        carry = 0.0
    stages, start = [], 0
    for i, (f, frac) in enumerate(zip(factors, fractions)):
        end = steps if i == len(factors) - 1 else min(steps, start + round(frac * steps))
        h, w = level_size(height, width, f)
        stages.append(Stage(f, h, w, start, end))
        start = end
    add_steps: tuple[int, ...] = ()
    if progressive and cfg.add_times > 0 and cfg.initial_fraction < 1.0:
        every = min(cfg.add_every, max(1, int(ADDITIONS_WITHIN * steps / cfg.add_times)))
        add_steps = tuple(every * j for j in range(1, cfg.add_times + 1) if every * j < steps)
    qat_start = steps - round(cfg.qat_fraction * steps)
    return Plan(tuple(stages), add_steps, qat_start, steps)


class Plateau:
    """Image-GS's schedule: after the last addition, when PSNR has not risen by
    more than `db` for `patience` steps, divide the learning rate; after
    `max_decays` decays, the next plateau stops the fit."""

    def __init__(self, patience: int, db: float, max_decays: int):
        self.patience, self.db, self.max_decays = patience, db, max_decays
        self.best = -math.inf
        self.since = 0
        self.decays = 0

    def reset(self):
        self.best, self.since = -math.inf, 0

    def update(self, psnr: float, steps_elapsed: int) -> str:
        """Feed a PSNR measured steps_elapsed steps after the previous one.
        Returns "continue", "decay" or "stop"."""
        if psnr > self.best + self.db:
            self.best, self.since = psnr, 0
            return "continue"
        self.since += steps_elapsed
        if self.since < self.patience:
            return "continue"
        self.since = 0
        if self.decays >= self.max_decays:
            return "stop"
        self.decays += 1
        return "decay"
