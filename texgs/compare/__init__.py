"""`texgs compare`: texgs against the block codecs engines ship, at equal bitrate.

Library entry point: `texgs.compare.api.compare(inputs, settings, out_dir)`. Modules:
tools (finding encoders), codecs (encode with the real tools, decode with
texture2ddecoder), mips (box mips, bilinear upsampling), ratecurve (Pareto
frontier, log-rate interpolation), material (loading, RGB texture packing),
methods / engine_set (what is compared), quality (figures), run (rows),
report (files). See docs/compare.md.
"""

from __future__ import annotations

from .api import compare
from .run import METHOD_NAMES, MaterialResult, Settings, compare_material

__all__ = ["compare", "Settings", "MaterialResult", "METHOD_NAMES", "compare_material"]
