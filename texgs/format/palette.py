"""Value palettes of packed records (docs/FORMAT.md, "Value palettes"): k-means over
the Gaussians' unit values chooses each palette's entries, and every Gaussian
takes the entry nearest its values. Deterministic for a seed: elementwise
float64 arithmetic in fixed chunks and a fixed summation order, so neither BLAS
nor the thread count changes a result.

Cost is linear in the Gaussian count: the k-means trains on a fixed-size sample
of the values (KMEANS_POINTS_PER_ENTRY per entry), then a few Lloyd passes
over every value (KMEANS_FULL_PASSES) move the entries to all of them; the
assignment of every Gaussian to its nearest entry (assign_entries) is one more
pass."""

from __future__ import annotations

import concurrent.futures
import os
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .quant import QuantConfig

#: Lloyd iterations of build_palettes (k-means): enough for the assignment to settle on fits.
PALETTE_KMEANS_ITERS = 16
#: Training points per entry: the k-means sees at most this many values per entry
#: (a uniform sample without replacement). 65,536 values for 256 entries: a
#: 2048^2 0.06 bppc fit (35,000 Gaussians) still uses every value.
KMEANS_POINTS_PER_ENTRY = 256
#: Lloyd passes over every value after a sampled k-means: on 140,000 and 560,000
#: values (4096^2, 8192^2) the sample's entries leave 1.3-4.3% more squared
#: error than a k-means over all values, four passes -0.3-1.2%
#: (docs/benchmarks.md "Cost as the material grows").
KMEANS_FULL_PASSES = 4
_KMEANS_CHUNK = 1024  # rows of a distance block: [chunk, entries] float64 stays in cache
#: Most threads nearest_entry spreads its blocks over (numpy's elementwise
#: passes release the GIL; every block is computed alone, so the result is the
#: same on any count).
KMEANS_MAX_WORKERS = 2

_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(KMEANS_MAX_WORKERS, cores))


def _blocks_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=KMEANS_MAX_WORKERS, thread_name_prefix="texgs-kmeans")
    return _pool


def _squared_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[n, k] squared distances, summed over the dimensions in order (as
    ((x - c) ** 2).sum(-1) sums them, without its [n, k, d] temporary)."""
    d = (x[:, None, 0] - centres[None, :, 0]) ** 2
    for j in range(1, x.shape[1]):
        d += (x[:, None, j] - centres[None, :, j]) ** 2
    return d


def nearest_entry(x: np.ndarray, centres: np.ndarray, workers: int | None = None) -> np.ndarray:
    """[N] index of the nearest centre (squared distance, lowest index on ties).
    Elementwise float64 arithmetic in fixed chunks, so results do not depend
    on BLAS or thread count; the chunks are spread over up to
    KMEANS_MAX_WORKERS threads (workers: that many, None = as many as this
    process may use), each writing its own rows."""
    out = np.empty(len(x), np.int64)

    def block(a: int) -> None:
        out[a : a + _KMEANS_CHUNK] = _squared_distances(x[a : a + _KMEANS_CHUNK], centres).argmin(1)

    starts = range(0, len(x), _KMEANS_CHUNK)
    workers = min(_workers() if workers is None else max(1, workers), KMEANS_MAX_WORKERS, len(starts))
    if workers > 1:
        list(_blocks_pool().map(block, starts))
    else:
        for a in starts:
            block(a)
    return out


def training_sample(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The values the k-means of k entries trains on: all of x up to
    KMEANS_POINTS_PER_ENTRY * k, beyond that that many of them, drawn uniformly
    without replacement (a generator of its own, so the seeding below draws the
    same numbers whether x was sampled or not) and kept in x's order."""
    cap = KMEANS_POINTS_PER_ENTRY * k
    if len(x) <= cap:
        return x
    pick = np.random.default_rng([seed, 1]).choice(len(x), cap, replace=False)
    return x[np.sort(pick)]


def _lloyd(x: np.ndarray, centres: np.ndarray, iters: int) -> np.ndarray:
    """Up to `iters` Lloyd iterations of centres [k, d] over x [n, d], stopping
    once the assignment settles (every further one would give the same
    centres); an empty cluster keeps its centre."""
    k, prev = len(centres), None
    for _ in range(iters):
        a = nearest_entry(x, centres)
        if prev is not None and np.array_equal(a, prev):
            break
        prev = a
        counts = np.bincount(a, minlength=k)[:, None]
        # bincount adds in input order from 0, a fixed summation order
        sums = np.stack([np.bincount(a, weights=x[:, j], minlength=k) for j in range(x.shape[1])], 1)
        centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
    return centres


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """[k, d] centres of x [N, d] (float64): k-means++ seeding and Lloyd
    iterations over training_sample(x), then, when that is a sample, up to
    KMEANS_FULL_PASSES over all of x. Deterministic for a seed."""
    s = training_sample(x, k, seed)
    uniq = np.unique(s, axis=0)
    if len(uniq) <= k and len(s) < len(x):
        uniq = np.unique(x, axis=0)  # few distinct values in the sample: check them all
    if len(uniq) == 0:
        return np.zeros((k, x.shape[1]))
    if len(uniq) <= k:  # every distinct value gets its own entry
        return np.concatenate([uniq, np.repeat(uniq[-1:], k - len(uniq), 0)])
    rng = np.random.default_rng(seed)
    centres = np.empty((k, s.shape[1]))
    centres[0] = s[rng.integers(len(s))]
    d2 = ((s - centres[0]) ** 2).sum(1)
    for j in range(1, k):
        total = d2.sum()
        i = int(np.searchsorted(np.cumsum(d2), rng.random() * total, side="right")) if total > 0 else 0
        centres[j] = s[min(i, len(s) - 1)]
        d2 = np.minimum(d2, ((s - centres[j]) ** 2).sum(1))
    centres = _lloyd(s, centres, PALETTE_KMEANS_ITERS)
    if len(s) < len(x):
        centres = _lloyd(x, centres, KMEANS_FULL_PASSES)
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
