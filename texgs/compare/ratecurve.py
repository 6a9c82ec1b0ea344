"""Rate-distortion points, the Pareto frontier of a codec family, and the figure
of that family at a requested rate (linear interpolation in log-rate)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bracket:
    """Where a requested rate falls on a frontier: value = (1 - t) * lo + t * hi."""

    lo: int  # index into the frontier list
    hi: int
    t: float  # in [0, 1]; 0 when lo == hi


def pareto_frontier(rates: list[float], quality: list[float]) -> list[int]:
    """Indices of the points no other point beats: sorted by rate, each one has a higher
    quality than every point at a lower (or equal) rate. Ties in rate keep the better point."""
    if len(rates) != len(quality):
        raise ValueError("rates and quality differ in length")
    order = sorted(range(len(rates)), key=lambda i: (rates[i], -quality[i]))
    keep, best = [], -math.inf
    for i in order:
        if quality[i] > best and not (keep and rates[keep[-1]] == rates[i]):
            keep.append(i)
            best = quality[i]
    return keep


def bracket(frontier_rates: list[float], rate: float) -> Bracket | None:
    """Locate `rate` among ascending frontier rates; None when it is outside their range
    (no extrapolation: a figure outside the measured range would be invented)."""
    if not frontier_rates or rate <= 0:
        return None
    if rate < frontier_rates[0] or rate > frontier_rates[-1]:
        return None
    for k in range(len(frontier_rates)):
        if frontier_rates[k] == rate:
            return Bracket(k, k, 0.0)
        if frontier_rates[k] > rate:
            r0, r1 = frontier_rates[k - 1], frontier_rates[k]
            return Bracket(k - 1, k, (math.log(rate) - math.log(r0)) / (math.log(r1) - math.log(r0)))
    raise AssertionError("unreachable")


def interpolate(lo_value, hi_value, t: float):
    """(1 - t) * lo + t * hi; None when either end is None."""
    if lo_value is None or hi_value is None:
        return None
    if t == 0.0:
        return lo_value
    return (1.0 - t) * lo_value + t * hi_value


def value_at(rates: list[float], quality: list[float], rate: float) -> float | None:
    """A family's quality at `rate`: its Pareto frontier interpolated linearly in log-rate."""
    front = pareto_frontier(rates, quality)
    b = bracket([rates[i] for i in front], rate)
    if b is None:
        return None
    return interpolate(quality[front[b.lo]], quality[front[b.hi]], b.t)
