"""Packed, tile-sorted runtime format of texgs materials (docs/FORMAT.md).

Public interface (used by the fitter and the CLI):
- ``QuantConfig``, ``gaussian_constraints``, ``quantize_ste``, ``size_bound``,
  ``max_gaussians``: the runtime quantiser and exact file sizes (quant.py);
- ``ChannelDesc``, ``PackInput``, ``pack``: the writer (writer.py);
- ``Packed``, ``unpack``: the reader of untrusted bytes (reader.py);
- ``decode``, ``decode_uv``: the reference decoder (decoder.py).
"""

from .decoder import decode, decode_uv
from .quant import QuantConfig, gaussian_constraints, max_gaussians, quantize, quantize_ste, size_bound
from .reader import Packed, unpack
from .writer import ChannelDesc, PackInput, pack

__all__ = [
    "QuantConfig",
    "gaussian_constraints",
    "quantize",
    "quantize_ste",
    "size_bound",
    "max_gaussians",
    "ChannelDesc",
    "PackInput",
    "pack",
    "Packed",
    "unpack",
    "decode",
    "decode_uv",
]
