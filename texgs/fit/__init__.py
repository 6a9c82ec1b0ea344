"""Fitting n-channel Gaussians to a material stack at a bit budget (Image-GS).

    from texgs.fit import fit, Budget, FitConfig
    result = fit(stack, Budget(bppc=0.06), FitConfig(), groups=[...])

See docs/fitting.md.
"""

from .api import FitResult, evaluate, fit, fit_material
from .config import Budget, FitConfig

__all__ = ["fit", "fit_material", "FitResult", "evaluate", "Budget", "FitConfig"]
