"""The Gaussians of a material: what a fit produces, a .texgs file stores and
every renderer draws (the image function of docs/IMAGE_FUNCTION.md).

One type for all of them; the arrays are either all numpy (the format's side:
writer input, reader output, a fit result) or all torch tensors on one device
(the fitter and the renderers). ``as_numpy()`` and ``as_torch()`` convert.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

#: A numpy array or a torch tensor (a Gaussians holds one kind).
Array = Any


@dataclass
class Gaussians:
    """N Gaussians over an image of C channels, in any order (a file holds them in
    file order, the order the image function's tie-break uses). Shapes, dtypes and units:

    means      [N, 2] float32  centre (x, y) in texels of the full-resolution image;
                               (0, 0) is its top-left corner, texel centres lie at +0.5
    inv_scales [N, 2] float32  (w1, w2) inverse standard deviations along the rotated
                               axes, 1/texels
    rotations  [N]    float32  theta, radians (a file holds [0, pi): the function has period pi)
    values     [N, C] float32  unit values; channel c stores lo + (hi - lo) * value,
                               (lo, hi) = Channel.range
    background [C]    float32  unit value of a texel no Gaussian reaches
    levels     [N]    int32    LOD level, 0 = coarsest (not given: every Gaussian on level 0)
    """

    means: Array
    inv_scales: Array
    rotations: Array
    values: Array
    background: Array
    levels: Array = None

    def __post_init__(self):
        if self.levels is None:
            n = self.means.shape[0]
            if torch.is_tensor(self.means):
                self.levels = torch.zeros(n, dtype=torch.int32, device=self.means.device)
            else:
                self.levels = np.zeros(n, np.int32)

    @property
    def n(self) -> int:
        return int(self.means.shape[0])

    @property
    def channels(self) -> int:
        """C, the number of values per Gaussian."""
        return int(self.values.shape[1])

    def _map(self, f) -> Gaussians:
        return Gaussians(*(f(getattr(self, x.name)) for x in fields(self)))

    def as_numpy(self) -> Gaussians:
        """The same Gaussians as numpy arrays (dtypes kept; tensors detached and copied to the host)."""
        return self._map(lambda a: a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a))

    def as_torch(self, device: torch.device | str | None = None) -> Gaussians:
        """The same Gaussians as torch tensors on `device` (default: where they are; numpy: the CPU)."""

        def t(a):
            a = a if torch.is_tensor(a) else torch.from_numpy(np.ascontiguousarray(a))
            return a if device is None else a.to(device)

        return self._map(t)

    def select(self, keep) -> Gaussians:
        """The Gaussians `keep` picks (an index array or a boolean mask [N]); the background stays."""
        return Gaussians(
            self.means[keep],
            self.inv_scales[keep],
            self.rotations[keep],
            self.values[keep],
            self.background,
            self.levels[keep],
        )
