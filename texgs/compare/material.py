"""The material a comparison runs on, and the textures an engine would pack it into.

Materials are read by `texgs.ingest` (file roles, packed maps, channel groups);
this module only adapts its result and decides the runtime texture packing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Groups that are one RGB texture; every other group is made of scalar channels.
COLOR_GROUPS = ("albedo", "normal", "emissive")


@dataclass
class Material:
    name: str  # e.g. "polyhaven/wooden_crate_01"
    data: np.ndarray  # [H, W, C] float32 in [0, 1], each channel in its stored encoding
    groups: list[str]  # [C] group name per channel: "albedo", "normal", "roughness", ...
    sources: list[str]  # files read, for the report
    # Float data outside [0, 1] (EXR metres, nits): each channel's (lo, hi) in stored units,
    # data = (value - lo) / (hi - lo), so every figure is relative to the range (hdr.py).
    ranges: list[tuple[float, float]] | None = None
    # [C] channel names as ingest gives them ("albedo.r", "roughness"); None: c0, c1, ...
    names: list[str] | None = None

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def channels(self) -> int:
        return int(self.data.shape[2])

    def group_channels(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for c, g in enumerate(self.groups):
            out.setdefault(g, []).append(c)
        return out


@dataclass(frozen=True)
class TextureSlot:
    """One runtime texture: which material channels it carries, in order."""

    name: str  # "albedo", "normal", "emissive", "scalars0", ...
    kind: str  # "color", "normal" or "scalar"
    channels: tuple[int, ...]  # material channel indices, 1 to 3 of them


def rgb_textures(material: Material) -> list[TextureSlot]:
    """How an engine packs the material into RGB textures (docs/METRICS.md): albedo, normal and
    emissive each one texture; scalar channels three to a texture in channel order (a last
    texture with fewer than three still costs a whole texture)."""
    slots, scalars = [], []
    for g, idx in material.group_channels().items():
        if g in COLOR_GROUPS and len(idx) == 3:
            slots.append(TextureSlot(g, "normal" if g == "normal" else "color", tuple(idx)))
        else:
            scalars.extend(idx)
    scalars.sort()
    for k in range(0, len(scalars), 3):
        slots.append(TextureSlot(f"scalars{k // 3}", "scalar", tuple(scalars[k : k + 3])))
    return slots


# -- loading (through texgs.ingest: the one place that knows file names and packings) --


def from_ingest(m) -> Material:
    """texgs.ingest.Material -> Material (same pixels, one group name per channel)."""
    folder = Path(m.folder)
    last = m.key.split("/")[-1] if m.key else m.name
    name = f"{folder.parent.name}/{folder.name}" if last == folder.name else (m.key or m.name)
    sources = list(dict.fromkeys(str(c.source.file) for c in m.channels))
    from .hdr import unit_data

    data, ranges = unit_data(m.pixels, m.channels)
    return Material(name, data, [c.group for c in m.channels], sources, ranges, [c.name for c in m.channels])


def load_materials(path: str | Path) -> list[Material]:
    """Every material under `path` (a material folder, a folder of them, or one image)."""
    from .. import ingest

    return [from_ingest(ingest.load(src)) for src in ingest.discover(path)]
