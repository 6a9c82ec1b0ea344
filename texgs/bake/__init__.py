"""The batch pipeline behind `texgs bake` (see docs/ci.md)."""

from .pipeline import Pipeline
from .pipeline import load as load_pipeline
from .runner import EXIT_ERROR, EXIT_GATE, EXIT_OK, BakeOptions, bake, summary_table

__all__ = ["BakeOptions", "EXIT_ERROR", "EXIT_GATE", "EXIT_OK", "Pipeline", "bake", "load_pipeline", "summary_table"]
