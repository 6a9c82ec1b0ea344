"""Running the lit preview kernel (engine_shaders/preview/lit.comp) on the Vulkan
compute device (texgs.vulkan: the GPU, or lavapipe on the CPU).

Two inputs, one shading body: a packed .texgs file, sampled by the shipped
include with the pixel's UV derivatives, or float maps (the source, or a block
codec's decode) sampled trilinearly from a box-filtered mip chain."""

from __future__ import annotations

import numpy as np

from .. import vulkan
from ..errors import TexgsError
from . import scene as sc

SHADER = "preview/lit.comp"


def _spirv(channels: int = 16) -> bytes:
    """The kernel's SPIR-V; a kernel that cannot be read or compiled (a broken
    install) makes lit previews unavailable, like a missing device."""
    path = vulkan.shader_dir() / SHADER
    try:
        return vulkan.compile_spirv(path, "glsl", sc.shader_defines(channels))
    except vulkan.VulkanUnavailable:
        raise
    except (TexgsError, OSError) as e:
        raise vulkan.VulkanUnavailable(f"{path}: the lit preview kernel does not compile: {e}") from None


#: Largest source mip chain uploaded (bytes): under wgpu's default 128 MiB storage
#: binding limit. A larger material starts its chain at the first level that fits;
#: a preview never samples finer than about 1 texel per pixel of a 2S-wide view
#: anyway, far coarser than level 0 of such a material.
MAX_SOURCE_BYTES = 64 << 20


def _half(a: np.ndarray) -> np.ndarray:
    """The 2 x 2 box mean (an axis of 1 stays; an odd last row or column is dropped)."""
    h, w = a.shape[:2]
    if h > 1:
        a = 0.5 * (a[0 : h - h % 2 : 2] + a[1:h:2])
    if w > 1:
        a = 0.5 * (a[:, 0 : w - w % 2 : 2] + a[:, 1:w:2])
    return a


def mip_chain(pixels: np.ndarray, max_bytes: int = MAX_SOURCE_BYTES) -> list[np.ndarray]:
    """[H, W, C] -> levels 0.. (each side max(1, side >> l) of level 0's), each the
    box mean of the one above, down to 1 x 1 (at most MAX_MIP_LEVELS), as the
    kernel's level sizes assume. Level 0 is the first level whose chain fits in
    max_bytes (the whole material, unless it is very large)."""
    a = np.ascontiguousarray(pixels, dtype=np.float32)
    while a.nbytes * 4 // 3 > max_bytes and max(a.shape[:2]) > 1:
        a = _half(a)
    levels = [a]
    while len(levels) < sc.MAX_MIP_LEVELS and max(levels[-1].shape[:2]) > 1:
        levels.append(np.ascontiguousarray(_half(levels[-1])))
    return levels


# The kernel's storage buffers: the packed file's words, the parameters, the source
# mip chain, the output panel.
_WORDS, _PARAMS, _SOURCE, _OUT = 0, 1, 2, 3


def _dispatch(params: bytes, words: bytes, source: bytes, panel: int, channels: int) -> np.ndarray:
    dev = vulkan.device()
    out_bytes = 16 * 2 * panel * panel
    groups = (-(-2 * panel // 8), -(-panel // 8), 1)
    inputs = {_WORDS: words, _PARAMS: params, _SOURCE: source}
    out = dev.run(_spirv(channels), inputs, {_OUT: out_bytes}, groups)[_OUT]
    return np.frombuffer(out, np.float32).reshape(panel, 2 * panel, 4).copy()


def prepare(channels: int) -> None:
    """Get the device and compile the kernel for a material of `channels` now (lavapipe
    takes about a second), so that the first preview does not wait for it. Raises
    VulkanUnavailable as a render would."""
    vulkan.device().prepare(_spirv(channels), (_WORDS, _PARAMS, _SOURCE, _OUT))


def render_texgs(data: bytes, roles: sc.Roles | None = None, scene: sc.Scene = sc.DEFAULT_SCENE) -> np.ndarray:
    """[S, 2S, 4] linear RGB + coverage of the packed file `data` (sphere | plane),
    through texgs_sample_grad. Roles default to the file's channel table."""
    from ..format import unpack

    packed = unpack(data)
    roles = roles or sc.roles_from_channels(packed.channels)
    p = sc.params(sc.MODE_TEXGS, scene, roles, (packed.width, packed.height), len(packed.channels), packed.wrap)
    return _dispatch(p, bytes(data), b"\0" * 4, scene.panel, len(packed.channels))


def render_source(
    pixels: np.ndarray, roles: sc.Roles, wrap: tuple[bool, bool], scene: sc.Scene = sc.DEFAULT_SCENE
) -> np.ndarray:
    """[S, 2S, 4] linear RGB + coverage of float maps [H, W, C] (stored values),
    sampled trilinearly by the same kernel."""
    pixels = np.asarray(pixels, np.float32)
    if pixels.ndim != 3 or pixels.shape[2] > sc.MAX_CHANNELS:
        raise ValueError(f"maps must be [H, W, C<={sc.MAX_CHANNELS}], got {pixels.shape}")
    levels = mip_chain(pixels)
    offsets, at = [], 0
    for lv in levels:
        offsets.append(at)
        at += lv.size
    flat = np.concatenate([lv.ravel() for lv in levels]).astype("<f4").tobytes()
    h, w, c = levels[0].shape
    p = sc.params(sc.MODE_SOURCE, scene, roles, (w, h), c, wrap, offsets)
    return _dispatch(p, b"\0" * 4, flat, scene.panel, c)


def to_srgb8(linear: np.ndarray) -> np.ndarray:
    """[.., 4] linear RGB + coverage -> [.., 3] uint8 sRGB (clipped at 1)."""
    x = np.clip(np.asarray(linear[..., :3], np.float64), 0.0, 1.0)
    e = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    return np.clip(np.rint(e * 255.0), 0, 255).astype(np.uint8)
