"""Fitting n-channel Gaussians to a material stack at a bit budget (Image-GS).

    from texgs.fit import fit, Budget, FitConfig
    result = fit(stack, Budget(bppc=0.06), FitConfig(), groups=[...])

See docs/fitting.md.
"""

from .api import FitResult, evaluate, fit
from .config import Budget, FitConfig
from .packing import ChannelMeta

__all__ = ["fit", "FitResult", "evaluate", "Budget", "FitConfig", "ChannelMeta"]
