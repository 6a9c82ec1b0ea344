"""What the lit preview shows and how its kernel is told: the scene (camera, sphere,
tilted plane, light), the material's channels by shading role, and the parameter
words of engine_shaders/preview/lit.comp (this module is the one place its layout
is written; the kernel gets the word indices as -D defines)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from ..constants import MAX_CHANNELS

NONE = 0xFFFFFFFF
MAX_MIP_LEVELS = 16
MODE_SOURCE = 0
MODE_TEXGS = 1

#: Parameter words, in order: (name, kind). "u" words are uint32, "f" float32.
FIELDS = [
    ("mode", "u"),
    ("panel", "u"),  # viewport side S: the render is 2S x S (sphere | plane)
    ("mat_w", "u"),
    ("mat_h", "u"),
    ("channels", "u"),
    ("wrap_x", "u"),
    ("wrap_y", "u"),
    ("mip_levels", "u"),
    ("albedo_r", "u"),
    ("albedo_g", "u"),
    ("albedo_b", "u"),
    ("albedo_srgb", "u"),
    ("normal_x", "u"),
    ("normal_y", "u"),
    ("normal_z", "u"),
    ("normal_flip_y", "u"),
    ("rough", "u"),
    ("rough_invert", "u"),
    ("metal", "u"),
    ("ao", "u"),
    ("emit_r", "u"),
    ("emit_g", "u"),
    ("emit_b", "u"),
    ("emit_srgb", "u"),
    ("plane_repeat", "u"),
    ("tan_half", "f"),
    ("sphere_dist", "f"),
    ("sphere_radius", "f"),
    ("plane_dist", "f"),
    ("plane_sin", "f"),
    ("plane_cos", "f"),
    ("plane_half", "f"),
    ("light_x", "f"),
    ("light_y", "f"),
    ("light_z", "f"),
    ("light_e", "f"),
    ("ambient", "f"),
    ("min_rough", "f"),
    ("background", "f"),
]
MIP_OFFSET = len(FIELDS)  # then MAX_MIP_LEVELS words: each source level's first float
PARAM_WORDS = MIP_OFFSET + MAX_MIP_LEVELS


def value_slots(channels: int) -> int:
    """Size of the kernel's per-pixel value array for a material of `channels`: 16
    (most materials; a smaller array is cheaper on lavapipe), else the format's limit."""
    return 16 if channels <= 16 else MAX_CHANNELS


def shader_defines(channels: int = 16) -> dict[str, int]:
    """-D defines of lit.comp for a material of `channels`: every parameter's word
    index and the kernel's constants."""
    d = {f"P_{name.upper()}": i for i, (name, _) in enumerate(FIELDS)}
    d.update(
        P_MIP_OFFSET=MIP_OFFSET,
        PREVIEW_MAX_CHANNELS=value_slots(channels),
        PREVIEW_MODE_SOURCE=MODE_SOURCE,
        PREVIEW_MODE_TEXGS=MODE_TEXGS,
    )
    return d


@dataclass(frozen=True)
class Scene:
    """Camera at the origin looking down -z with a vertical half-angle tangent
    `tan_half`; a sphere and a square tilted `plane_tilt_deg` back from facing the
    camera; one directional light (toward the light: `light`) of irradiance
    `light_e` plus a uniform ambient term (multiplied by AO)."""

    panel: int = 128
    tan_half: float = 0.42
    sphere_dist: float = 3.0
    sphere_radius: float = 1.15
    plane_dist: float = 3.2
    plane_tilt_deg: float = 62.0
    plane_half: float = 1.6
    light: tuple[float, float, float] = (-0.45, 0.65, 0.62)
    light_e: float = 3.0
    ambient: float = 0.12
    min_rough: float = 0.045  # GGX alpha = roughness^2 stays above ~0.002
    background: float = 0.03  # linear grey behind the shapes


DEFAULT_SCENE = Scene()


@dataclass(frozen=True)
class Roles:
    """Material channel index of each shading input (None: absent, and the shading
    uses its default: albedo 0.5 grey, geometric normal, roughness 0.5, metalness
    0, AO 1, no emission). normal_z None with normal_x/y set: Z is rebuilt."""

    albedo: tuple[int, int, int] | None = None
    albedo_srgb: bool = True
    normal: tuple[int, int, int | None] | None = None
    normal_flip_y: bool = False  # DirectX convention (texgs stores OpenGL normals)
    roughness: int | None = None
    roughness_inverted: bool = False  # the map is gloss / smoothness
    metalness: int | None = None
    ao: int | None = None
    emissive: tuple[int, int, int] | None = None
    emissive_srgb: bool = True


def roles_from_channels(channels) -> Roles:
    """Roles from a channel table: items with .semantic, .group and .colour_space
    (texgs.channels.Channel: what a .texgs file's table says). A channel's
    semantic decides; a 'generic' one is placed by its group name (gloss and
    smoothness, which the format has no semantic for)."""
    by: dict[str, list[int]] = {}
    space: dict[str, str] = {}
    for i, c in enumerate(channels):
        key = c.semantic if c.semantic != "generic" else (c.group or "generic")
        by.setdefault(key, []).append(i)
        space.setdefault(key, c.colour_space)
    return _roles(by, space)


def roles_from_groups(groups: list[str], colour_spaces: list[str] | None = None) -> Roles:
    """Roles from per-channel group names (texgs.ingest's groups: a normal group's
    channels are X, Y, Z in order). Without colour spaces, albedo and emissive are
    taken as sRGB-encoded (how texgs.ingest stores them from 8/16-bit files)."""
    by: dict[str, list[int]] = {}
    space: dict[str, str] = {}
    normals = 0
    for i, g in enumerate(groups):
        key = g
        if g == "normal":  # the k-th normal channel is axis k
            key, normals = "normal_" + "xyz"[min(normals, 2)], normals + 1
        by.setdefault(key, []).append(i)
        default = "srgb" if g in ("albedo", "emissive") else "linear"
        space.setdefault(key, colour_spaces[i] if colour_spaces else default)
    return _roles(by, space)


def _roles(by: dict[str, list[int]], space: dict[str, str]) -> Roles:
    def one(*names):
        for n in names:
            if by.get(n):
                return by[n][0], n
        return None, None

    def rgb(name):
        idx = by.get(name, [])
        if len(idx) >= 3:
            return tuple(idx[:3])
        return (idx[0],) * 3 if idx else None  # a grey map

    rough, rough_name = one("roughness", "gloss", "smoothness")
    nx, ny, nz = (by.get(f"normal_{a}", [None])[0] for a in "xyz")
    return Roles(
        albedo=rgb("albedo"),
        albedo_srgb=space.get("albedo", "srgb") == "srgb",
        normal=(nx, ny, nz) if nx is not None and ny is not None else None,
        roughness=rough,
        roughness_inverted=rough_name in ("gloss", "smoothness"),
        metalness=one("metalness")[0],
        ao=one("ao")[0],
        emissive=rgb("emissive"),
        emissive_srgb=space.get("emissive", "srgb") == "srgb",
    )


def params(
    mode: int,
    scene: Scene,
    roles: Roles,
    size: tuple[int, int],
    channels: int,
    wrap: tuple[bool, bool],
    mip_offsets: list[int] = (),
) -> bytes:
    """The parameter buffer of one dispatch (size: the material's (width, height))."""

    def idx(v):
        return NONE if v is None else int(v)

    albedo = roles.albedo or (None, None, None)
    normal = roles.normal or (None, None, None)
    emit = roles.emissive or (None, None, None)
    t = math.radians(scene.plane_tilt_deg)
    light = scene.light
    values = {
        "mode": mode,
        "panel": scene.panel,
        "mat_w": size[0],
        "mat_h": size[1],
        "channels": channels,
        "wrap_x": int(wrap[0]),
        "wrap_y": int(wrap[1]),
        "mip_levels": max(1, len(mip_offsets)),
        "albedo_r": idx(albedo[0]),
        "albedo_g": idx(albedo[1]),
        "albedo_b": idx(albedo[2]),
        "albedo_srgb": int(roles.albedo_srgb),
        "normal_x": idx(normal[0]),
        "normal_y": idx(normal[1]),
        "normal_z": idx(normal[2]),
        "normal_flip_y": int(roles.normal_flip_y),
        "rough": idx(roles.roughness),
        "rough_invert": int(roles.roughness_inverted),
        "metal": idx(roles.metalness),
        "ao": idx(roles.ao),
        "emit_r": idx(emit[0]),
        "emit_g": idx(emit[1]),
        "emit_b": idx(emit[2]),
        "emit_srgb": int(roles.emissive_srgb),
        "plane_repeat": plane_repeat(wrap),
        "tan_half": scene.tan_half,
        "sphere_dist": scene.sphere_dist,
        "sphere_radius": scene.sphere_radius,
        "plane_dist": scene.plane_dist,
        "plane_sin": math.sin(t),
        "plane_cos": math.cos(t),
        "plane_half": scene.plane_half,
        "light_x": light[0],
        "light_y": light[1],
        "light_z": light[2],
        "light_e": scene.light_e,
        "ambient": scene.ambient,
        "min_rough": scene.min_rough,
        "background": scene.background,
    }
    words = b"".join(struct.pack("<I" if k == "u" else "<f", values[n]) for n, k in FIELDS)
    offs = list(mip_offsets) + [0] * (MAX_MIP_LEVELS - len(mip_offsets))
    return words + struct.pack(f"<{MAX_MIP_LEVELS}I", *offs)


def plane_repeat(wrap: tuple[bool, bool]) -> int:
    """A material that tiles both ways is shown 2 x 2 on the plane (more
    minification to see filtering); any other once."""
    return 2 if wrap[0] and wrap[1] else 1
