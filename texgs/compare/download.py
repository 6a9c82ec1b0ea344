"""The bytes a game downloads: each file of a point after lossless zstd
supercompression (level 19, as a KTX2 file's zstd supercompression would
store it), beside the bytes it occupies in memory.

Every texture (a block-codec payload, a .texgs file) is compressed as its own
zstd frame, as an engine ships one file per texture. Whole-image codecs (AVIF,
JPEG XL, WebP) are already entropy-coded: their download size is their size.
"""

from __future__ import annotations

from .tools import MissingTool

#: zstd level of the download figures (KTX2 tools commonly use 19-22 for release builds).
ZSTD_LEVEL = 19


def _encoder():
    try:
        import imagecodecs
    except ImportError:
        raise MissingTool("zstd (imagecodecs)", "pip install imagecodecs") from None
    if not imagecodecs.ZSTD.available:
        raise MissingTool("zstd (imagecodecs)", "this imagecodecs build has no zstd; pip install imagecodecs")
    return imagecodecs.zstd_encode


def zstd_version() -> str:
    import imagecodecs

    _encoder()
    return f"zstd {imagecodecs.zstd_version().split('-')[-1]} (imagecodecs), level {ZSTD_LEVEL}"


def zstd_bytes(files: list[bytes]) -> int:
    """Total bytes of each file compressed as its own zstd frame at ZSTD_LEVEL."""
    encode = _encoder()
    return sum(len(encode(bytes(f), level=ZSTD_LEVEL)) for f in files)
