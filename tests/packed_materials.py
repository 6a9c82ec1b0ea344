"""Packed materials of random Gaussians for the decoder tests (shaders, C runtime,
transcoder): every format variant without a fit. Not a test module."""

from __future__ import annotations

import numpy as np

from texgs.channels import Channel
from texgs.format import filtered, gaussian_constraints, pack
from texgs.gaussians import Gaussians


def band_off(fn, *args):
    """fn(*args) with no fade band (every candidate from any footprint on), to show a test reaches it."""
    keep = filtered.FADE_LAM
    filtered.FADE_LAM = 0.0
    try:
        return fn(*args)
    finally:
        filtered.FADE_LAM = keep


def random_material(
    h: int,
    w: int,
    channels: list[Channel],
    n: int,
    cfg,
    *,
    wrap=(False, False),
    seed: int = 0,
    levels: int = 1,
    k: int = 5,
    spread: float = 2.0,
    background=None,
) -> bytes:
    """n Gaussians with uniform centres, sizes from the format's smallest allowed
    (inverse) scale up to e^spread times it, random rotations and values, on
    `levels` LOD levels; background defaults to a ramp 0.2..0.8 over the channels."""
    rng = np.random.default_rng(seed)
    lo = gaussian_constraints(h, w, cfg)["min_inv_scale"]
    c = len(channels)
    return pack(
        Gaussians(
            means=(rng.random((n, 2)) * [w, h]).astype(np.float32),
            inv_scales=(lo * np.exp(rng.random((n, 2)) * spread)).astype(np.float32),
            rotations=(rng.random(n) * 6).astype(np.float32),
            values=rng.random((n, c)).astype(np.float32),
            background=(np.linspace(0.2, 0.8, c) if background is None else np.broadcast_to(background, c)).astype(
                np.float32
            ),
            levels=rng.integers(0, levels, n),
        ),
        list(channels),
        h,
        w,
        k=k,
        wrap=wrap,
        cfg=cfg,
    )
