"""Writer of packed texgs files (docs/FORMAT.md).

``pack(gaussians, channels, height, width, ...) -> bytes``: quantises the Gaussians with the runtime
quantiser, sorts them by (strip, LOD level, x) so a texel's candidates are a
few contiguous, x-sorted ranges, bit-packs the records and writes the header,
section table, channel table, strip index and channel names, each section
with a CRC-32.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

from ..channels import Channel
from ..constants import MAX_CHANNELS, MAX_K
from ..errors import ConfigError, InputError
from ..gaussians import Gaussians
from . import layout as L
from .mip_tail import MipTail, level_size
from .mip_tail import section as mip_tail_section
from .quant import (
    QuantConfig,
    check_sizes,
    dequantize,
    encode,
    header_radius,
    inv_scale_lo,
    position_steps,
    rotation_step,
    value_step,
)


def _np(a, dtype) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(a), dtype=dtype)


def check_name(text: str, what: str) -> None:
    """InputError unless `text` can be a channel name or group in the NAMES section."""
    if any(ch in text for ch in "\t\n\r\0"):
        raise InputError(f"channel {what} {text!r} contains a tab, line break or NUL")
    if len(text.encode("utf-8")) > L.NAME_MAX_BYTES:
        raise InputError(f"channel {what} {text!r} is longer than {L.NAME_MAX_BYTES} bytes (UTF-8)")


def names_section(channels: list) -> bytes:
    """The NAMES section of these Channels (checked)."""
    for ch in channels:
        check_name(ch.name, "name")
        check_name(ch.group, "group")
    return L.names_section(
        [ch.name for ch in channels], [ch.group for ch in channels], [ch.semantic for ch in channels]
    )


def palettes_section(cfg: QuantConfig, channels: int, entries: list) -> bytes:
    """The PALETTES section: its table, then each palette's entry codes
    ([2^b, channels] int arrays) bit-packed at the channels' code bits."""
    lay = L.record_layout(cfg, channels)
    table, data = [], []
    at = L.PALETTE_WORDS * len(cfg.palettes)
    for p, ((chans, ib), codes) in enumerate(zip(cfg.palettes, entries)):
        chans = [int(c) for c in chans]
        n_words = L.palette_data_words(int(ib), lay.entry_bits[p])
        stream = bitpack(
            np.asarray(codes, dtype=np.int64),
            [lay.channel_offsets[c] for c in chans],
            [lay.channel_bits[c] for c in chans],
            lay.entry_bits[p],
            n_words,
        )
        table += [lay.index_offsets[p], int(ib), lay.entry_bits[p], at]
        data.append(stream)
        at += n_words
    return np.array(table, dtype=np.uint32).tobytes() + b"".join(d.tobytes() for d in data)


def bitpack(fields: np.ndarray, offsets, widths, record_bits: int, n_words: int) -> np.ndarray:
    """fields [N, F] uint codes -> uint32 words of the LSB-first record stream."""
    words = np.zeros(n_words + 1, dtype=np.uint64)
    base = np.arange(fields.shape[0], dtype=np.int64) * record_bits
    for f, (off, width) in enumerate(zip(offsets, widths)):
        v = fields[:, f].astype(np.uint64) & np.uint64((1 << width) - 1)
        p = base + off
        w, sh = p >> 5, (p & 31).astype(np.uint64)
        shifted = v << sh  # < 2^(31 + 16): fits in 64 bits
        np.bitwise_or.at(words, w, shifted & np.uint64(0xFFFFFFFF))
        np.bitwise_or.at(words, w + 1, shifted >> np.uint64(32))
    return words[:n_words].astype(np.uint32)


def _header(fields: dict) -> bytearray:
    buf = bytearray(L.HEADER_BYTES)
    buf[0:8] = L.MAGIC
    for name, word, kind in L.HEADER_FIELDS:
        if name == "header_crc32":
            continue
        val = fields.get(name, 0)
        arr = np.array([val], dtype=np.float32 if kind == "f32" else np.uint32)
        buf[4 * word : 4 * word + 4] = arr.tobytes()
    crc = zlib.crc32(bytes(buf[: L.HEADER_CRC_SPAN]))
    buf[L.HEADER_CRC_SPAN : L.HEADER_BYTES] = np.uint32(crc).tobytes()
    return buf


def channel_table(channels: list, cfg: QuantConfig, background: np.ndarray) -> bytes:
    c = len(channels)
    lay = L.record_layout(cfg, c)
    out = bytearray()
    for i, ch in enumerate(channels):
        if ch.semantic not in L.SEMANTICS:
            raise InputError(f"channel {ch.name!r}: unknown semantic {ch.semantic!r}; use one of {L.SEMANTICS}")
        if ch.colour_space not in L.COLOUR_SPACES:
            raise InputError(
                f"channel {ch.name!r}: unknown colour space {ch.colour_space!r}; use one of {L.COLOUR_SPACES}"
            )
        lo, hi = (float(x) for x in ch.range)
        if not (np.isfinite(lo) and np.isfinite(hi) and -L.RANGE_LIMIT <= lo < hi <= L.RANGE_LIMIT):
            raise InputError(
                f"channel {ch.name!r}: range must be finite with lo < hi, "
                f"each within +-{L.RANGE_LIMIT:.6g}, got {ch.range}"
            )
        if ch.colour_space == "log2" and not -L.LOG2_RANGE_LIMIT <= lo < hi <= L.LOG2_RANGE_LIMIT:
            raise InputError(
                f"channel {ch.name!r}: a log2 range must lie within +-{L.LOG2_RANGE_LIMIT:g}, got {ch.range}"
            )
        bits = lay.channel_bits[i]
        words = np.zeros(L.CHANNEL_WORDS, dtype=np.uint32)
        words[0] = L.channel_codes(
            semantic=L.SEMANTICS.index(ch.semantic),
            colour_space=L.COLOUR_SPACES.index(ch.colour_space),
            value_bits=bits,
            palette=lay.palette_of[i] + 1,
            value_bit_offset=lay.channel_offsets[i],
        )
        floats = np.array(
            [value_step(bits) if cfg.encoding == "fixed" else 0.0, background[i], lo, hi], dtype=np.float32
        )
        words[1:5] = floats.view(np.uint32)
        out += words.tobytes()
    return bytes(out)


def pack(
    gaussians: Gaussians,
    channels: list[Channel],
    height: int,
    width: int,
    *,
    k: int = 10,
    wrap: tuple[bool, bool] = (False, False),
    cfg: QuantConfig | None = None,
    lod_levels: int | None = None,
    palettes: list | None = None,
    mip_tail: MipTail | None = None,
) -> bytes:
    """Quantise, sort and serialise N Gaussians (numpy or torch, any order) of an
    H x W image with one texgs.channels.Channel per value column; returns the file bytes
    (layout in docs/FORMAT.md).

    k: Gaussians blended per texel; wrap: (x, y) addressing, True = tileable;
    cfg: the record encoding (default QuantConfig.fixed()); lod_levels: LOD
    levels of the file (default max(levels) + 1); palettes: with cfg.palettes,
    their entries (palette.build_palettes; None = built here); mip_tail: the
    stored mip tail (mip_tail.build from the source maps; None = none)."""
    cfg = cfg if cfg is not None else QuantConfig.fixed()
    cfg.validate()
    h, w = int(height), int(width)
    check_sizes(h, w)
    values = _np(gaussians.values, np.float64)
    n = values.shape[0] if values.ndim == 2 else -1
    c = len(channels)
    if values.ndim != 2 or values.shape[1] != c:
        raise InputError(f"values must be [N, {c}] (one column per channel description), got {values.shape}")
    if not 1 <= c <= MAX_CHANNELS:
        raise InputError(f"channel count must be in 1..{MAX_CHANNELS}, got {c}")
    if not 1 <= int(k) <= MAX_K:
        raise ConfigError(f"K must be in 1..{MAX_K}, got {k}")
    background = _np(gaussians.background, np.float32).reshape(-1)
    if background.shape != (c,) or not np.isfinite(background).all():
        raise InputError(f"background must be {c} finite values, got shape {background.shape}")
    background = np.clip(background, 0.0, 1.0)  # a unit value, clamped like the Gaussians' values
    levels = _np(gaussians.levels, np.int64).reshape(-1)
    if levels.shape != (n,) or (n and levels.min() < 0):
        raise InputError(f"levels must be [N={n}] non-negative integers")
    n_levels = int(lod_levels or (int(levels.max()) + 1 if n else 1))
    if not 1 <= n_levels <= L.MAX_LOD_LEVELS or (n and levels.max() >= n_levels):
        raise InputError(f"LOD levels must be 1..{L.MAX_LOD_LEVELS} and cover every Gaussian's level, got {n_levels}")
    if n * cfg.record_bits(c) >= 1 << 32:
        raise InputError(f"too many Gaussians: {n} records exceed the 2^32-bit stream shaders can address")
    wrap = (bool(wrap[0]), bool(wrap[1]))

    g = gaussians
    codes = encode(g.means, g.inv_scales, g.rotations, values, cfg, h, w, wrap, palettes)
    means_q = dequantize(codes, cfg, h, w)[0].numpy()
    strips = L.strips_of(means_q[:, 1], h, cfg.strip_height)
    pos = codes.pos.numpy()
    order = np.lexsort((np.arange(n), pos[:, 1], pos[:, 0], levels, strips))  # last key is primary
    lay = L.record_layout(cfg, c)
    direct = [i for i in range(c) if lay.palette_of[i] < 0]
    fields_pos = pos.copy()
    if cfg.encoding == "fixed":  # y within the strip: the index says which strip
        fields_pos[:, 1] = pos[:, 1] - (strips << cfg.strip_y_bits)
        assert ((fields_pos[:, 1] >= 0) & (fields_pos[:, 1] < 1 << cfg.strip_y_bits)).all()
    parts = [fields_pos, codes.inv.numpy(), codes.rot.numpy()[:, None], codes.val.numpy()[:, direct]]
    if cfg.palettes:
        parts.append(codes.pal.numpy())
    fields = np.concatenate(parts, 1)[order]

    record_bits = cfg.record_bits(c)
    n_words = L.record_words(n, record_bits)
    records = bitpack(fields, lay.offsets, lay.widths, record_bits, n_words).tobytes()
    n_strips = L.strip_count(h, cfg.strip_height)
    cell = strips[order] * n_levels + levels[order]
    counts = np.bincount(cell, minlength=n_strips * n_levels)
    index = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint16 if L.index_bits(n) == 16 else np.uint32)
    index = index.tobytes().ljust(L.index_bytes(n, n_strips, n_levels), b"\0")
    names = names_section(channels)
    sections = {
        L.SECTION_CHANNELS: channel_table(channels, cfg, background),
        L.SECTION_INDEX: index,
        L.SECTION_RECORDS: records,
    }
    if cfg.palettes:
        sections[L.SECTION_PALETTES] = palettes_section(cfg, c, codes.entries)
    tail = b""
    if mip_tail is not None:
        if mip_tail.channels != c or mip_tail.levels[0].shape[:2] != level_size(h, w, mip_tail.first_level):
            raise InputError(f"the mip tail is not one of this {w}x{h}x{c} material")
        tail = sections[L.SECTION_MIP_TAIL] = mip_tail_section(mip_tail)
    if names:
        sections[L.SECTION_NAMES] = names

    sx, sy = position_steps(cfg, h, w)
    out = assemble(
        {
            "width": w,
            "height": h,
            "channels": c,
            "k": int(k),
            "flags": (L.FLAG_WRAP_X if wrap[0] else 0) | (L.FLAG_WRAP_Y if wrap[1] else 0),
            "levels": n_levels,
            "strip_height": cfg.strip_height,
            "strip_count": n_strips,
            "gaussian_count": n,
            "encoding": L.ENCODING_IDS[cfg.encoding],
            "position_bits": lay.widths[0],
            "position_y_bits": lay.widths[1],
            "inv_scale_exp_bits": cfg.inv_scale_exp_bits if cfg.encoding == "fixed" else 0,
            "inv_scale_mant_bits": cfg.inv_scale_mant_bits if cfg.encoding == "fixed" else 0,
            "rotation_bits": lay.widths[4],
            "record_bits": record_bits,
            "radius": header_radius(cfg),
            "position_step_x": sx,
            "position_step_y": sy,
            "inv_scale_lo": inv_scale_lo(cfg),
            "inv_scale_mant_scale": 2.0**-cfg.inv_scale_mant_bits if cfg.encoding == "fixed" else 0.0,
            "rotation_step": rotation_step(cfg),
            "index_bits": L.index_bits(n),
            "palette_count": len(cfg.palettes),
        },
        sections,
    )
    assert len(out) == L.file_size(n, c, h, cfg, n_levels, len(names), len(tail))
    return out


def assemble(fields: dict, sections: dict) -> bytes:
    """The file of these header fields (all but the version, sizes and section
    table, which this sets) and sections {id: bytes}, in table order (required
    ones first, in their slots; then PALETTES, MIP_TAIL, NAMES)."""
    table_off = L.HEADER_BYTES
    off = L.align(table_off + 4 * L.SECTION_ENTRY_WORDS * len(sections))
    table = bytearray()
    body = bytearray()
    for sid, data in sections.items():
        table += np.array([sid, off, len(data), zlib.crc32(data)], dtype=np.uint32).tobytes()
        body += data + b"\0" * (L.align(len(data)) - len(data))
        off = L.align(off + len(data))
    fields = dict(fields, version_major=L.VERSION_MAJOR, version_minor=L.VERSION_MINOR, file_bytes=off)
    fields.update(section_count=len(sections), section_table_offset=table_off)
    head = bytes(_header(fields)) + bytes(table)
    out = head + b"\0" * (L.align(len(head)) - len(head)) + bytes(body)
    assert len(out) == off
    return out


def attach_mip_tail(data: bytes, mip_tail: MipTail | None) -> bytes:
    """A valid file's bytes with its MIP_TAIL section replaced by this tail (None:
    removed); everything else unchanged (the Gaussians are not re-quantised)."""
    from .reader import unpack

    packed = unpack(data)
    h, w, c = packed.height, packed.width, packed.gaussians.channels
    if mip_tail is not None and (
        mip_tail.channels != c or mip_tail.levels[0].shape[:2] != level_size(h, w, mip_tail.first_level)
    ):
        raise InputError(f"the mip tail is not one of this {w}x{h}x{c} material")
    old = {s.id: bytes(data[s.offset : s.offset + s.size]) for s in packed.sections}
    old.pop(L.SECTION_MIP_TAIL, None)
    slots = L.REQUIRED_SECTIONS + (L.SECTION_PALETTES,)
    sections = {sid: sec for sid, sec in old.items() if sid in slots}
    if mip_tail is not None:
        sections[L.SECTION_MIP_TAIL] = mip_tail_section(mip_tail)
    sections.update((sid, sec) for sid, sec in old.items() if sid not in slots)
    skip = {"version_major", "version_minor", "file_bytes", "section_count", "section_table_offset", "header_crc32"}
    return assemble({k: v for k, v in packed.header.items() if k not in skip}, sections)
