"""The material a comparison runs on, and the textures an engine would pack it into.

`load_material` is the seam to material ingest: it uses `texgs.ingest` when that
package provides a loader, and otherwise a small private loader that follows
METRICS.md's channel rules (every map present, each counted with the channels
it carries; RGB albedo, RGB normal, RGB emissive; everything else scalar).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Groups that are one RGB texture; every other group is made of scalar channels.
COLOR_GROUPS = ("albedo", "normal", "emissive")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tga", ".bmp", ".tif", ".tiff", ".exr")


@dataclass
class Material:
    name: str                 # e.g. "polyhaven/wooden_crate_01"
    data: np.ndarray          # [H, W, C] float32 in [0, 1], each channel in its stored encoding
    groups: list[str]         # [C] group name per channel: "albedo", "normal", "roughness", ...
    sources: list[str]        # files read, for the report

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

    name: str                 # "albedo", "normal", "emissive", "scalars0", ...
    kind: str                 # "color", "normal" or "scalar"
    channels: tuple[int, ...]  # material channel indices, 1 to 3 of them


def rgb_textures(material: Material) -> list[TextureSlot]:
    """How an engine packs the material into RGB textures (METRICS.md): albedo, normal and
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
        slots.append(TextureSlot(f"scalars{k // 3}", "scalar", tuple(scalars[k:k + 3])))
    return slots


# -- loading -------------------------------------------------------------------

def load_material(path: str | Path, name: str | None = None) -> Material:
    """A material folder -> Material. Uses texgs.ingest when available."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a material folder")
    ingested = _try_ingest(path)
    if ingested is not None:
        return ingested if name is None else Material(name, ingested.data, ingested.groups, ingested.sources)
    return _load_private(path, name or _default_name(path))


def is_material_dir(path: Path) -> bool:
    return path.is_dir() and any(_role_of(f.name) for f in path.iterdir()
                                 if f.suffix.lower() in IMAGE_SUFFIXES)


def find_materials(path: str | Path) -> list[Path]:
    """A material folder, or a folder of material folders (searched two levels deep)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if is_material_dir(path):
        return [path]
    found = sorted(d for d in path.iterdir() if is_material_dir(d))
    if not found:
        found = sorted(d for sub in path.iterdir() if sub.is_dir()
                       for d in sub.iterdir() if is_material_dir(d))
    if not found:
        raise InputError(f"{path}: no material maps found (albedo/normal/roughness/... images)")
    return found


def _default_name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _try_ingest(path: Path) -> Material | None:
    """Adapter to the ingest package once it exposes load_material(path) with
    .data [H, W, C] and .groups (one name per channel); None until then."""
    try:
        from .. import ingest  # noqa: F401
    except ImportError:
        return None
    loader = getattr(ingest, "load_material", None)
    if loader is None:
        return None
    m = loader(path)
    data, groups = getattr(m, "data", None), getattr(m, "groups", None)
    if data is None or groups is None:
        return None
    data = np.asarray(data, np.float32)
    groups = [str(g) for g in groups]
    sources = [str(s) for s in getattr(m, "sources", [])]
    return Material(_default_name(path), data, groups, sources)


# filename token -> roles of the file's channels, in the order the file stores them.
_ROLE_PATTERNS = [
    (r"(alb_ht)", ["albedo", "albedo", "albedo", "height"]),
    (r"(nrm_rgh)", ["normal", "normal", "normal", "roughness"]),
    (r"(arm|orm|occlusionroughnessmetallic|occlusionroughmetal)", ["ao", "roughness", "metalness"]),
    (r"(normalgl|normaldx|nor_gl|nor_dx|normal|nrm|nor)", ["normal"]),
    (r"(basecolor|albedo|diffuse|diff|color|col|alb)", ["albedo"]),
    (r"(emissive|emission)", ["emissive"]),
    (r"(ambientocclusion|occlusion|ao)", ["ao"]),
    (r"(roughness|rough)", ["roughness"]),
    (r"(metalness|metallic|metal)", ["metalness"]),
    (r"(displacement|height|disp)", ["height"]),
    (r"(opacity|alpha|mask)", ["opacity"]),
]


def _role_of(filename: str) -> list[str] | None:
    """Roles of a map's channels from its file name. Packed names (alb_ht) are searched
    first; then single tokens from the end of the name, where the map type is written
    ("rusty_metal_05_height" is a height map of material "rusty_metal_05")."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", Path(filename).stem.lower()) if t]
    joined = "_".join(tokens)
    for pattern, roles in _ROLE_PATTERNS:
        if "_" in pattern and re.search(pattern, joined):
            return roles
    for t in reversed(tokens):
        for pattern, roles in _ROLE_PATTERNS:
            if "_" not in pattern and re.fullmatch(pattern, t):
                return roles
    return None


def _read_image(path: Path) -> np.ndarray:
    """Any 8/16-bit image -> [H, W, k] float32 in [0, 1], RGB(A) order."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{path}: cannot be read as an image")
    if img.dtype == np.uint8:
        x = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        x = img.astype(np.float32) / 65535.0
    else:
        x = img.astype(np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] >= 3:  # OpenCV is BGR(A)
        x = np.concatenate([x[..., 2::-1], x[..., 3:]], axis=2)
    return x


_ORDER = ["albedo", "normal", "ao", "roughness", "metalness", "height", "opacity", "emissive"]


def _load_private(path: Path, name: str) -> Material:
    files = []
    for f in sorted(path.iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES:
            roles = _role_of(f.name)
            if roles is not None:
                files.append((f, roles))
    if not files:
        raise InputError(f"{path}: no material maps found")
    files.sort(key=lambda fr: (_ORDER.index(fr[1][0]), fr[0].name))
    chans, groups, shape = [], [], None
    for f, roles in files:
        x = _read_image(f)
        if shape is None:
            shape = x.shape[:2]
        elif x.shape[:2] != shape:
            raise InputError(f"{f}: size {x.shape[1]}x{x.shape[0]} differs from the material's "
                             f"{shape[1]}x{shape[0]}")
        k = x.shape[2]
        if len(roles) > 1 and k < len(roles):
            raise InputError(f"{f}: packed map needs {len(roles)} channels, has {k}")
        if len(roles) == 1:
            r = roles[0]
            if r in COLOR_GROUPS:
                if k < 3:
                    raise InputError(f"{f}: {r} map needs 3 channels, has {k}")
                file_groups = [r] * 3 + (["opacity"] if r == "albedo" and k == 4 else [f"{r}.a"] * (k - 3))
            else:
                file_groups = [r] * k  # a scalar map counts every channel it carries (METRICS.md)
        else:
            file_groups = list(roles) + [f"{roles[-1]}.extra"] * (k - len(roles))
        chans.append(x)
        groups.extend(file_groups)
    data = np.concatenate(chans, axis=2)
    return Material(name, np.ascontiguousarray(data), groups, [str(f) for f, _ in files])
