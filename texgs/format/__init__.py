"""Packed, tile-sorted runtime format of texgs materials (docs/FORMAT.md).

Public interface (used by the fitter and the CLI):
- ``QuantConfig``, ``gaussian_constraints``, ``quantize_ste``: the runtime
  quantiser (quant.py; its value palettes in palette.py);
- ``size_bound``, ``max_gaussians``: exact file sizes (layout.py);
- ``pack``: the writer (writer.py) of a texgs.gaussians.Gaussians;
- ``Packed``, ``unpack``: the reader of untrusted bytes (reader.py): a file's
  header, channel table and Gaussians;
- ``decode``, ``decode_uv``: the reference decoder (decoder.py).
"""

from .decoder import decode, decode_uv
from .layout import max_gaussians, size_bound
from .quant import QuantConfig, gaussian_constraints, quantize, quantize_ste
from .reader import Packed, unpack
from .writer import pack

__all__ = [
    "QuantConfig",
    "gaussian_constraints",
    "quantize",
    "quantize_ste",
    "size_bound",
    "max_gaussians",
    "pack",
    "Packed",
    "unpack",
    "decode",
    "decode_uv",
]
