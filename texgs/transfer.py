"""Value ranges and transfers: how a channel's unit value u (what the fitter,
the decoders and the shaders blend) becomes its stored value, and back.

One definition every decoder follows (docs/FORMAT.md, "Channel table"):

- "linear" and "srgb" (a label: the engine decodes sRGB itself):
  ``lo + (hi - lo) * u``;
- "log2" (high dynamic range data such as emissive in nits):
  ``exp2(lo + (hi - lo) * u) - exp2(lo)``, so u = 0 is exactly 0 and the
  steps are relative (equal ratios) rather than absolute. The encoder stores
  ``log2(x + a)`` with ``lo = log2(a)``, ``hi = log2(max + a)``: ``a`` is the
  floor below which values blur together (LOG2_FLOOR_STOPS under the peak, or
  the smallest positive value if higher). Since the decoder subtracts exp2(lo),
  the fitter never narrows a log2 channel's range at the low end.
  A log2 channel's lo and hi lie within +-64 (texgs.format.layout.LOG2_RANGE_LIMIT),
  so decoded values stay below 2^64 (the format's RANGE_LIMIT) in float32.
"""

from __future__ import annotations

import numpy as np

from .channels import Channel
from .errors import InputError

#: The log2 floor a sits this many stops (factors of 2) below the channel's peak.
LOG2_FLOOR_STOPS = 16


def to_stored(unit, lo, hi, log2) -> np.ndarray:
    """Stored values [..., C] of unit values [..., C]; lo, hi [C] float32, log2 [C] bool."""
    lo = np.asarray(lo, np.float32)
    hi = np.asarray(hi, np.float32)
    v = lo + (hi - lo) * np.asarray(unit, np.float32)
    log2 = np.asarray(log2, bool)
    if not log2.any():
        return v
    return np.where(log2, np.exp2(np.where(log2, v, 0)) - np.exp2(np.where(log2, lo, 0)), v).astype(np.float32)


def log2_range(peak: float, smallest: float = 0.0) -> tuple[float, float]:
    """The encoded (lo, hi) of a log2 channel whose values lie in [0, peak], float32.
    The floor a = exp2(lo) is LOG2_FLOOR_STOPS under the peak, or the smallest positive
    value when that is higher: codes below it would only describe values the data lacks."""
    peak = min(max(float(peak), 2.0**-48), 2.0**62)  # lo >= -64, hi <= 63
    a = min(max(peak * 2.0**-LOG2_FLOOR_STOPS, float(smallest)), peak)
    return float(np.float32(np.log2(a))), float(np.float32(np.log2(peak + a)))


def log2_encode(x, lo: float) -> np.ndarray:
    """log2(x + exp2(lo)) of values x >= 0 (the inverse of to_stored's log2 branch)."""
    return np.log2(np.asarray(x, np.float64) + 2.0**lo)


#: A declared range may miss the data by this share of its span (float rounding of the source).
RANGE_SLACK = 1e-6


def input_ranges(target: np.ndarray, metas: list[Channel], source: str = "stack") -> list[tuple[float, float]]:
    """Each channel's input range in its stored units: what unit value 0 and 1 stand for
    while fitting (docs/ingest.md, "Value ranges"). A channel's declared range (Channel.range
    other than (0, 1)) is kept, and the data must lie within it; otherwise [0, 1] when the
    data lie there (8/16-bit sources), else the data's min..max (widened to 1/1024 of its
    magnitude when constant). A "log2" channel (docs/FORMAT.md) spans [0, peak] of values
    >= 0, peak = the declared hi or the data's max; its range is returned encoded."""
    out = []
    for c, m in enumerate(metas):
        plane = target[..., c]
        dlo, dhi = float(plane.min()), float(plane.max())
        declared = tuple(float(x) for x in m.range) != (0.0, 1.0)
        if m.colour_space == "log2":
            if dlo < 0.0:
                raise InputError(f"{source}: channel {m.name} is log2-encoded but holds negative values ({dlo:.4g})")
            peak = m.range[1] if declared else dhi
            if dhi > peak * (1 + RANGE_SLACK):
                raise InputError(f"{source}: channel {m.name} reaches {dhi:.6g}, above its declared peak {peak:.6g}")
            positive = plane[plane > 0]
            out.append(log2_range(peak, float(positive.min()) if positive.size else 0.0))
            continue
        if declared:
            lo, hi = (float(x) for x in m.range)
            slack = RANGE_SLACK * (hi - lo)
            if not lo < hi or dlo < lo - slack or dhi > hi + slack:
                raise InputError(
                    f"{source}: channel {m.name} holds [{dlo:.6g}, {dhi:.6g}], outside its declared range "
                    f"[{lo:.6g}, {hi:.6g}]"
                )
        elif dlo >= -1e-6 and dhi <= 1 + 1e-6:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = dlo, max(dhi, dlo + max(abs(dlo), 1.0) / 1024)
        out.append((float(np.float32(lo)), float(np.float32(hi))))
    return out


def to_unit(target: np.ndarray, metas: list[Channel], ranges):
    """target [H, W, C] stored values -> unit values in [0, 1] under `ranges` (input_ranges)."""
    lo = np.array([r[0] for r in ranges], np.float64)
    hi = np.array([r[1] for r in ranges], np.float64)
    x = target.astype(np.float64)
    for c, m in enumerate(metas):
        if m.colour_space == "log2":
            x[..., c] = log2_encode(x[..., c], lo[c])
    import torch

    return torch.from_numpy(np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32))
