"""DDS (with the DX10 header) and KTX2 writers for one 2D texture and its mips.

Both take the level payloads largest first, exactly as the GPU produced them
(whole 4x4 blocks, or RGBA8 rows), and add nothing but headers: no
supercompression, no key/value data beyond the writer name.
"""

from __future__ import annotations

import struct

from .formats import TextureFormat

# -- DDS (Microsoft "DDS file layout for textures" with DDS_HEADER_DXT10) ---------
_DDSD_CAPS, _DDSD_HEIGHT, _DDSD_WIDTH, _DDSD_PITCH = 0x1, 0x2, 0x4, 0x8
_DDSD_PIXELFORMAT, _DDSD_MIPMAPCOUNT, _DDSD_LINEARSIZE = 0x1000, 0x20000, 0x80000
_DDPF_FOURCC = 0x4
_DDSCAPS_COMPLEX, _DDSCAPS_TEXTURE, _DDSCAPS_MIPMAP = 0x8, 0x1000, 0x400000
_D3D10_RESOURCE_DIMENSION_TEXTURE2D = 3
DDS_ALPHA_MODE_STRAIGHT, DDS_ALPHA_MODE_OPAQUE = 1, 3


def dds(fmt: TextureFormat, srgb: bool, width: int, height: int, levels: list[bytes], opaque: bool) -> bytes:
    """A DDS file: 'DDS ', DDS_HEADER (124 bytes), DDS_HEADER_DXT10 (20 bytes), levels."""
    _check_levels(fmt, width, height, levels)
    flags = _DDSD_CAPS | _DDSD_HEIGHT | _DDSD_WIDTH | _DDSD_PIXELFORMAT
    flags |= _DDSD_LINEARSIZE if fmt.compressed else _DDSD_PITCH
    pitch = len(levels[0]) if fmt.compressed else 4 * width
    caps = _DDSCAPS_TEXTURE
    if len(levels) > 1:
        flags |= _DDSD_MIPMAPCOUNT
        caps |= _DDSCAPS_COMPLEX | _DDSCAPS_MIPMAP
    pixel_format = struct.pack("<II4s5I", 32, _DDPF_FOURCC, b"DX10", 0, 0, 0, 0, 0)
    header = struct.pack("<7I44x", 124, flags, height, width, pitch, 0, len(levels))
    header += pixel_format + struct.pack("<5I", caps, 0, 0, 0, 0)
    dxgi = fmt.dxgi[1] if srgb else fmt.dxgi[0]
    alpha = DDS_ALPHA_MODE_OPAQUE if opaque else DDS_ALPHA_MODE_STRAIGHT
    dx10 = struct.pack("<5I", dxgi, _D3D10_RESOURCE_DIMENSION_TEXTURE2D, 0, 1, alpha)
    assert len(header) == 124
    return b"DDS " + header + dx10 + b"".join(levels)


# -- KTX2 (Khronos KTX File Format Specification 2.0) ------------------------------
KTX2_IDENTIFIER = b"\xabKTX 20\xbb\r\n\x1a\n"
_KHR_DF_PRIMARIES_BT709 = 1
_KHR_DF_TRANSFER_LINEAR, _KHR_DF_TRANSFER_SRGB = 1, 2
_KHR_DF_SAMPLE_DATATYPE_LINEAR = 0x10  # qualifier bit in a sample's channel byte
_KTX2_HEADER_BYTES = 80  # identifier, 9 header words, the index (4 words + 2 u64)


def ktx2(fmt: TextureFormat, srgb: bool, width: int, height: int, levels: list[bytes], writer: str) -> bytes:
    """A KTX2 file: header, level index, data format descriptor, KTXwriter key, then the
    levels smallest first, each aligned to lcm(texel block bytes, 4)."""
    _check_levels(fmt, width, height, levels)
    vk = fmt.vk[1] if srgb else fmt.vk[0]
    dfd = _dfd(fmt, srgb)
    kvd = _kv("KTXwriter", writer)
    dfd_off = _KTX2_HEADER_BYTES + 24 * len(levels)
    kvd_off = dfd_off + len(dfd)
    end = kvd_off + len(kvd)
    align = 16 if fmt.block_bytes == 16 else (8 if fmt.block_bytes == 8 else 4)
    offsets = [0] * len(levels)
    body = bytearray()
    for i in reversed(range(len(levels))):  # smallest level first in the file
        pad = (-(end + len(body))) % align
        body += b"\0" * pad
        offsets[i] = end + len(body)
        body += levels[i]
    head = KTX2_IDENTIFIER + struct.pack(
        "<9I", vk, 1, width, height, 0, 0, 1, len(levels), 0
    )  # typeSize 1, depth 0, layers 0, faces 1, no supercompression
    head += struct.pack("<4I2Q", dfd_off, len(dfd), kvd_off, len(kvd), 0, 0)
    index = b"".join(struct.pack("<3Q", offsets[i], len(levels[i]), len(levels[i])) for i in range(len(levels)))
    return bytes(head + index + dfd + kvd + body)


def _dfd(fmt: TextureFormat, srgb: bool) -> bytes:
    """The data format descriptor: its total size, then one basic descriptor block."""
    if fmt.compressed:
        # One sample per 64-bit half: BC5 is red then green, every other format one sample.
        bits = 8 * fmt.block_bytes
        halves = 2 if fmt.name == "bc5" else 1
        samples = [(64 * i, bits // halves, i, 0, 0xFFFFFFFF) for i in range(halves)]
        block_dims, plane_bytes = (3, 3, 0, 0), fmt.block_bytes
    else:
        linear_alpha = _KHR_DF_SAMPLE_DATATYPE_LINEAR if srgb else 0
        samples = [(8 * c, 8, ch, 0, 255) for c, ch in enumerate((0, 1, 2))]
        samples.append((24, 8, 15 | linear_alpha, 0, 255))  # KHR_DF_CHANNEL_RGBSDA_ALPHA
        block_dims, plane_bytes = (0, 0, 0, 0), 4
    transfer = _KHR_DF_TRANSFER_SRGB if srgb else _KHR_DF_TRANSFER_LINEAR
    block = struct.pack("<II", 0, 2 | ((24 + 16 * len(samples)) << 16))  # vendor 0, type 0; version 2, size
    block += bytes([fmt.dfd_model, _KHR_DF_PRIMARIES_BT709, transfer, 0])  # flags 0: straight alpha
    block += bytes(block_dims) + bytes([plane_bytes, 0, 0, 0, 0, 0, 0, 0])
    for offset, length, channel, lower, upper in samples:
        block += struct.pack("<HBB4xII", offset, length - 1, channel, lower, upper)
    return struct.pack("<I", 4 + len(block)) + block


def _kv(key: str, value: str) -> bytes:
    """One key/value entry (length, 'key\\0value\\0', padded to 4 bytes)."""
    kv = key.encode() + b"\0" + value.encode() + b"\0"
    return struct.pack("<I", len(kv)) + kv + b"\0" * ((-len(kv)) % 4)


def _check_levels(fmt: TextureFormat, width: int, height: int, levels: list[bytes]) -> None:
    w, h = width, height
    for i, data in enumerate(levels):
        if len(data) != fmt.level_bytes(w, h):
            raise ValueError(f"level {i} ({w}x{h} {fmt.name}) is {len(data)} bytes, not {fmt.level_bytes(w, h)}")
        w, h = max(1, w // 2), max(1, h // 2)
