"""What an image's pixels say it is, for files whose name gives no role.

Names stay the first signal (roles.py); discovery asks this module only about
files the names leave unplaced, and about the ``_n`` maps whose packing differs
between engines (LabPBR keeps AO in blue). The tests are deliberately plain so
that a note can state the evidence:

- grey: the colour channels agree (a scalar map);
- tangent-space normal: blue-dominant, mean near (0.5, 0.5, 1), Z >= 0 in most
  texels, and most texels decode to near-unit vectors ("strong"); blue-
  dominant with vectors off unit length is "weak" evidence and never used.
  On the shared corpus these bounds take 52 of its 55 normal maps as strong
  normal maps (two more as weak; a Poly Haven JPEG with mean red 0.72 as
  colour) and none of its 57 colour maps;
- colour: anything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .readers import channel_letter, read_header, read_image

#: Pixels are examined on a grid of at most this many samples a side.
SAMPLE_SIDE = 256
#: Colour channels within this of each other (99th percentile) make a grey
#: image; JPEG chroma noise on grey stays below it.
GREY_SPREAD = 12 / 255
#: A normal map's decoded vectors are within this of unit length ...
UNIT_TOLERANCE = 0.12
#: ... for at least this fraction of texels (strong evidence).
UNIT_FRACTION = 0.75
#: Mean red and green within this of 0.5; Z >= 0 in at least this fraction.
MEAN_XY_TOLERANCE = 0.2
Z_UP_FRACTION = 0.75
#: LabPBR _n: the stored blue differs from the Z that R, G imply by more than
#: this on average (blue holds AO, not Z).
LABPBR_Z_MISFIT = 0.15


@dataclass(frozen=True)
class Look:
    """kind: "normal", "grey" or "colour"; strong: the evidence is clear
    (always True for grey/colour); evidence: the figures, for a note."""

    kind: str
    strong: bool
    evidence: str


def _sample(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    header = read_header(path)
    _, px = read_image(path, header)
    step = max(1, -(-max(header.width, header.height) // SAMPLE_SIDE))
    return px[::step, ::step], header.channels


def _key(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_mtime_ns, st.st_size


def look(path: str | Path) -> Look:
    """Classify an image by its pixels. Raises InputError when it cannot be read."""
    return _look(_key(Path(path)))


@lru_cache(maxsize=512)
def _look(key: tuple[str, int, int]) -> Look:
    px, names = _sample(Path(key[0]))
    colour = [i for i, c in enumerate(names) if channel_letter(c) != "A"]
    if len(colour) < 3:
        return Look("grey", True, "one colour channel")
    return classify(px[:, :, colour[:3]])


def classify(rgb: np.ndarray) -> Look:
    """The same test on decoded colour texels rgb [H, W, 3] in [0, 1]."""
    step = max(1, -(-max(rgb.shape[:2]) // SAMPLE_SIDE))
    rgb = rgb[::step, ::step].astype(np.float64)
    spread = float(np.percentile(np.ptp(rgb, axis=2), 99))
    if spread <= GREY_SPREAD:
        return Look("grey", True, f"colour channels within {spread * 255:.0f}/255")
    mean = rgb.reshape(-1, 3).mean(axis=0)
    n = rgb * 2 - 1
    unit = float(np.mean(np.abs(np.linalg.norm(n, axis=2) - 1) < UNIT_TOLERANCE))
    z_up = float(np.mean(rgb[:, :, 2] >= 0.5 - 2 / 255))
    figures = (
        f"mean RGB {mean[0]:.2f}, {mean[1]:.2f}, {mean[2]:.2f}; {100 * unit:.0f}% unit vectors; "
        f"Z >= 0 in {100 * z_up:.0f}%"
    )
    blue = (
        mean[2] >= 0.7
        and mean[2] > mean[0] + 0.15
        and mean[2] > mean[1] + 0.15
        and abs(mean[0] - 0.5) < MEAN_XY_TOLERANCE
        and abs(mean[1] - 0.5) < MEAN_XY_TOLERANCE
        and z_up >= Z_UP_FRACTION
    )
    if blue:
        return Look("normal", unit >= UNIT_FRACTION, figures)
    return Look("colour", True, f"colour channels differ by up to {spread * 255:.0f}/255")


def labpbr_misfit(path: str | Path) -> float:
    """Mean |stored Z - Z implied by X, Y| of a normal map (0 for a plain
    normal map; large when blue carries something else, e.g. LabPBR's AO)."""
    px, names = _sample(Path(path))
    colour = [i for i, c in enumerate(names) if channel_letter(c) != "A"]
    if len(colour) < 3:
        return 0.0
    n = px[:, :, colour[:3]].astype(np.float64) * 2 - 1
    z_xy = np.sqrt(np.clip(1 - n[:, :, 0] ** 2 - n[:, :, 1] ** 2, 0, 1))
    return float(np.mean(np.abs(n[:, :, 2] - z_xy)))


def unlike_normal_map(rgb: np.ndarray) -> str | None:
    """Why texels rgb [H, W, 3] in [0, 1] of a file *named* a normal map cannot
    be one (blue not the largest mean channel), else None. Deliberately loose:
    it only backs a warning, and real normal maps stray far from the ideal."""
    mean = rgb.reshape(-1, 3).astype(np.float64).mean(axis=0)
    if mean[2] > max(mean[0], mean[1]) + 0.05:
        return None
    return f"mean RGB {mean[0]:.2f}, {mean[1]:.2f}, {mean[2]:.2f}: blue is not the largest"
