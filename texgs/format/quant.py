"""The runtime quantiser of packed Gaussians (docs/FORMAT.md, "Records").

One implementation serves the fitter (``quantize_ste``, quantisation-aware
training) and the packer/reader (``encode`` / ``dequantize``), so what the
fitter trains against is, bit for bit, what ``unpack`` returns and what the
shaders compute: every dequantisation is one or two correctly rounded float32
multiplications of an integer code by a header constant. Exact file sizes
(``size_bound``, ``max_gaussians``) live with the layout, in layout.py.

Encodings (per attribute, ``QuantConfig``):
- "fixed" (the default):
  position: ``pb`` bits per axis, uniform cells over the image, decoded at the
  cell centre ``(code + 0.5) * (W / 2^pb)``;
  inverse scale: a tiny unsigned float ``lo * 2^e * (1 + m / 2^M)`` with ``E``
  exponent and ``M`` mantissa bits, i.e. log-like steps of at most 2^-M
  relative, starting at ``lo = 3 / max_radius`` (the 3-sigma radius bound the
  tile index relies on);
  rotation: ``rb`` bits over [0, pi) (a Gaussian is symmetric under +pi);
  values: ``vb`` bits per channel over the unit range [0, 1];
  palettes (optional): a group of channels (e.g. albedo RGB) shares a table of
  2^b entries, each holding a code per channel at ``palette_value_bits``; a
  record then holds a b-bit index instead of the group's codes (palette.py
  chooses the entries, k-means over the Gaussians' values).
- "fp16" (the Image-GS baseline): IEEE half floats for position (normalised by
  the image size), inverse scale, rotation and values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..constants import MAX_CHANNELS, SIGMA_CUTOFF
from ..errors import ConfigError, InputError
from . import layout as L
from .palette import assign_entries, build_palettes

ENCODINGS = ("fixed", "fp16")


@dataclass(frozen=True)
class QuantConfig:
    """Bit allocation of one packed Gaussian record, plus the two layout
    parameters the fitter must know (the radius bound and the strip height).

    ``value_bits_per_channel`` (empty = ``value_bits`` for every channel)
    gives one bit depth per channel; build it from channel groups with
    ``with_group_value_bits``.
    """

    encoding: str = "fixed"
    position_bits: int = 12  # x: bits over the width (step W / 2^b texels)
    inv_scale_exp_bits: int = 2  # E: 2^E octaves above lo
    inv_scale_mant_bits: int = 5  # M: relative step <= 2^-M
    rotation_bits: int = 7  # over [0, pi)
    value_bits: int = 6  # per channel, over [0, 1]
    value_bits_per_channel: tuple = field(default=())
    max_radius: float = 32.0  # texels: every Gaussian's 3-sigma radius is <= this
    strip_height: int = 8  # texel rows per index strip (a power of two)
    # y: bits within the record's strip (step strip_height / 2^b texels); the
    # strip comes from the index, so records do not repeat it (format 4.0).
    strip_y_bits: int = 5
    # Value palettes: ((channel indices), index bits) per palette; a channel is in at most one.
    palettes: tuple = field(default=())
    palette_value_bits: int = 7  # bits of each channel's code in a palette entry

    @staticmethod
    def fp16() -> QuantConfig:
        """Image-GS's baseline: half floats for every attribute."""
        return QuantConfig(
            encoding="fp16",
            position_bits=16,
            inv_scale_exp_bits=5,
            inv_scale_mant_bits=11,
            rotation_bits=16,
            value_bits=16,
        )

    @staticmethod
    def fixed() -> QuantConfig:
        """The "fixed" preset: per-attribute fixed-point bit depths (measured in docs/FORMAT.md)."""
        return QuantConfig()

    def with_group_value_bits(self, channel_groups, bits_by_group: dict) -> QuantConfig:
        """Per-channel value bits from a group name per channel, e.g.
        ``cfg.with_group_value_bits(["albedo"]*3 + ["normal"]*3, {"normal": 7})``."""
        per = tuple(int(bits_by_group.get(g, self.value_bits)) for g in channel_groups)
        return replace(self, value_bits_per_channel=per)

    def channel_value_bits(self, channels: int) -> list[int]:
        """[C] bit depth of each channel's value code (in the record, or in its palette's entries)."""
        if self.encoding == "fp16":
            return [16] * channels
        if self.value_bits_per_channel:
            if len(self.value_bits_per_channel) != channels:
                raise ConfigError(
                    f"value_bits_per_channel has {len(self.value_bits_per_channel)} entries for {channels} channels"
                )
            bits = [int(b) for b in self.value_bits_per_channel]
        else:
            bits = [self.value_bits] * channels
        for c in self.palette_channels(channels):
            bits[c] = self.palette_value_bits
        return bits

    def palette_channels(self, channels: int) -> list[int]:
        """Channels whose codes live in a palette (checked against the channel count)."""
        seen = [int(c) for chans, _ in self.palettes for c in chans]
        ascending = all(list(chans) == sorted(set(int(c) for c in chans)) for chans, _ in self.palettes)
        if any(not 0 <= c < channels for c in seen) or len(set(seen)) != len(seen) or not ascending:
            raise ConfigError(
                f"palettes {self.palettes} must name distinct channels in 0..{channels - 1}, "
                f"ascending within each palette"
            )
        return seen

    def palette_of(self, channels: int) -> list[int]:
        """[C] palette of each channel, -1 for a channel whose code is in the record."""
        self.palette_channels(channels)
        out = [-1] * channels
        for p, (chans, _) in enumerate(self.palettes):
            for c in chans:
                out[int(c)] = p
        return out

    def palette_shapes(self, channels: int) -> list[tuple[int, int]]:
        """[(index_bits, entry_bits)] per palette."""
        bits = self.channel_value_bits(channels)
        return [(int(ib), sum(bits[int(c)] for c in chans)) for chans, ib in self.palettes]

    def inv_scale_bits(self) -> int:
        return 16 if self.encoding == "fp16" else self.inv_scale_exp_bits + self.inv_scale_mant_bits

    def record_bits(self, channels: int) -> int:
        """Bits of one Gaussian record (records are bit-packed at this stride)."""
        self.validate()
        if self.encoding == "fp16":
            return 16 * (5 + channels)
        direct = [b for b, p in zip(self.channel_value_bits(channels), self.palette_of(channels)) if p < 0]
        return (
            self.position_bits
            + self.strip_y_bits
            + 2 * self.inv_scale_bits()
            + self.rotation_bits
            + sum(direct)
            + sum(int(ib) for _, ib in self.palettes)
        )

    def validate(self) -> None:
        """Raise ConfigError unless every field is in the range the format allows."""
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"quant encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if not (math.isfinite(self.max_radius) and L.MIN_RADIUS <= self.max_radius <= L.MAX_RADIUS):
            raise ConfigError(
                f"max_radius must be in [{L.MIN_RADIUS:g}, {L.MAX_RADIUS:g}] texels, got {self.max_radius}"
            )
        if not (1 <= self.strip_height <= L.MAX_STRIP_HEIGHT and self.strip_height & (self.strip_height - 1) == 0):
            raise ConfigError(
                f"strip_height must be a power of two in 1..{L.MAX_STRIP_HEIGHT}, got {self.strip_height}"
            )
        if self.encoding == "fp16":
            if self.palettes:
                raise ConfigError("palettes need the fixed encoding")
            return
        for chans, ib in self.palettes:
            if not (len(chans) >= 1 and isinstance(ib, (int, np.integer)) and 1 <= ib <= L.MAX_PALETTE_INDEX_BITS):
                raise ConfigError(
                    f"a palette needs channels and 1..{L.MAX_PALETTE_INDEX_BITS} index bits, got {(chans, ib)!r}"
                )
        checks = [
            ("position_bits", self.position_bits, 4, 16),
            ("strip_y_bits", self.strip_y_bits, strip_shift(self.strip_height), 16),
            ("inv_scale_exp_bits", self.inv_scale_exp_bits, 0, 3),
            ("inv_scale_mant_bits", self.inv_scale_mant_bits, 1, 12),
            ("rotation_bits", self.rotation_bits, 1, 16),
            ("value_bits", self.value_bits, 1, 16),
            ("palette_value_bits", self.palette_value_bits, 1, 16),
        ]
        checks += [("value_bits_per_channel", b, 1, 16) for b in self.value_bits_per_channel]
        for name, v, lo, hi in checks:
            if not (isinstance(v, (int, np.integer)) and lo <= v <= hi):
                raise ConfigError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")


def strip_shift(strip_height: int) -> int:
    """log2 of a power-of-two strip height (strip_y_bits must be at least this:
    a y step of at most one texel)."""
    return max(0, int(strip_height).bit_length() - 1)


def y_cells(cfg: QuantConfig, height: int) -> int:
    """Number of y codes of the fixed encoding: height / step_y (an integer,
    since step_y = strip_height / 2^strip_y_bits is 1 / 2^k texels)."""
    return height << (cfg.strip_y_bits - strip_shift(cfg.strip_height))


# ---------------------------------------------------------------------------
# float32 dequantisation constants (written into the header; shaders use them)


def position_steps(cfg: QuantConfig, height: int, width: int) -> tuple[float, float]:
    """(step_x, step_y) as float32 values: texels per position code ("fixed"),
    or the image side the fp16 normalised position is multiplied by ("fp16")."""
    if cfg.encoding == "fp16":
        return float(np.float32(width)), float(np.float32(height))
    # Exact: powers of two times small integers.
    return (
        float(np.float32(width * 2.0**-cfg.position_bits)),
        float(np.float32(cfg.strip_height * 2.0**-cfg.strip_y_bits)),
    )


def inv_scale_lo(cfg: QuantConfig) -> float:
    """Smallest allowed inverse scale (float32): 3 / max_radius, rounded up so
    that 3 / lo <= max_radius holds in exact arithmetic."""
    lo = np.float32(SIGMA_CUTOFF / cfg.max_radius)
    if float(lo) * cfg.max_radius < SIGMA_CUTOFF:
        lo = np.nextafter(lo, np.float32(np.inf))
    return float(lo)


def header_radius(cfg: QuantConfig) -> float:
    """The header's radius bound (float32): max_radius rounded up, so the bound
    still holds in float32."""
    radius = np.float32(cfg.max_radius)
    if float(radius) < cfg.max_radius:
        radius = np.nextafter(radius, np.float32(np.inf))
    return float(radius)


def inv_scale_hi(cfg: QuantConfig) -> float:
    """Largest representable inverse scale."""
    if cfg.encoding == "fp16":
        return 65504.0
    e_max = (1 << cfg.inv_scale_exp_bits) - 1
    m_max = (1 << cfg.inv_scale_mant_bits) - 1
    return float(
        np.float32(inv_scale_lo(cfg))
        * np.float32(((1 << cfg.inv_scale_mant_bits) + m_max) << e_max)
        * np.float32(2.0**-cfg.inv_scale_mant_bits)
    )


def rotation_step(cfg: QuantConfig) -> float:
    return float(np.float32(math.pi * 2.0**-cfg.rotation_bits)) if cfg.encoding == "fixed" else 0.0


def value_step(bits: int) -> float:
    """float32 step of a ``bits``-bit unit value code (code * step in [0, 1])."""
    return float(np.float32(1.0 / ((1 << bits) - 1)))


def gaussian_constraints(height: int, width: int, cfg: QuantConfig) -> dict:
    """What a Gaussian must satisfy to pack with identical decoded values.

    The fitter clamps to these during training (quantize_ste clamps too, but a
    parameter far outside them gets no useful gradient):
    - ``min_inv_scale``: both |inverse scales| >= this, i.e. the 3-sigma radius
      is <= ``max_radius`` texels; the tile index finds a texel's candidates
      only within that radius;
    - ``max_inv_scale``: larger inverse scales are clamped;
    - ``mean_min`` / ``mean_max``: (x, y) box of means in texels (clamp axes
      clamp into it, wrapped axes are taken modulo the side);
    - ``value_min`` / ``value_max``: values live in the unit range of each
      channel (the header's per-channel range maps it to the stored data);
    - ``rotation_period``: rotations are taken modulo pi.
    """
    cfg.validate()
    return {
        "min_inv_scale": inv_scale_lo(cfg),
        "max_inv_scale": inv_scale_hi(cfg),
        "max_radius": float(cfg.max_radius),
        "mean_min": (0.0, 0.0),
        "mean_max": (float(width), float(height)),
        "value_min": 0.0,
        "value_max": 1.0,
        "rotation_period": math.pi,
    }


# ---------------------------------------------------------------------------
# encode: float parameters -> integer codes


@dataclass
class Codes:
    """Integer codes of N Gaussians (int64 tensors): pos [N, 2], inv [N, 2],
    rot [N], val [N, C] (a palette channel's code is its entry's code), and with
    palettes, pal [N, P] entry indices and entries: per palette, [2^b, channels]
    codes. These are the bit fields of the packed records and palettes."""

    pos: torch.Tensor
    inv: torch.Tensor
    rot: torch.Tensor
    val: torch.Tensor
    pal: torch.Tensor | None = None
    entries: list | None = None


def _half_bits(t: torch.Tensor) -> torch.Tensor:
    """IEEE half bit patterns (int64 in 0..65535) of a float64 tensor."""
    return t.to(torch.float16).view(torch.int16).to(torch.int64) & 0xFFFF


def check_sizes(height: int, width: int) -> None:
    if not (1 <= height <= L.MAX_ENCODED_SIDE and 1 <= width <= L.MAX_ENCODED_SIDE):
        raise InputError(f"image size {width}x{height} is outside 1..{L.MAX_ENCODED_SIDE} per side")


def encode(
    means, inv_scales, rotations, values, cfg: QuantConfig, height: int, width: int, wrap=(False, False), palettes=None
) -> Codes:
    """Quantise N Gaussians to integer codes.

    means [N, 2] texels (x, y); inv_scales [N, 2] 1/texels; rotations [N]
    radians; values [N, C] unit range. Torch tensors or numpy arrays; computed
    in float64 so the codes do not depend on the caller's dtype or device.
    With cfg.palettes: palettes, one [2^b, channels] array of unit values per
    palette (palette.build_palettes; None = build them from these values); each
    Gaussian takes the entry nearest its values after the entries' quantisation.
    """
    cfg.validate()
    check_sizes(height, width)
    m, s, r, v = (
        torch.as_tensor(np.asarray(t.detach().cpu() if torch.is_tensor(t) else t), dtype=torch.float64)
        for t in (means, inv_scales, rotations, values)
    )
    n = m.shape[0]
    if m.shape != (n, 2) or s.shape != (n, 2) or r.shape != (n,) or v.dim() != 2 or v.shape[0] != n:
        raise InputError(
            f"Gaussian arrays must be means [N,2], inv_scales [N,2], rotations [N], values [N,C]; "
            f"got {tuple(m.shape)}, {tuple(s.shape)}, {tuple(r.shape)}, {tuple(v.shape)}"
        )
    c = v.shape[1]
    if not 1 <= c <= MAX_CHANNELS:
        raise InputError(f"channel count must be in 1..{MAX_CHANNELS}, got {c}")
    for name, t in (("means", m), ("inv_scales", s), ("rotations", r), ("values", v)):
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"Gaussian {name} contain NaN or infinite values")
    sides = torch.tensor([float(width), float(height)], dtype=torch.float64)

    # Position: wrapped axes modulo the side, clamped axes into [0, side].
    for a in (0, 1):
        if wrap[a]:
            m[:, a] = m[:, a] - sides[a] * torch.floor(m[:, a] / sides[a])
        else:
            m[:, a] = m[:, a].clamp(0.0, float(sides[a]))
    lo, hi = inv_scale_lo(cfg), inv_scale_hi(cfg)
    s = s.abs().clamp(lo, hi)
    r = r - math.pi * torch.floor(r / math.pi)
    v = v.clamp(0.0, 1.0)

    if cfg.encoding == "fp16":
        u = m / sides
        for a in (0, 1):
            if wrap[a]:
                u[:, a] = torch.where(u[:, a] >= 1.0, u[:, a] - 1.0, u[:, a])
        pos = _half_bits(u)
        inv = _half_bits(s)
        # Round-to-nearest may fall just below lo: step up one half ulp.
        inv = torch.where(inv.to(torch.int16).view(torch.float16).to(torch.float64) < lo, inv + 1, inv)
        rot = _half_bits(r)
        rot = torch.where(
            rot.to(torch.int16).view(torch.float16).to(torch.float64) >= math.pi, torch.zeros_like(rot), rot
        )
        val = _half_bits(v)
        return Codes(pos, inv, rot, val)

    # x on a grid of 2^position_bits over the width; y on a grid of
    # 2^strip_y_bits per strip (y_cells over the height).
    cells = (1 << cfg.position_bits, y_cells(cfg, height))
    pos = torch.stack(
        [torch.floor(m[:, 0] / sides[0] * cells[0]), torch.floor(m[:, 1] * (2.0**cfg.strip_y_bits / cfg.strip_height))],
        1,
    ).to(torch.int64)
    for a in (0, 1):
        pos[:, a] = pos[:, a] % cells[a] if wrap[a] else pos[:, a].clamp(0, cells[a] - 1)

    ne, nm = 1 << cfg.inv_scale_exp_bits, 1 << cfg.inv_scale_mant_bits
    t = s / lo  # >= 1
    e = torch.zeros_like(t, dtype=torch.int64)
    for j in range(1, ne):  # exact comparisons, no log2
        e += (t >= 2.0**j).to(torch.int64)
    mant = torch.round((t / torch.pow(2.0, e.to(torch.float64)) - 1.0) * nm).to(torch.int64)
    carry = mant >= nm
    e, mant = torch.where(carry, e + 1, e), torch.where(carry, mant - nm, mant)
    over = e >= ne
    e, mant = torch.where(over, ne - 1, e), torch.where(over, nm - 1, mant)
    inv = e * nm + mant

    rcells = 1 << cfg.rotation_bits
    rot = torch.round(r / math.pi * rcells).to(torch.int64) % rcells

    bits = torch.tensor(cfg.channel_value_bits(c), dtype=torch.int64)
    levels = ((1 << bits) - 1).to(torch.float64)
    val = torch.round(v * levels[None, :]).to(torch.int64)
    if not cfg.palettes:
        return Codes(pos, inv, rot, val)
    if palettes is None:
        palettes = build_palettes(v, cfg)
    if len(palettes) != len(cfg.palettes):
        raise InputError(f"{len(palettes)} palettes given for {len(cfg.palettes)} in the configuration")
    pal, entries = torch.zeros((n, len(cfg.palettes)), dtype=torch.int64), []
    vnp = v.numpy()
    for p, ((chans, ib), table) in enumerate(zip(cfg.palettes, palettes)):
        chans = [int(x) for x in chans]
        table = np.asarray(table, dtype=np.float64)
        if table.shape != (1 << int(ib), len(chans)) or not np.isfinite(table).all():
            raise InputError(f"palette {p} must be [{1 << int(ib)}, {len(chans)}] finite values, got {table.shape}")
        codes, index = assign_entries(vnp[:, chans], table, levels[chans].numpy())
        pal[:, p] = torch.from_numpy(index)
        val[:, chans] = torch.from_numpy(codes[index])
        entries.append(torch.from_numpy(codes))
    return Codes(pos, inv, rot, val, pal, entries)


# ---------------------------------------------------------------------------
# dequantize: integer codes -> float32 parameters (what unpack and the shaders compute)


def _from_half_bits(code: torch.Tensor) -> torch.Tensor:
    return code.to(torch.int32).to(torch.int16).view(torch.float16).to(torch.float32)


@dataclass(frozen=True)
class DequantConstants:
    """The float32 constants dequantisation multiplies codes by (stored in the
    header; shaders read them). ``value_steps``: one per channel."""

    encoding: str
    position_step: tuple  # (x, y)
    inv_scale_lo: float
    inv_scale_mant_bits: int
    inv_scale_mant_scale: float  # 2^-M
    rotation_step: float
    value_steps: tuple

    @staticmethod
    def of(cfg: QuantConfig, height: int, width: int, channels: int) -> DequantConstants:
        fixed = cfg.encoding == "fixed"
        return DequantConstants(
            cfg.encoding,
            position_steps(cfg, height, width),
            inv_scale_lo(cfg),
            cfg.inv_scale_mant_bits if fixed else 0,
            2.0**-cfg.inv_scale_mant_bits if fixed else 0.0,
            rotation_step(cfg),
            tuple(value_step(b) if fixed else 0.0 for b in cfg.channel_value_bits(channels)),
        )


def dequantize(codes: Codes, cfg: QuantConfig, height: int, width: int):
    """float32 (means [N,2], inv_scales [N,2], rotations [N], values [N,C])."""
    return dequantize_with(codes, DequantConstants.of(cfg, height, width, codes.val.shape[1]))


def dequantize_with(codes: Codes, k: DequantConstants):
    """Dequantise with explicit header constants (the reader's path; the same arithmetic)."""
    f32 = torch.float32
    step = torch.tensor(k.position_step, dtype=f32)
    if k.encoding == "fp16":
        means = _from_half_bits(codes.pos) * step
        return (means, _from_half_bits(codes.inv), _from_half_bits(codes.rot), _from_half_bits(codes.val))
    means = (codes.pos.to(f32) + 0.5) * step
    mb = k.inv_scale_mant_bits
    e, mant = codes.inv >> mb, codes.inv & ((1 << mb) - 1)
    f = (((1 << mb) + mant) << e).to(f32)  # exact small integer
    inv = torch.tensor(k.inv_scale_lo, dtype=f32) * (f * torch.tensor(k.inv_scale_mant_scale, dtype=f32))
    rot = codes.rot.to(f32) * torch.tensor(k.rotation_step, dtype=f32)
    values = codes.val.to(f32) * torch.tensor(k.value_steps, dtype=f32).reshape(1, -1)
    return means, inv, rot, values


def quantize(means, inv_scales, rotations, values, cfg: QuantConfig, height: int, width: int, wrap=(False, False)):
    """Quantise then dequantise (no gradient): float32 tensors as unpack() returns them."""
    return dequantize(encode(means, inv_scales, rotations, values, cfg, height, width, wrap), cfg, height, width)


def quantize_ste(means, inv_scales, rotations, values, cfg: QuantConfig, height: int, width: int, wrap=(False, False)):
    """Quantise-dequantise with a straight-through (identity) gradient.

    Inputs: torch tensors means [N,2], inv_scales [N,2], rotations [N],
    values [N,C] (any float dtype/device). Returns the same four, on the input
    device and dtype float32, whose values equal (bit for bit) what unpack()
    returns for these Gaussians. Keep the inputs inside gaussian_constraints():
    outside them the clamp makes the identity gradient a poor guide.
    """
    q = quantize(means, inv_scales, rotations, values, cfg, height, width, wrap)
    out = []
    for x, xq in zip((means, inv_scales, rotations, values), q):
        xq = xq.to(x.device)
        xf = x.to(torch.float32)
        # Forward value xq exactly; backward identity into x.
        out.append(xq + (xf - xf.detach()))
    return tuple(out)
