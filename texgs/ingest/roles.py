"""File-name conventions -> map kinds, and what each kind's channels mean.

This module is the one table of naming conventions (Poly Haven, ambientCG, glTF,
Substance, Unreal, Unity/HDRP, Godot, Terrain3D, plain names, and game engines:
Quake/Darkplaces/Xonotic, Cube 2/Sauerbraten/Red Eclipse, Source, id Tech 4,
OpenMW, LabPBR resource packs, Warzone 2100) and of channel groups. Everything else in
``texgs.ingest`` looks names up here; docs/ingest.md lists the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# ---------------------------------------------------------------------------
# Channel groups: what an engine samples, in the order channels are stored.
# ---------------------------------------------------------------------------

#: group -> names of its channels (the channel "role"). Vector groups have one
#: role per component; scalar groups have one role equal to the group name.
#: The order of this dict is the order of channels in a Material's array.
GROUPS: dict[str, tuple[str, ...]] = {
    "albedo": ("albedo.r", "albedo.g", "albedo.b"),
    "opacity": ("opacity",),
    "normal": ("normal.x", "normal.y", "normal.z"),
    "ao": ("ao",),
    "roughness": ("roughness",),
    "metalness": ("metalness",),
    "height": ("height",),
    "specular": ("specular",),
    "gloss": ("gloss",),
    "smoothness": ("smoothness",),
    "emissive": ("emissive.r", "emissive.g", "emissive.b"),
    "detail_mask": ("detail_mask",),
    # Darkplaces colormap masks: where the player's trouser / shirt colour goes.
    "pants": ("pants",),
    "shirt": ("shirt",),
    # Warzone 2100 _tcmask: where the team colour goes.
    "team_mask": ("team_mask",),
    # LabPBR specular map channels without a PBR-group of their own.
    "reflectance": ("reflectance",),  # G: F0 (0-229) or a metal id (230-255)
    "porosity": ("porosity",),  # B: porosity (0-64) / subsurface (65-255)
    "emissive_strength": ("emissive_strength",),  # A: emission 0-254 (255 = none)
    "extra": (),  # alpha channels of unknown meaning: role "<file stem>.alpha"
}

#: Groups stored sRGB-encoded when they come from 8/16-bit files.
COLOUR_GROUPS = frozenset({"albedo", "emissive"})
#: Groups whose three channels form one RGB/XYZ triple.
VECTOR_GROUPS = frozenset({"albedo", "normal", "emissive"})


# ---------------------------------------------------------------------------
# Map kinds: what one file holds.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MapKind:
    """What one image file carries.

    layout: (source channel letter, group) pairs for its colour channels. A
        vector group lists "RGB" as one entry; letters are R, G, B, A.
    alpha: the group an alpha channel carries. ``alpha_declared`` True means
        the convention names the alpha (always kept); False means the alpha is
        kept only when it is not constant (e.g. albedo -> opacity).
    """

    name: str
    layout: tuple[tuple[str, str], ...]
    alpha: str | None = None
    alpha_declared: bool = False
    description: str = ""

    @property
    def packed(self) -> bool:
        """True when the file carries more than one group."""
        return len(self.layout) > 1 or self.alpha_declared


def _scalar(group: str) -> MapKind:
    return MapKind(group, (("R", group),), description=f"{group} (grey)")


MAP_KINDS: dict[str, MapKind] = {
    k.name: k
    for k in [
        MapKind("albedo", (("RGB", "albedo"),), alpha="opacity", description="base colour (sRGB)"),
        MapKind("normal", (("RGB", "normal"),), description="tangent-space normal"),
        MapKind("emissive", (("RGB", "emissive"),), description="emissive colour (sRGB)"),
        _scalar("roughness"),
        _scalar("ao"),
        _scalar("metalness"),
        _scalar("height"),
        _scalar("opacity"),
        _scalar("specular"),
        _scalar("gloss"),
        _scalar("smoothness"),
        _scalar("detail_mask"),
        _scalar("pants"),
        _scalar("shirt"),
        _scalar("team_mask"),
        # Darkplaces _norm, Cube 2 _n/_nm, LabPBR _n: parallax height in the alpha,
        # kept when it varies (a constant alpha carries nothing).
        MapKind(
            "normal_parallax",
            (("RGB", "normal"),),
            alpha="height",
            description="tangent-space normal (+ A height when it varies)",
        ),
        MapKind(
            "normal_height",
            (("RGB", "normal"),),
            alpha="height",
            alpha_declared=True,
            description="RGB normal + A height (OpenMW _nh)",
        ),
        MapKind(
            "labpbr_normal",
            (("RGB", "normal"), ("B", "ao")),
            alpha="height",
            alpha_declared=True,
            description="LabPBR normal R,G = X,Y (Z rebuilt) B=AO A=height",
        ),
        MapKind(
            "labpbr_specular",
            (("R", "smoothness"), ("G", "reflectance"), ("B", "porosity")),
            alpha="emissive_strength",
            alpha_declared=True,
            description="LabPBR specular R=smoothness G=F0/metal B=porosity A=emission",
        ),
        MapKind(
            "arm",
            (("R", "ao"), ("G", "roughness"), ("B", "metalness")),
            description="packed R=AO G=roughness B=metalness (ARM/ORM)",
        ),
        MapKind(
            "mra",
            (("R", "metalness"), ("G", "roughness"), ("B", "ao")),
            description="packed R=metalness G=roughness B=AO (MRA)",
        ),
        MapKind(
            "unity_mask",
            (("R", "metalness"), ("G", "ao"), ("B", "detail_mask")),
            alpha="smoothness",
            alpha_declared=True,
            description="Unity HDRP mask map R=metallic G=AO B=detail A=smoothness",
        ),
        MapKind(
            "metallic_smoothness",
            (("R", "metalness"),),
            alpha="smoothness",
            alpha_declared=True,
            description="Unity metallic-smoothness R=metallic A=smoothness",
        ),
        MapKind(
            "albedo_height",
            (("RGB", "albedo"),),
            alpha="height",
            alpha_declared=True,
            description="RGB albedo + A height (Terrain3D)",
        ),
        MapKind(
            "normal_roughness",
            (("RGB", "normal"),),
            alpha="roughness",
            alpha_declared=True,
            description="RGB normal + A roughness (Terrain3D)",
        ),
    ]
}

#: Map kinds whose file is the dedicated (single-purpose) source of a group;
#: a dedicated file wins over a packed map's channel for the same group.
DEDICATED = {k.name for k in MAP_KINDS.values() if not k.packed}


# ---------------------------------------------------------------------------
# File-name table: trailing name tokens (lower case) -> (map kind, normal convention)
# ---------------------------------------------------------------------------


def _t(*names: str) -> list[tuple[str, ...]]:
    return [tuple(n.split()) for n in names]


_NAME_ROWS: list[tuple[list[tuple[str, ...]], str, str | None]] = [
    # albedo: Poly Haven diff/col, ambientCG Color, glTF/Substance baseColor, Godot albedo, Unreal BC
    # Cube 2 c/cc, Unreal and id Tech 4 D
    (
        _t(
            "albedo",
            "alb",
            "diff",
            "diffuse",
            "col",
            "color",
            "colour",
            "basecolor",
            "basecolour",
            "base color",
            "base colour",
            "bc",
            "basemap",
            "base map",
            "c",
            "cc",
            "d",
            "dif",
            "diffusemap",
        ),
        "albedo",
        None,
    ),
    # normals; the name may state the convention. Unity _BumpMap, id Tech 4 _local.
    (_t("normal", "normals", "nor", "nrm", "normalmap", "normal map", "bumpmap", "bump map", "local"), "normal", None),
    (_t("norm", "n", "nm"), "normal_parallax", None),
    (
        _t(
            "nh",
        ),
        "normal_height",
        None,
    ),
    (_t("normalgl", "nor gl", "nrm gl", "normal gl", "normal opengl", "normalopengl", "n gl"), "normal", "gl"),
    (_t("normaldx", "nor dx", "nrm dx", "normal dx", "normal directx", "normaldirectx", "n dx"), "normal", "dx"),
    (_t("rough", "roughness", "rgh", "r"), "roughness", None),
    (_t("ao", "ambientocclusion", "ambient occlusion", "occlusion", "occ", "o", "mixed ao"), "ao", None),
    (_t("metal", "metalness", "metallic", "metallness", "m"), "metalness", None),
    # Darkplaces _bump is a height map (the engine derives normals from it)
    (_t("height", "disp", "displacement", "h", "z", "bump", "heightmap", "hm"), "height", None),
    (_t("opacity", "alpha"), "opacity", None),
    # Darkplaces _luma, Source _selfillum
    (_t("emission", "emissive", "emit", "glow", "g", "e", "luma", "selfillum", "illum"), "emissive", None),
    # Source _phong: a phong (specular) mask
    (_t("s", "spec", "specular", "specularity", "sc", "phong"), "specular", None),
    # Source _exponent: R is the phong exponent (how glossy)
    (_t("gloss", "glossiness", "exponent"), "gloss", None),
    (
        _t(
            "smoothness",
        ),
        "smoothness",
        None,
    ),
    (
        _t(
            "arm",
            "orm",
            "occlusionroughnessmetallic",
            "occlusion roughness metallic",
            "occlusionroughmetal",
            "occlusion rough metal",
        ),
        "arm",
        None,
    ),
    (_t("mra", "metallicroughnessao", "mrao"), "mra", None),
    (_t("maskmap", "mask map"), "unity_mask", None),
    (_t("detailmask", "detail mask"), "detail_mask", None),
    (
        _t(
            "pants",
        ),
        "pants",
        None,
    ),
    (
        _t(
            "shirt",
        ),
        "shirt",
        None,
    ),
    (_t("tcmask", "tc mask", "teammask", "team mask"), "team_mask", None),
    (_t("metallicsmoothness", "metallic smoothness"), "metallic_smoothness", None),
    (_t("alb ht", "albedo height"), "albedo_height", None),
    (_t("nrm rgh", "normal roughness"), "normal_roughness", None),
]

NAME_TABLE: dict[tuple[str, ...], tuple[str, str | None]] = {
    tokens: (kind, conv) for names, kind, conv in _NAME_ROWS for tokens in names
}
_MAX_TOKENS = max(len(t) for t in NAME_TABLE)

#: Tokens that say nothing about the material: resolutions (1k, 2K, 2048x2048)
#: and formats (ambientCG's "-JPG"); removed wherever they appear in a name.
_NOISE = re.compile(r"^(\d+k|\d+x\d+|jpe?g|png|exr|tga|tiff?|\d+bit)$", re.IGNORECASE)
_SPLIT = re.compile(r"[_\-\s.]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+|[A-Z]+")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tga", ".exr")
#: Image formats texgs recognises but cannot read: listed in a warning.
UNSUPPORTED_IMAGE_EXTENSIONS = (
    ".tif",
    ".tiff",
    ".bmp",
    ".webp",
    ".psd",
    ".dds",
    ".ktx",
    ".ktx2",
    ".hdr",
    ".gif",
    ".basis",
    ".avif",
    ".jxl",
)


@dataclass(frozen=True)
class NameInfo:
    """What a file name says.

    stem_key: the material part of the name, lower case without separators or
        resolution/format tokens (``Bricks102_1K-JPG_Color`` -> ``bricks102``);
        files of one material share it.
    stem: the same, readable (``Bricks102``).
    kind: a MAP_KINDS name, or None when the name has no role suffix.
    convention: "gl"/"dx" when the name states a normal-map convention.
    token: the matched suffix as written in the name.
    """

    stem_key: str
    stem: str
    kind: str | None
    convention: str | None
    token: str

    @property
    def letter(self) -> bool:
        """The role comes from a one-letter suffix (_n, _s, _c, ...)."""
        return len(self.token) == 1


def _match_tail(tokens: list[str], letters: bool = True) -> tuple[int, str, str | None] | None:
    """Longest role suffix of ``tokens``: (its length, kind, convention)."""
    low = [t.lower() for t in tokens]
    for n in range(min(_MAX_TOKENS, len(low)), 0, -1):
        hit = NAME_TABLE.get(tuple(low[-n:]))
        if hit is None:
            continue
        # One-letter suffixes (_n, _s, _h, _z, _g) only after a material name.
        if len(low[-1]) == 1 and (n == len(low) or not letters):
            continue
        return n, hit[0], hit[1]
    return None


def _stem(tokens: list[str]) -> tuple[str, str]:
    return "".join(tokens).lower(), "_".join(tokens)


def single_letter_suffix(path: str | Path) -> str | None:
    """The last name token when it is one letter after a material name
    ("wall_b.png" -> "b"), else None."""
    core = _core_tokens(path)
    return core[-1].lower() if len(core) > 1 and len(core[-1]) == 1 else None


def _core_tokens(path: str | Path) -> list[str]:
    base = Path(path).name
    for ext in IMAGE_EXTENSIONS + UNSUPPORTED_IMAGE_EXTENSIONS:
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
            break
    return [t for t in _SPLIT.split(base) if t and not _NOISE.match(t)]


def whole_stem(path: str | Path) -> tuple[str, str]:
    """(stem_key, stem) of the whole name, as if it had no role suffix."""
    return _stem(_core_tokens(path))


def name_hint(path: str | Path) -> tuple[str, str] | None:
    """(kind, token) a name only hints at: its last token is a role word
    followed by digits or a letter ("wall_spec2", "rock_norm01", "crate_nrmb").
    Weak evidence: discovery uses it only when the pixels agree."""
    core = _core_tokens(path)
    if len(core) < 2:
        return None
    last = core[-1].lower()
    for cut in (last.rstrip("0123456789"), last[:-1]):
        if len(cut) >= 2 and cut != last and (cut,) in NAME_TABLE:
            return NAME_TABLE[(cut,)][0], core[-1]
    return None


def parse_name(path: str | Path, letters: bool = True) -> NameInfo:
    """Read the role a file name states (case-insensitive). ``letters`` False
    reads one-letter suffixes as part of the name (variant letters: a folder
    holding wall_a, wall_b, wall_c)."""
    core = _core_tokens(path)
    # (tokens, kinds accepted from them; None = any, one-letter suffixes read)
    candidates: list[tuple[list[str], set[str] | None, bool]] = [(core, None, letters)]
    # Poly Haven colour variants: "fabric_pattern_07_col_1_1k" (colour only, so
    # that "rusty_metal_05" stays a name, not a metalness map).
    if len(core) > 1 and core[-1].isdigit() and len(core[-1]) <= 2:
        candidates.append((core[:-1], {"albedo"}, letters))
    # Names without separators: "RockBaseColor", "brickNormalGL", "baseColor";
    # a suffix starts with a capital or at the start of the word, so lower-case
    # letters glued to a name are none ("e8crete03cc", "floor01glow", "stone06a").
    parts = _CAMEL.findall(core[-1]) if core else []
    if len(parts) > 1:
        candidates.append((core[:-1] + parts, None, False))
    for tokens, accept, read_letters in candidates:
        hit = _match_tail(tokens, read_letters)
        if (
            hit
            and len(parts) > 1
            and tokens[-len(parts) :] == parts
            and hit[0] < len(parts)
            and not parts[-hit[0]][0].isupper()
        ):
            continue
        if hit and (accept is None or hit[1] in accept):
            n, kind, conv = hit
            key, stem = _stem(tokens[:-n])
            return NameInfo(key, stem, kind, conv, "_".join(tokens[-n:]))
    key, stem = _stem(core)
    return NameInfo(key, stem, None, None, "")
