"""The result of ingesting a material: its channel table and its pixels.

Value conventions of ``Material.pixels`` (see docs/ingest.md):
- [H, W, C] float32, channels in ``channels`` order (groups in roles.GROUPS order);
- from 8/16-bit files: value / 255 or / 65535, in [0, 1]; from EXR: as stored;
- albedo/emissive stay sRGB-encoded (``colour_space == "srgb"``), never converted;
- normal XYZ: the stored (n + 1) / 2 in OpenGL (+Y up) convention (not renormalised); use
  ``normal_vectors()`` / semantics.vectors_to_normals to convert.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..channels import Channel
from ..errors import TexgsError
from .semantics import normals_to_vectors, renormalise


@dataclass(frozen=True)
class MaterialInfo:
    """A material's channel table, without pixels (``scan`` returns this).

    notes: facts a user should see in the table (alpha dropped as constant,
    normal convention assumed, a file resampled). warnings: things that may be
    wrong (files not placed, a scalar map whose colour channels differ).
    """

    name: str
    key: str
    folder: Path
    width: int
    height: int
    channels: tuple[Channel, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def groups(self) -> list[str]:
        """Channel groups present, in storage order."""
        return list(dict.fromkeys(c.group for c in self.channels))

    @property
    def roles(self) -> list[str]:
        """Each channel's role (its name)."""
        return [c.name for c in self.channels]

    def group_indices(self, group: str) -> list[int]:
        """Indices into the channel axis of ``group``'s channels (empty if absent)."""
        return [i for i, c in enumerate(self.channels) if c.group == group]

    @property
    def weights(self) -> np.ndarray:
        """[C] float32 loss weight per channel (material.yaml ``weights``)."""
        return np.array([c.source.weight if c.source else 1.0 for c in self.channels], dtype=np.float32)


@dataclass(frozen=True, eq=False)
class Material(MaterialInfo):
    """A material ready for the fitter.

    pixels: [H, W, C] float32 in the stored encoding described in this module's
    docstring (C == len(channels)).
    """

    pixels: np.ndarray = None  # type: ignore[assignment]

    def group(self, group: str) -> np.ndarray:
        """[H, W, k] the channels of one group (a copy)."""
        idx = self.group_indices(group)
        if not idx:
            raise KeyError(f"material {self.name} has no {group} channels (it has {', '.join(self.groups)})")
        return self.pixels[:, :, idx]

    def normal_vectors(self) -> np.ndarray:
        """[H, W, 3] the normal map as unit OpenGL vectors in [-1, 1] (renormalised)."""
        return renormalise(normals_to_vectors(self.group("normal")))


@dataclass(frozen=True)
class MaterialError:
    """A material of a batch that could not be ingested (load_all goes on)."""

    name: str
    key: str
    folder: Path
    error: TexgsError

    @property
    def message(self) -> str:
        return str(self.error)
