"""The fitter's one seam to the packed format (texgs.format): the quantiser it
trains against, the constraints it projects onto, the Gaussian count a byte
budget buys, and pack / unpack of the result. Nothing else in texgs.fit
imports texgs.format.

It imports the format's modules (quant, writer, reader) rather than the
package's re-exports so it also works from an editable install made before
texgs/format/__init__.py existed (such an install sees a namespace package)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..channels import Channel
from ..gaussians import Gaussians
from .config import FitConfig
from .optimize import Limits, Quantizer

#: Position precision of the "fixed" quant when FitConfig.position_bits is 0:
#: a quarter texel (finer is lost under the 3-sigma cut-off and the value
#: quantisation; measured in docs/benchmarks.md "Fitting").
POSITION_SUBTEXEL_BITS = 2


def auto_position_bits(height: int, width: int) -> int:
    """Bits of x for a quarter-texel step over the width (at most that, for a
    width that is not a power of two), within the format's 4..16. (y has a
    quarter-texel step within its strip: strip_y_bits = log2(strip) + 2.)"""
    side_bits = max(1, math.ceil(math.log2(width)))
    return int(min(16, max(4, side_bits + POSITION_SUBTEXEL_BITS)))


def range_value_bits(value_bits: int, ranges) -> tuple[int, ...]:
    """Bits per channel for the same value step in stored units as a channel
    spanning all of [0, 1] gets at `value_bits`: a channel whose values span
    hi - lo needs about log2(hi - lo) fewer (at least 1, never more)."""
    return tuple(int(min(value_bits, max(1, round(value_bits + math.log2(max(hi - lo, 1e-6)))))) for lo, hi in ranges)


def quant_config(cfg: FitConfig, height: int, width: int, ranges=None):
    """The texgs.format.QuantConfig named by cfg.quant, for an H x W stack
    whose channels span `ranges` ([(lo, hi)] in stored units; None = [0, 1]
    each), which sets per-channel value bits when cfg.value_allocation is "range"."""
    from ..format import quant as fmt

    if cfg.quant == "fp16":
        return dataclasses.replace(fmt.QuantConfig.fp16(), max_radius=cfg.max_radius)
    bits = cfg.position_bits or auto_position_bits(height, width)
    per_channel = ()
    if cfg.value_allocation == "range" and ranges is not None:
        per_channel = range_value_bits(cfg.value_bits, ranges)
    base = dataclasses.replace(
        fmt.QuantConfig.fixed(),
        value_bits=cfg.value_bits,
        position_bits=bits,
        value_bits_per_channel=per_channel,
        max_radius=cfg.max_radius,
    )
    return with_strip_height(base, cfg.strip_height or fmt.QuantConfig.fixed().strip_height)


def with_strip_height(qcfg, strip_height: int):
    """qcfg with index strips of strip_height rows and y at a quarter texel within them
    (fp16 records are unchanged: their y does not depend on the strip)."""
    from ..format import quant as fmt

    if qcfg.encoding != "fixed":
        return qcfg
    y_bits = fmt.strip_shift(strip_height) + POSITION_SUBTEXEL_BITS
    return dataclasses.replace(qcfg, strip_height=strip_height, strip_y_bits=y_bits)


#: Automatic palette size: 2^floor(log2(N / this)) entries, 12 to 24 Gaussians
#: per entry (measured at 0.06 bppc: 128 entries for ~1,700-2,300 Gaussians and
#: 128-256 for ~7,000 did best; 64 or 256 at ~2,100 did worse).
GAUSSIANS_PER_PALETTE_ENTRY = 12
PALETTE_BITS_RANGE = (4, 8)


def palette_groups(channels: list[Channel], scalars: bool = False) -> list[tuple[int, ...]]:
    """Channel indices of each group with two or more channels, in channel
    order; with scalars, also one of all single-channel groups (when 2+)."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(channels):
        groups.setdefault(c.group, []).append(i)
    out = [tuple(g) for g in groups.values() if len(g) >= 2]
    single = [g[0] for g in groups.values() if len(g) == 1]
    if scalars and len(single) >= 2:
        out.append(tuple(single))
    return out


def palette_bits_for(n: int) -> int:
    lo, hi = PALETTE_BITS_RANGE
    return int(min(hi, max(lo, math.floor(math.log2(max(n, 1) / GAUSSIANS_PER_PALETTE_ENTRY)))))


def with_palettes(cfg: FitConfig, qcfg, channels: list[Channel], n: int):
    """qcfg plus cfg's value palettes for a file of about n Gaussians (unchanged
    when cfg.palettes is "off", for fp16 records, or with nothing to share)."""
    groups = palette_groups(channels, scalars=cfg.palettes == "groups+scalars")
    if cfg.palettes == "off" or qcfg.encoding != "fixed" or not groups:
        return qcfg
    bits = cfg.palette_bits or palette_bits_for(n)
    named = dict(cfg.palette_bits_by_group)
    return dataclasses.replace(
        qcfg,
        palettes=tuple((g, named.get(palette_name(channels, g), bits)) for g in groups),
        palette_value_bits=cfg.palette_value_bits,
    )


#: palette_name of the palette shared by the single-channel maps.
SCALAR_PALETTE = "scalars"


def palette_name(channels: list[Channel], palette: tuple[int, ...]) -> str:
    """The name FitConfig.palette_bits_by_group gives a palette of palette_groups: its
    channel group's, or SCALAR_PALETTE for the single-channel maps' palette."""
    first = channels[palette[0]].group
    return first if all(channels[i].group == first for i in palette) else SCALAR_PALETTE


def without_palettes(qcfg):
    """The quantiser the fitter trains through: palette channels as plain value codes
    (entries are chosen from the trained values at packing, palette.build_palettes)."""
    return dataclasses.replace(qcfg, palettes=())


def palette_entries(values: torch.Tensor, qcfg) -> tuple[list[np.ndarray], list[torch.Tensor]]:
    """qcfg's palettes for these Gaussians' unit values [N, C], as the writer
    would choose them: per palette, its entries [2^b, channels] (k-means,
    quantised to the entries' bits; float64 unit values) and each Gaussian's
    nearest entry [N] (on values' device). The k-means runs on the host."""
    from ..format import palette as fmt

    v = values.detach().to(torch.float64).clamp(0, 1).cpu().numpy()
    bits = qcfg.channel_value_bits(v.shape[1])
    entries, index = [], []
    for (chans, _), table in zip(qcfg.palettes, fmt.build_palettes(v, qcfg)):
        lv = np.array([(1 << bits[int(c)]) - 1 for c in chans], np.float64)
        codes, nearest = fmt.assign_entries(v[:, list(chans)], table, lv)
        entries.append(codes / lv)
        index.append(torch.from_numpy(nearest).to(values.device))
    return entries, index


def _ste(qcfg, height: int, width: int, wrap) -> Quantizer:
    """quantize_ste at qcfg bound to this image: Gaussians -> the same, quantised."""
    from ..format import quant as fmt

    def q(g: Gaussians) -> Gaussians:
        m, s, r, v = fmt.quantize_ste(g.means, g.inv_scales, g.rotations, g.values, qcfg, height, width, tuple(wrap))
        return dataclasses.replace(g, means=m, inv_scales=s, rotations=r, values=v)

    return q


def file_quantizer(qcfg, channels: int, height: int, width: int, wrap) -> Quantizer:
    """quantize_ste with every channel at the bits it has in the file (palette
    channels at their entries' bits): what training the entries goes through."""
    plain = dataclasses.replace(qcfg, palettes=(), value_bits_per_channel=tuple(qcfg.channel_value_bits(channels)))
    return _ste(plain, height, width, wrap)


def limits(height: int, width: int, qcfg) -> Limits:
    """The format's constraints as the optimiser's projection bounds (full-resolution units)."""
    from ..format import quant as fmt

    c = fmt.gaussian_constraints(height, width, qcfg)
    return Limits(
        min_inv_scale=float(c["min_inv_scale"]),
        max_inv_scale=min(Limits.max_inv_scale, float(c["max_inv_scale"])),
        value_min=float(c["value_min"]),
        value_max=float(c["value_max"]),
    )


def quantizer(qcfg, height: int, width: int, wrap) -> Quantizer:
    """quantize_ste bound to this image: what unpack() will return, identity gradient."""
    return _ste(without_palettes(qcfg), height, width, wrap)


def quantize(means, inv_scales, rotations, values, qcfg, height: int, width: int, wrap):
    """Quantise-dequantise without gradient (float32 tensors as unpack() returns them)."""
    from ..format import quant as fmt

    return fmt.quantize(means, inv_scales, rotations, values, qcfg, height, width, tuple(wrap))


def file_lod_levels(cfg: FitConfig, stages: int) -> int:
    """LOD levels of the file of a fit with `stages` addition stages (the initial
    Gaussians and each addition): cfg.lod_levels of them, at most `stages` (0 = `stages`)."""
    return int(min(stages, cfg.lod_levels or stages))


def names_bytes(channels: list[Channel]) -> int:
    """Bytes of the packed file's NAMES section for these channels."""
    from ..format import layout

    return len(
        layout.names_section([c.name for c in channels], [c.group for c in channels], [c.semantic for c in channels])
    )


def max_gaussians(budget_bytes: int, channels: list[Channel], height: int, width: int, qcfg, lod_levels: int) -> int:
    from ..format import layout as fmt

    return int(fmt.max_gaussians(budget_bytes, len(channels), height, width, qcfg, lod_levels, names_bytes(channels)))


def size_bound(n: int, channels: list[Channel], height: int, width: int, qcfg, lod_levels: int) -> int:
    from ..format import layout as fmt

    return int(fmt.size_bound(n, len(channels), height, width, qcfg, lod_levels, names_bytes(channels)))


def pack(
    g: Gaussians,
    channels: list[Channel],
    height: int,
    width: int,
    wrap,
    k: int,
    qcfg,
    lod_levels: int,
    palettes=None,
) -> bytes:
    """Pack the Gaussians g (torch or numpy) as a file of lod_levels LOD levels: a
    Gaussian's level is its fit stage, stages from lod_levels - 1 on merged into the
    last level (FitConfig.lod_levels); palettes: the entries of qcfg's palettes
    (refine.Palettes.entries; None = chosen by the writer)."""
    from ..format import writer as fmt

    def np32(a):
        return np.ascontiguousarray(a, dtype=np.float32)

    h = g.as_numpy()
    host = Gaussians(
        np32(h.means),
        np32(h.inv_scales),
        np32(h.rotations),
        np32(h.values),
        np32(h.background),
        np.minimum(np.asarray(h.levels, dtype=np.int32), int(lod_levels) - 1),
    )
    return bytes(
        fmt.pack(
            host,
            channels,
            height,
            width,
            k=k,
            wrap=tuple(wrap),
            cfg=qcfg,
            lod_levels=int(lod_levels),
            palettes=palettes,
        )
    )


def mip_tail(target: torch.Tensor, channels: list[Channel], budget_bytes: int, fraction: float):
    """The stored mip tail of a [H, W, C] target (stored values) for a file of
    budget_bytes: the finest first level within `fraction` of it, or None."""
    from ..format import mip_tail as fmt

    h, w, c = (int(x) for x in target.shape)
    first = fmt.choose_first_level(h, w, c, budget_bytes, fraction) if fraction > 0 else None
    if first is None:
        return None
    lo = np.array([ch.range[0] for ch in channels], np.float64)
    hi = np.array([ch.range[1] for ch in channels], np.float64)
    unit = (target.detach().cpu().numpy().astype(np.float64) - lo) / (hi - lo)
    return fmt.build(unit.astype(np.float32), first)


def mip_tail_bytes(tail, height: int, width: int) -> int:
    """Bytes the tail adds to the file."""
    from ..format import mip_tail as fmt

    return fmt.file_bytes(height, width, tail.channels, tail.first_level)


def with_mip_tail(data: bytes, tail) -> bytes:
    """The packed file with this mip tail added (unchanged when tail is None)."""
    from ..format import writer as fmt

    return data if tail is None else fmt.attach_mip_tail(data, tail)


def unpack(data: bytes) -> Gaussians:
    """The Gaussians of a packed file (numpy, file order), exactly what the runtime decodes."""
    from ..format import reader as fmt

    return fmt.unpack(data).gaussians


def file_channel(c: Channel) -> Channel:
    """An ingested channel (texgs.ingest roles such as "albedo.r", "normal.y",
    "roughness") as a file describes it: the format's semantic for it, name and
    group cut to the format's NAME_MAX_BYTES UTF-8 bytes."""
    from ..format import layout

    axis = c.name.rsplit(".", 1)[-1]
    semantic = f"normal_{axis}" if c.group == "normal" and axis in "xyz" else c.group
    if semantic not in layout.SEMANTICS:
        semantic = "generic"

    def cut(text):
        return text.encode("utf-8")[: layout.NAME_MAX_BYTES].decode("utf-8", "ignore")

    return dataclasses.replace(c, name=cut(c.name), group=cut(c.group), semantic=semantic)
