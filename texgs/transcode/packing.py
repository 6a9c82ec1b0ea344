"""Which textures a material becomes, and in which format.

The slots are `texgs compare`'s engine packing (texgs.compare.material.rgb_textures):
albedo, normal and emissive one texture each, scalar maps three to a texture in
channel order. Two refinements engines make: an opacity map rides in the albedo
texture's alpha (BC7 and RGBA8 keep it), and a scalar texture asked for in BC4
splits into one BC4 texture per channel (the engine set of texgs.compare.engine_set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..compare import engine_set
from ..compare.material import Material, rgb_textures
from ..errors import ConfigError
from .formats import FORMATS, TextureFormat

#: --format when none is given, by slot kind (docs/transcode.md, "Defaults").
DEFAULT_FORMAT = {"color": "bc7", "normal": "bc5", "scalar": "bc7", "scalar1": "bc4"}


@dataclass(frozen=True)
class Slot:
    """One output texture: material channels for R, G, B, A (None: 0 for colour, 1 for A)."""

    name: str  # file stem: "albedo", "normal", "scalars0", "roughness", ...
    kind: str  # "color", "normal" or "scalar"
    channels: tuple  # [4] material channel index or None, in R, G, B, A order
    fmt: TextureFormat
    srgb: bool  # the texture's colour channels are sRGB-encoded (a *_SRGB format)

    @property
    def opaque(self) -> bool:
        return self.channels[3] is None


def slots(packed, formats: dict[str, str] | None = None, name: str = "<file>") -> list[Slot]:
    """The textures of a packed material (texgs.format.Packed). formats: slot name or
    "*" -> format name; slots not named take DEFAULT_FORMAT. ConfigError names a
    format that cannot hold a slot or a slot the material does not have."""
    formats = dict(formats or {})
    for f in formats.values():
        if f not in FORMATS:
            raise ConfigError(f"unknown format {f!r} (one of {', '.join(FORMATS)})")
    chans = packed.channels
    groups = [c.group or c.name for c in chans]
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    albedo_fmt = FORMATS[formats.get("albedo", formats.get("*", DEFAULT_FORMAT["color"]))]
    opacity = by_group.get("opacity", [])
    with_alpha = len(by_group.get("albedo", [])) == 3 and len(opacity) == 1 and albedo_fmt.channels == 4
    alpha = opacity[0] if with_alpha else None
    keep = [i for i in range(len(chans)) if i != alpha]  # the channels rgb_textures packs
    material = Material("", np.zeros((1, 1, len(keep)), np.float32), [groups[i] for i in keep], [])
    base = [(s.name, s.kind, tuple(keep[c] for c in s.channels)) for s in rgb_textures(material)]
    # The engine set's single-channel BC4 textures (material channel indices, in its order).
    bc4_maps = [keep[ch[0]] for codec, ch in engine_set.plan(material) if codec.format == "BC4"]
    known = {n for n, _, _ in base} | {groups[c] for _, k, cs in base if k == "scalar" for c in cs}
    known |= {chans[c].name for _, k, cs in base if k == "scalar" for c in cs}
    for key in formats:
        if key != "*" and key not in known:
            raise ConfigError(f"{name}: no texture slot {key!r} (the material has {', '.join(sorted(known))})")

    out = []
    for slot, kind, cs in base:
        default = DEFAULT_FORMAT["scalar1" if kind == "scalar" and len(cs) == 1 else kind]
        fname = formats.get(slot, formats.get("*", default))
        fmt = FORMATS[fname]
        if kind == "scalar" and fmt.name == "bc4":
            for c in (m for m in bc4_maps if m in cs):  # one BC4 texture per map, named after it
                one = groups[c] if len(by_group[groups[c]]) == 1 else chans[c].name
                out.append(_slot(one, kind, (c,), FORMATS[formats.get(one, fname)], False, None, name))
            continue
        srgb = any(chans[c].colour_space == "srgb" for c in cs) and fmt.has_srgb()
        out.append(_slot(slot, kind, cs, fmt, srgb, alpha if slot == "albedo" else None, name))
    return out


def _slot(slot: str, kind: str, channels: tuple, fmt: TextureFormat, srgb: bool, alpha, name: str) -> Slot:
    used = list(channels)
    if kind == "normal" and fmt.channels == 2:
        used = used[:2]  # BC5 normals: X, Y; the shader rebuilds Z
    if len(used) > fmt.channels:
        raise ConfigError(
            f"{name}: {fmt.name} holds {fmt.channels} channel{'s' if fmt.channels > 1 else ''}: "
            f"not applicable to texture {slot!r} ({len(used)} channels); choose one with --format {slot}=FORMAT"
        )
    rgba = (used + [None, None, None])[:3] + [alpha]
    return Slot(re.sub(r"[^A-Za-z0-9._-]", "_", slot), kind, tuple(rgba), fmt, srgb)


def parse_formats(values: list[str] | None) -> dict[str, str]:
    """--format values ("bc7", "normal=bc5", ...) -> {slot or "*": format}."""
    out: dict[str, str] = {}
    for v in values or []:
        key, _, fmt = v.rpartition("=")
        out[key or "*"] = fmt.strip().lower()
    return out
