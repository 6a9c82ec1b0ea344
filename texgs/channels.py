"""The description of one channel of a material: what ingest finds, the fitter
fits and a .texgs file stores (its channel table and NAMES section)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChannelSource:
    """Where ingest read a channel, and what material.yaml says of it."""

    file: Path
    channel: str  # the file's channel it comes from ("R", "A", "Y", an EXR name)
    size: tuple[int, int]  # (width, height) of the file, before any resampling
    weight: float = 1.0  # loss weight (material.yaml ``weights``)
    note: str = ""  # how it was read ("DirectX: Y flipped", ...)


@dataclass(frozen=True)
class Channel:
    """One channel of a material.

    name: what it is ("albedo.r", "normal.y", "roughness", "<file>.alpha": its
      role when ingested); a file stores at most layout.NAME_MAX_BYTES UTF-8 bytes.
    group: the map it belongs to ("albedo", "normal", "roughness", ...;
      ingest.roles.GROUPS); "" = a group of its own.
    colour_space: "srgb" | "linear", a label: values are never converted.
    semantic: what an engine binds it to, one of texgs.format.layout.SEMANTICS.
    range: (lo, hi): the stored value of a Gaussian's unit value u is lo + (hi - lo) * u.
    source: where ingest read it; None for a channel read from a .texgs file
      or described by a caller.
    """

    name: str
    group: str = ""
    colour_space: str = "linear"
    semantic: str = "generic"
    range: tuple[float, float] = (0.0, 1.0)
    source: ChannelSource | None = None
