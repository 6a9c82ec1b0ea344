"""The supercompressed distribution form, `.texgs.zst` (docs/FORMAT.md
"Supercompressed distribution"): one zstd frame holding the exact bytes of a
.texgs file, for shipping; a loader decompresses it and reads the .texgs.

The frame must declare its content size (compress() always writes it), so a
loader checks the size against the format's file-size limit before allocating
anything, and the result must be a .texgs file's bytes (its magic), whose own
CRCs the reader then checks.
"""

from __future__ import annotations

from ..errors import FormatError, TexgsError
from . import layout as L

SUFFIX = ".zst"
#: zstd level of the distribution form (what KTX2 release builds commonly use; zstd decodes
#: every level at the same speed).
LEVEL = 19
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Largest .texgs a frame may declare (the reader's own limit).
MAX_CONTENT_BYTES = 1 << 31


def _codec():
    try:
        import imagecodecs
    except ImportError:
        raise TexgsError("zstd supercompression needs imagecodecs: pip install imagecodecs") from None
    if not imagecodecs.ZSTD.available:
        raise TexgsError("this imagecodecs build has no zstd: pip install imagecodecs")
    return imagecodecs


def compress(data: bytes) -> bytes:
    """The .texgs.zst bytes of a .texgs file's bytes (deterministic for a zstd version)."""
    if data[: len(L.MAGIC)] != L.MAGIC:
        raise FormatError("supercompress: input is not a .texgs file (bad magic)")
    return bytes(_codec().zstd_encode(bytes(data), level=LEVEL))


def content_size(frame: bytes, name: str = "<bytes>") -> int:
    """The content size a zstd frame header declares (FormatError when absent or too large)."""
    if frame[:4] != ZSTD_MAGIC:
        raise FormatError(f"{name}: not a zstd frame (bad magic)")
    if len(frame) < 6:
        raise FormatError(f"{name}: zstd frame header truncated")
    fhd = frame[4]
    fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    fcs_len = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if fcs_len == 0:
        raise FormatError(f"{name}: the zstd frame does not declare its content size")
    pos = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
    if len(frame) < pos + fcs_len:
        raise FormatError(f"{name}: zstd frame header truncated")
    size = int.from_bytes(frame[pos : pos + fcs_len], "little") + (256 if fcs_len == 2 else 0)
    if size > MAX_CONTENT_BYTES:
        raise FormatError(f"{name}: the zstd frame declares {size} bytes, more than a .texgs file may hold")
    return size


def decompress(frame: bytes, name: str = "<bytes>") -> bytes:
    """The .texgs bytes a .texgs.zst holds; FormatError naming `name` for anything else."""
    size = content_size(frame, name)
    codec = _codec()
    try:
        data = bytes(codec.zstd_decode(bytes(frame), out=size)) if size else b""
    except codec.ZstdError as e:
        raise FormatError(f"{name}: corrupt zstd frame ({e})") from None
    if len(data) != size or data[: len(L.MAGIC)] != L.MAGIC:
        raise FormatError(f"{name}: the zstd frame does not hold a .texgs file")
    return data
