"""Value palettes of packed records (docs/FORMAT.md, "Value palettes"): k-means over
the Gaussians' unit values chooses each palette's entries, and every Gaussian
takes the entry nearest its values. Deterministic for a seed: elementwise
float64 arithmetic in fixed chunks and a fixed summation order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .quant import QuantConfig

#: Lloyd iterations of build_palettes (k-means): enough for the assignment to settle on fits.
PALETTE_KMEANS_ITERS = 16
_KMEANS_CHUNK = 2048


def nearest_entry(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[N] index of the nearest centre (squared distance, lowest index on ties).
    Elementwise float64 arithmetic in fixed chunks, so results do not depend
    on BLAS or thread count."""
    out = np.empty(len(x), np.int64)
    for a in range(0, len(x), _KMEANS_CHUNK):
        d = ((x[a : a + _KMEANS_CHUNK, None, :] - centres[None, :, :]) ** 2).sum(-1)
        out[a : a + _KMEANS_CHUNK] = d.argmin(1)
    return out


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """[k, d] centres of x [N, d] (float64): k-means++ seeding, then Lloyd
    iterations; an empty cluster keeps its centre. Deterministic for a seed."""
    uniq = np.unique(x, axis=0)
    if len(uniq) == 0:
        return np.zeros((k, x.shape[1]))
    if len(uniq) <= k:  # every distinct value gets its own entry
        return np.concatenate([uniq, np.repeat(uniq[-1:], k - len(uniq), 0)])
    rng = np.random.default_rng(seed)
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(len(x))]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for j in range(1, k):
        total = d2.sum()
        i = int(np.searchsorted(np.cumsum(d2), rng.random() * total, side="right")) if total > 0 else 0
        centres[j] = x[min(i, len(x) - 1)]
        d2 = np.minimum(d2, ((x - centres[j]) ** 2).sum(1))
    for _ in range(PALETTE_KMEANS_ITERS):
        a = nearest_entry(x, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, a, x)  # sequential: fixed summation order
        counts = np.bincount(a, minlength=k)[:, None]
        centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
    return centres


def assign_entries(values: np.ndarray, table: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A palette's entry codes ([2^b, channels] int64: table [2^b, channels] of
    unit values quantised to `levels` = 2^bits - 1 per channel) and the entry
    nearest each of values [N, channels] after that quantisation [N]."""
    codes = np.round(np.clip(table, 0.0, 1.0) * levels).astype(np.int64)
    return codes, nearest_entry(values, codes / levels)


def build_palettes(values, cfg: QuantConfig, seed: int = 0) -> list[np.ndarray]:
    """Entries of each of cfg's palettes for these Gaussians' values [N, C]
    (unit range): k-means over the palette's channels, one centre per entry.
    Returns, per palette, [2^index_bits, len(channels)] float64 unit values."""
    v = np.clip(np.asarray(values.detach().cpu() if torch.is_tensor(values) else values, dtype=np.float64), 0, 1)
    cfg.palette_channels(v.shape[1])
    return [_kmeans(v[:, list(chans)], 1 << int(ib), seed + p) for p, (chans, ib) in enumerate(cfg.palettes)]
