"""Exact cutouts: opacity channels that an engine alpha-tests.

Foliage, chain mail, fences and decals keep a texel when its opacity is at or
above a cutoff (0.5 by default) and discard it otherwise, so what matters is
which side of the cutoff the decoded value falls on, not how close it is. The
L2 data term does not see that: on a mask whose boundary it blurs, about half
of the blurred band lands on the wrong side.

Here:
- which channels are masks (`select`): an opacity channel (semantic or group
  "opacity") whose target has at least MASK_SHARE of its texels within
  MASK_EPS of 0 or 1 and texels on both sides of the cutoff
  (`FitConfig.alpha_test = "auto"`); every opacity channel with both sides
  (`"on"`); none (`"off"`);
- a loss term (`Cutout.loss`): for each mask texel, a hinge on the decoded
  value being less than MARGIN on its target's side of the cutoff, mean over
  texels, times `FitConfig.cutout_weight`; the fit adds it to the data term
  at full resolution (the main loop's last level, QAT included, and palette
  refinement, so the last steps see the values the file will decode to), and
  judges its best iterate by the sum;
- the measure (`wrong_side`): the share of texels whose decoded value is on
  the other side of the cutoff from the target's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..channels import Channel

#: alpha_test "auto": a channel is a mask when at least MASK_SHARE of its
#: texels are within MASK_EPS of 0 or 1 (13/255: JPEG ringing and soft
#: anti-aliased edges stay under it).
MASK_EPS = 0.05
MASK_SHARE = 0.9
#: The hinge asks each decoded value to be this far (stored units) on its
#: target's side of the cutoff. A linear hinge with a small margin measured
#: best on Chainmail004 (docs/fitting.md "Exact cutouts"): a squared one or a
#: wider margin paid more PSNR of the other channels for the same wrong share.
MARGIN = 0.02

ALPHA_TEST_MODES = ("auto", "on", "off")


def is_opacity(c: Channel) -> bool:
    return c.semantic == "opacity" or c.group == "opacity"


def binary_share(values: torch.Tensor) -> float:
    """Share of texels of values [H, W] within MASK_EPS of 0 or 1."""
    return float(((values <= MASK_EPS) | (values >= 1.0 - MASK_EPS)).float().mean())


@dataclass(frozen=True)
class Cutout:
    """The mask channels of a fit and how the loss treats them.

    channels: indices into the channel axis; binary: each one's share of
    texels near 0 or 1; cutoff: kept means decoded >= cutoff; weight: the loss
    term's weight (0: measured only); rule: "auto" or "on" (FitConfig.alpha_test)."""

    channels: tuple[int, ...]
    binary: tuple[float, ...]
    cutoff: float
    weight: float
    rule: str

    def loss(self, unit_img: torch.Tensor, lo: torch.Tensor, span: torch.Tensor, target: torch.Tensor):
        """weight * mean over mask texels of relu(MARGIN - s (pred - cutoff)), with
        pred = lo + span * unit_img the decoded stored value and s = +1 where the
        target is kept (>= cutoff), -1 where it is discarded. unit_img, target [h, w, C]."""
        idx = list(self.channels)
        pred = lo[idx] + span[idx] * unit_img[..., idx]
        sign = torch.where(target[..., idx] >= self.cutoff, 1.0, -1.0)
        return self.weight * torch.relu(MARGIN - sign * (pred - self.cutoff)).mean()

    def report(self, decoded: np.ndarray, target: np.ndarray, channels: list[Channel]) -> dict:
        """What the manifest and the fit's metrics record: the rule, the cutoff,
        and per mask channel its binary share and wrong-side share of the decode."""
        out = []
        for i, share in zip(self.channels, self.binary):
            wrong = int(np.count_nonzero((decoded[..., i] >= self.cutoff) != (target[..., i] >= self.cutoff)))
            out.append(
                {
                    "channel": channels[i].name,
                    "index": i,
                    "binary_share": round(share, 4),
                    "wrong_side": wrong / (decoded.shape[0] * decoded.shape[1]),
                    "wrong_texels": wrong,
                }
            )
        return {"rule": self.rule, "cutoff": self.cutoff, "weight": self.weight, "channels": out}


def select(target: torch.Tensor, channels: list[Channel], mode: str, cutoff: float, weight: float) -> Cutout | None:
    """The mask channels of target [H, W, C] (stored values) under alpha_test
    `mode` (ALPHA_TEST_MODES), or None when there are none. A channel entirely on
    one side of the cutoff has no edge to keep and is never a mask."""
    if mode == "off":
        return None
    picked, shares = [], []
    for i, c in enumerate(channels):
        if not is_opacity(c):
            continue
        v = target[..., i]
        if not float(v.min()) < cutoff <= float(v.max()):
            continue
        share = binary_share(v)
        if mode == "on" or share >= MASK_SHARE:
            picked.append(i)
            shares.append(share)
    if not picked:
        return None
    return Cutout(tuple(picked), tuple(shares), float(cutoff), float(weight), mode)


def wrong_side(decoded: np.ndarray, target: np.ndarray, cutoff: float = 0.5) -> float:
    """Share of texels whose decoded value is on the other side of the cutoff
    from the target's (kept: >= cutoff). Arrays of one shape."""
    return float(np.mean((np.asarray(decoded) >= cutoff) != (np.asarray(target) >= cutoff)))
