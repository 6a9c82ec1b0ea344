"""Reader of packed texgs files: untrusted bytes -> ``Packed`` or FormatError.

Every count and offset is checked against the file size before anything is
allocated, every section's CRC-32 is checked, and the records are checked
against the index (strip, level and x order) so the decoder's candidate search
is guaranteed to find every Gaussian that covers a texel.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..channels import Channel
from ..constants import MAX_CHANNELS, MAX_K, SIGMA_CUTOFF
from ..errors import FormatError
from ..gaussians import Gaussians
from . import layout as L
from .mip_tail import MipTail
from .mip_tail import parse as parse_mip_tail
from .quant import (
    Codes,
    DequantConstants,
    QuantConfig,
    dequantize_with,
    position_steps,
    rotation_step,
    y_cells,
)

_MAX_FILE_BYTES = 1 << 31
#: Relative slack of the inverse-scale floor above 3 / radius: both are rounded
#: up to float32 from the writer's max_radius, so they differ by a few ulps.
INV_SCALE_LO_SLACK = 2.0**-20


@dataclass
class Section:
    id: int
    offset: int
    size: int
    crc32: int


@dataclass
class Packed:
    """A decoded file: its header, channel table and Gaussians.

    gaussians: as numpy arrays in file order (the order the image function's
    tie-break uses), dequantised exactly as the runtime decodes them; levels
    int32. index [strips * levels + 1] int64: the record start of each
    (strip, level) cell."""

    header: dict
    sections: list
    channels: list
    value_bits: list
    cfg: QuantConfig
    gaussians: Gaussians
    index: np.ndarray
    words: np.ndarray  # the whole file as uint32 words (what a shader binds)
    mip_tail: MipTail | None = None  # the stored mip tail (optional section)

    @property
    def height(self) -> int:
        return self.header["height"]

    @property
    def width(self) -> int:
        return self.header["width"]

    @property
    def k(self) -> int:
        return self.header["k"]

    @property
    def wrap(self) -> tuple:
        f = self.header["flags"]
        return (bool(f & L.FLAG_WRAP_X), bool(f & L.FLAG_WRAP_Y))

    @property
    def n_levels(self) -> int:
        return self.header["levels"]

    @property
    def strip_height(self) -> int:
        return self.header["strip_height"]

    @property
    def radius(self) -> float:
        return self.header["radius"]


def _fail(name: str, msg: str):
    raise FormatError(f"{name}: {msg}")


def read_header(data: bytes, name: str = "<bytes>") -> dict:
    """Fixed header fields (checks magic, version, CRC and file length)."""
    if len(data) < L.HEADER_BYTES:
        _fail(name, f"truncated: {len(data)} bytes, a texgs header needs {L.HEADER_BYTES}")
    if data[:8] != L.MAGIC:
        _fail(name, "not a texgs packed file (wrong magic)")
    words = np.frombuffer(data, dtype="<u4", count=L.HEADER_WORDS)
    h = {}
    for fname, word, kind in L.HEADER_FIELDS:
        h[fname] = float(words[word : word + 1].view("<f4")[0]) if kind == "f32" else int(words[word])
    if h["version_major"] != L.VERSION_MAJOR:
        why = (
            "written by an older texgs: bake it again"
            if h["version_major"] < L.VERSION_MAJOR
            else "written by a newer texgs"
        )
        _fail(
            name,
            f"unsupported format version {h['version_major']}.{h['version_minor']} "
            f"(this reader reads {L.VERSION_MAJOR}.x; {why})",
        )
    if zlib.crc32(data[: L.HEADER_CRC_SPAN]) != h["header_crc32"]:
        _fail(name, "header checksum mismatch (corrupt header)")
    if h["file_bytes"] != len(data):
        _fail(name, f"file is {len(data)} bytes but its header says {h['file_bytes']} (truncated or padded)")
    if len(data) % L.SECTION_ALIGN:
        _fail(name, f"file is {len(data)} bytes, not a multiple of {L.SECTION_ALIGN}")
    return h


def _check_header(h: dict, name: str) -> QuantConfig:
    def need(cond, msg):
        if not cond:
            _fail(name, msg)

    need(
        1 <= h["width"] <= L.MAX_ENCODED_SIDE and 1 <= h["height"] <= L.MAX_ENCODED_SIDE,
        f"bad size {h['width']}x{h['height']}",
    )
    need(1 <= h["channels"] <= MAX_CHANNELS, f"bad channel count {h['channels']}")
    need(1 <= h["k"] <= MAX_K, f"bad K {h['k']}")
    need(h["flags"] & ~(L.FLAG_WRAP_X | L.FLAG_WRAP_Y) == 0, f"unknown flags {h['flags']:#x}")
    need(1 <= h["levels"] <= L.MAX_LOD_LEVELS, f"bad LOD level count {h['levels']}")
    sh = h["strip_height"]
    need(1 <= sh <= L.MAX_STRIP_HEIGHT and sh & (sh - 1) == 0, f"bad strip height {sh} (a power of two is needed)")
    need(h["strip_count"] == L.strip_count(h["height"], h["strip_height"]), "strip count disagrees with height")
    need(h["encoding"] in (L.ENCODING_FIXED, L.ENCODING_FP16), f"unknown record encoding {h['encoding']}")
    need(1 <= h["section_count"] <= L.MAX_SECTIONS, f"bad section count {h['section_count']}")
    need(h["palette_count"] <= h["channels"], f"bad palette count {h['palette_count']}")
    need(h["palette_count"] == 0 or h["encoding"] == L.ENCODING_FIXED, "fp16 records cannot use palettes")
    need(
        h["index_bits"] == L.index_bits(h["gaussian_count"]),
        f"index entries of {h['index_bits']} bits for {h['gaussian_count']} Gaussians "
        f"(expected {L.index_bits(h['gaussian_count'])})",
    )
    for f in ("radius", "position_step_x", "position_step_y", "inv_scale_lo", "inv_scale_mant_scale", "rotation_step"):
        need(math.isfinite(h[f]), f"header field {f} is not finite")
    need(L.MIN_RADIUS <= h["radius"] <= L.MAX_RADIUS, f"bad radius bound {h['radius']}")
    # The writer stores 3 / max_radius rounded up (float32) and the radius rounded up:
    # the floor honours the bound and is within a few ulps of 3 / radius.
    need(
        h["inv_scale_lo"] > 0 and SIGMA_CUTOFF / h["inv_scale_lo"] <= h["radius"],
        "inverse-scale floor does not honour the radius bound",
    )
    need(
        h["inv_scale_lo"] <= SIGMA_CUTOFF / h["radius"] * (1.0 + INV_SCALE_LO_SLACK),
        f"inverse-scale floor {h['inv_scale_lo']!r} is not 3 / radius (radius {h['radius']!r})",
    )
    if h["encoding"] == L.ENCODING_FP16:
        need(
            h["position_bits"] == 16 and h["position_y_bits"] == 16 and h["rotation_bits"] == 16,
            "fp16 records must use 16-bit fields",
        )
        need(
            h["inv_scale_exp_bits"] == 0 and h["inv_scale_mant_bits"] == 0,
            "fp16 records have no inverse-scale exponent or mantissa fields",
        )
        cfg = QuantConfig.fp16()
        mant_scale = 0.0
    else:
        cfg = QuantConfig(
            position_bits=h["position_bits"],
            inv_scale_exp_bits=h["inv_scale_exp_bits"],
            inv_scale_mant_bits=h["inv_scale_mant_bits"],
            rotation_bits=h["rotation_bits"],
            strip_height=h["strip_height"],
            strip_y_bits=h["position_y_bits"],
        )
        try:
            cfg.validate()
        except Exception as e:
            _fail(name, f"bad quantisation fields: {e}")
        mant_scale = 2.0**-cfg.inv_scale_mant_bits
    # Every other dequantisation constant is a function of the size and bit depths:
    # accept exactly the value the writer stores (docs/FORMAT.md, "Fixed header").
    sx, sy = position_steps(cfg, h["height"], h["width"])
    for f, want in (
        ("position_step_x", sx),
        ("position_step_y", sy),
        ("inv_scale_mant_scale", mant_scale),
        ("rotation_step", rotation_step(cfg)),
    ):
        need(h[f] == want, f"header field {f} is {h[f]!r}; the size and bit depths give {want!r}")
    return cfg


def _sections(data: bytes, h: dict, name: str) -> dict:
    n = h["section_count"]
    t0 = h["section_table_offset"]
    if t0 % 4 or t0 < L.HEADER_BYTES or t0 + 16 * n > len(data):
        _fail(name, "section table lies outside the file")
    table = np.frombuffer(data, dtype="<u4", count=4 * n, offset=t0).reshape(n, 4)
    found = {}
    secs = []
    for sid, off, size, crc in table.tolist():
        if off % L.SECTION_ALIGN:
            _fail(name, f"section {sid:#x} (offset {off}) is not {L.SECTION_ALIGN}-byte aligned")
        if off < t0 + 16 * n or off + size > len(data):
            _fail(name, f"section {sid:#x} (offset {off}, {size} bytes) lies outside the file or overlaps the table")
        if zlib.crc32(data[off : off + size]) != crc:
            _fail(name, f"section {sid:#x} checksum mismatch (corrupt data)")
        secs.append(Section(sid, off, size, crc))
        if sid in found:
            _fail(name, f"section {sid:#x} appears twice")
        if sid not in L.REQUIRED_SECTIONS + (L.SECTION_PALETTES,) and not sid & L.SECTION_OPTIONAL:
            _fail(name, f"unknown required section {sid:#x} (written by a newer texgs?)")
        found[sid] = secs[-1]
    required = L.REQUIRED_SECTIONS + ((L.SECTION_PALETTES,) if h["palette_count"] else ())
    for slot, sid in enumerate(required):
        if slot >= n or secs[slot].id != sid:
            _fail(name, f"required section {sid} missing from table slot {slot}")
    if not h["palette_count"] and L.SECTION_PALETTES in found:
        _fail(name, "a palettes section in a file whose header has no palettes")
    if L.SECTION_MIP_TAIL in found and secs[len(required)].id != L.SECTION_MIP_TAIL:
        _fail(name, f"the mip tail section is not in table slot {len(required)}, right after the required ones")
    return found


def _names(sec: bytes | None, c: int, name: str) -> list[tuple[str, str]] | None:
    """(name, group) per channel from the NAMES section; None when it is absent
    (then they derive from the semantics: layout.derived_names)."""
    if sec is None:
        return None
    try:
        text = sec.decode("utf-8")
    except UnicodeDecodeError:
        _fail(name, "channel names are not UTF-8")
    lines = text.split("\n")
    if len(lines) != c + 1 or lines[-1] != "" or any(line.count("\t") != 1 for line in lines[:-1]):
        _fail(name, f"channel names section does not hold {c} 'name<TAB>group' lines")
    pairs = [tuple(line.split("\t")) for line in lines[:-1]]
    for i, pair in enumerate(pairs):
        if any(len(t.encode("utf-8")) > L.NAME_MAX_BYTES or "\r" in t or "\0" in t for t in pair):
            _fail(name, f"channel {i} name or group is over {L.NAME_MAX_BYTES} bytes or holds a NUL or CR")
    return pairs


def _channels(sec: bytes, names: list | None, h: dict, name: str):
    c = h["channels"]
    words = np.frombuffer(sec, dtype="<u4").reshape(c, L.CHANNEL_WORDS)
    descs, bits, offsets, steps, bg, pal = [], [], [], [], [], []
    for i in range(c):
        f = L.channel_fields(words[i, 0])
        sem, cs, vb, vo = f["semantic"], f["colour_space"], f["value_bits"], f["value_bit_offset"]
        step, back, lo, hi = (float(x) for x in words[i, 1:5].view("<f4"))
        if sem >= len(L.SEMANTICS) or cs >= len(L.COLOUR_SPACES):
            _fail(name, f"channel {i} has an unknown semantic or colour space")
        if f["palette"] > h["palette_count"]:
            _fail(name, f"channel {i} names palette {f['palette']} of {h['palette_count']}")
        pal.append(f["palette"] - 1)
        if not all(math.isfinite(x) for x in (step, back, lo, hi)):
            _fail(name, f"channel {i} has a non-finite step, background or range")
        if not 0.0 <= back <= 1.0:
            _fail(name, f"channel {i} background {back!r} is outside the unit range [0, 1]")
        if not (-L.RANGE_LIMIT <= lo < hi <= L.RANGE_LIMIT):
            _fail(name, f"channel {i} range [{lo!r}, {hi!r}] is not an interval lo < hi within +-{L.RANGE_LIMIT:.6g}")
        if L.COLOUR_SPACES[cs] == "log2" and not -L.LOG2_RANGE_LIMIT <= lo < hi <= L.LOG2_RANGE_LIMIT:
            _fail(name, f"log2 channel {i} range [{lo!r}, {hi!r}] is not within +-{L.LOG2_RANGE_LIMIT:g}")
        descs.append(Channel("", "", L.COLOUR_SPACES[cs], L.SEMANTICS[sem], (lo, hi)))
        bits.append(vb)
        offsets.append(vo)
        steps.append(step)
        bg.append(back)
    if names is None:
        names = L.derived_names([d.semantic for d in descs])
    descs = [replace(d, name=n, group=g) for d, (n, g) in zip(descs, names)]
    return descs, bits, offsets, steps, np.array(bg, np.float32), pal


def _field(words: np.ndarray, bitpos: np.ndarray, width: int) -> np.ndarray:
    """Codes of `width` bits at bit positions [N] of the LSB-first stream (int64)."""
    w = bitpos >> 5
    pair = words[w].astype(np.uint64) | (words[w + 1].astype(np.uint64) << np.uint64(32))
    return ((pair >> (bitpos & 31).astype(np.uint64)) & np.uint64((1 << width) - 1)).astype(np.int64)


def unpack(data: bytes, name: str = "<bytes>") -> Packed:
    """Parse and validate a packed file; raise FormatError naming the problem."""
    data = bytes(data)
    if len(data) > _MAX_FILE_BYTES:
        _fail(name, f"file of {len(data)} bytes is larger than the format allows")
    h = read_header(data, name)
    cfg = _check_header(h, name)
    secs = _sections(data, h, name)
    c, n = h["channels"], h["gaussian_count"]
    rb = h["record_bits"]

    ch_sec = secs[L.SECTION_CHANNELS]
    if ch_sec.size != 4 * L.CHANNEL_WORDS * c:
        _fail(name, f"channel table is {ch_sec.size} bytes, expected {4 * L.CHANNEL_WORDS * c}")
    nm_sec = secs.get(L.SECTION_NAMES)
    names = _names(None if nm_sec is None else data[nm_sec.offset : nm_sec.offset + nm_sec.size], c, name)
    descs, bits, voffs, steps, background, pal_of = _channels(
        data[ch_sec.offset : ch_sec.offset + ch_sec.size], names, h, name
    )
    n_pal = h["palette_count"]
    pal_table = np.zeros((0, L.PALETTE_WORDS), np.int64)
    if n_pal:
        pal_sec = secs[L.SECTION_PALETTES]
        if pal_sec.size < 4 * L.PALETTE_WORDS * n_pal:
            _fail(name, f"palettes section of {pal_sec.size} bytes cannot hold {n_pal} palette entries")
        pal_table = (
            np.frombuffer(data, dtype="<u4", count=L.PALETTE_WORDS * n_pal, offset=pal_sec.offset)
            .reshape(n_pal, L.PALETTE_WORDS)
            .astype(np.int64)
        )
        if not ((pal_table[:, 1] >= 1) & (pal_table[:, 1] <= L.MAX_PALETTE_INDEX_BITS)).all():
            _fail(name, f"palette index bits must be in 1..{L.MAX_PALETTE_INDEX_BITS}")
    palettes = tuple((tuple(i for i in range(c) if pal_of[i] == p), int(pal_table[p, 1])) for p in range(n_pal))
    if any(not chans for chans, _ in palettes):
        _fail(name, "a palette that no channel uses")
    if h["encoding"] == L.ENCODING_FIXED:
        # Palette channels' bits come from the channel table like any other's.
        cfg = QuantConfig(
            position_bits=cfg.position_bits,
            inv_scale_exp_bits=cfg.inv_scale_exp_bits,
            inv_scale_mant_bits=cfg.inv_scale_mant_bits,
            rotation_bits=cfg.rotation_bits,
            value_bits_per_channel=tuple(bits),
            max_radius=h["radius"],
            strip_height=h["strip_height"],
            strip_y_bits=cfg.strip_y_bits,
            palettes=palettes,
            palette_value_bits=bits[palettes[0][0][0]] if palettes else 7,
        )
        try:
            cfg.validate()
        except Exception as e:
            _fail(name, f"bad channel bit depths: {e}")
        if steps != [float(np.float32(1.0 / ((1 << b) - 1))) for b in bits]:
            _fail(name, "channel value steps disagree with their bit depths")
    else:
        if bits != [16] * c:
            _fail(name, "fp16 records must use 16-bit values")
        if any(st != 0.0 for st in steps):
            _fail(name, "fp16 channels have no value step (it must be 0)")
        from dataclasses import replace

        cfg = replace(cfg, max_radius=h["radius"], strip_height=h["strip_height"])
    if cfg.palettes and cfg.channel_value_bits(c) != bits:
        _fail(name, "palette channels must share one code bit depth")
    lay = L.record_layout(cfg, c)
    offsets, widths = lay.offsets, lay.widths
    if voffs != lay.channel_offsets:
        _fail(name, "channel bit offsets disagree with the record layout")
    if rb != sum(widths):
        _fail(name, f"record stride {rb} bits disagrees with the field widths ({sum(widths)})")
    entries = []
    if n_pal:
        shapes = cfg.palette_shapes(c)
        at = L.PALETTE_WORDS * n_pal
        for p, (ib, eb) in enumerate(shapes):
            if pal_table[p].tolist() != [lay.index_offsets[p], ib, eb, at]:
                _fail(name, f"palette {p} table entry disagrees with the record layout")
            at += L.palette_data_words(ib, eb)
        if pal_sec.size != L.palettes_bytes(shapes):
            _fail(name, f"palettes section is {pal_sec.size} bytes, expected {L.palettes_bytes(shapes)}")
        pwords = np.frombuffer(data, dtype="<u4", count=pal_sec.size // 4, offset=pal_sec.offset)
        for p, ((chans, ib), (_, eb)) in enumerate(zip(cfg.palettes, shapes)):
            base_bit = 32 * int(pal_table[p, 3]) + np.arange(1 << ib, dtype=np.int64) * eb
            entries.append(np.stack([_field(pwords, base_bit + lay.channel_offsets[ch], bits[ch]) for ch in chans], 1))

    rec = secs[L.SECTION_RECORDS]
    # Check the count against the bytes present before allocating anything of size n.
    if n * rb >= 1 << 32:  # shaders address record bits with 32-bit integers
        _fail(name, f"{n} records of {rb} bits exceed the 2^32-bit record stream shaders can address")
    if n > rec.size * 8 // max(rb, 1) or rec.size != 4 * L.record_words(n, rb):
        _fail(name, f"{n} Gaussians of {rb} bits do not match a records section of {rec.size} bytes")
    idx_sec = secs[L.SECTION_INDEX]
    strips, levels_n = h["strip_count"], h["levels"]
    if idx_sec.size != L.index_bytes(n, strips, levels_n):
        _fail(name, f"index is {idx_sec.size} bytes, expected {L.index_bytes(n, strips, levels_n)}")
    index = np.frombuffer(
        data,
        dtype="<u2" if h["index_bits"] == 16 else "<u4",
        count=L.index_entries(strips, levels_n),
        offset=idx_sec.offset,
    ).astype(np.int64)
    if index[0] != 0 or index[-1] != n or (np.diff(index) < 0).any():
        _fail(name, "strip index is not a non-decreasing list of record starts from 0 to the count")

    words = np.frombuffer(data, dtype="<u4", count=rec.size // 4, offset=rec.offset)
    base = np.arange(n, dtype=np.int64) * rb
    f = [_field(words, base + o, wd) for o, wd in zip(offsets, widths)]
    val = np.zeros((n, c), np.int64)
    direct = [i for i in range(c) if pal_of[i] < 0]
    nf = len(L.RECORD_FIELDS)
    for j, ch in enumerate(direct):
        val[:, ch] = f[nf + j]
    for p, (chans, _) in enumerate(cfg.palettes):
        val[:, list(chans)] = entries[p][f[nf + len(direct) + p]]
    cell_of = np.repeat(np.arange(strips * levels_n), np.diff(index))  # [N] (strip, level) cell per record
    strip_rec, level_rec = cell_of // levels_n, cell_of % levels_n
    if cfg.encoding == "fixed":  # y code = (strip << y bits) + the record's y within the strip
        f[1] = (strip_rec << cfg.strip_y_bits) + f[1]
        if n and f[1].max() >= y_cells(cfg, h["height"]):
            _fail(name, "a record lies below the last image row")
    codes = Codes(
        pos=torch.from_numpy(np.stack(f[0:2], 1)),
        inv=torch.from_numpy(np.stack(f[2:4], 1)),
        rot=torch.from_numpy(f[4]),
        val=torch.from_numpy(val),
    )
    consts = DequantConstants(
        cfg.encoding,
        (h["position_step_x"], h["position_step_y"]),
        h["inv_scale_lo"],
        h["inv_scale_mant_bits"],
        h["inv_scale_mant_scale"],
        h["rotation_step"],
        tuple(steps),
    )
    means, inv, rot, vals = (t.numpy() for t in dequantize_with(codes, consts))

    if cfg.encoding == "fp16":
        for nm, a in (("means", means), ("inverse scales", inv), ("rotations", rot), ("values", vals)):
            if not np.isfinite(a).all():
                _fail(name, f"records hold non-finite {nm}")
        if n and (inv.min() < h["inv_scale_lo"] or means.min() < 0 or (means > [h["width"], h["height"]]).any()):
            _fail(name, "records violate the radius bound or lie outside the image")
        if n and (vals.min() < 0.0 or vals.max() > 1.0):
            _fail(name, "records hold values outside the unit range [0, 1]")
        if n and (rot.min() < 0.0 or rot.max() >= math.pi):
            _fail(name, "records hold rotations outside [0, pi)")
    if (L.strips_of(means[:, 1], h["height"], h["strip_height"]) != strip_rec).any():
        _fail(name, "a record is not in the strip the index puts it in")
    xcode = codes.pos[:, 0].numpy()
    same_cell = cell_of[1:] == cell_of[:-1]
    if (same_cell & (xcode[1:] < xcode[:-1])).any():
        _fail(name, "records within a strip are not sorted by x")

    tail_sec = secs.get(L.SECTION_MIP_TAIL)
    tail = None
    if tail_sec is not None:
        tail = parse_mip_tail(data[tail_sec.offset : tail_sec.offset + tail_sec.size], h["height"], h["width"], c, name)
    return Packed(
        mip_tail=tail,
        header=h,
        sections=list(secs.values()),
        channels=descs,
        value_bits=bits,
        cfg=cfg,
        gaussians=Gaussians(means, inv, rot, vals, background, level_rec.astype(np.int32)),
        index=index,
        words=np.frombuffer(data[: len(data) // 4 * 4], dtype="<u4").copy(),
    )
