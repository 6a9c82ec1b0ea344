"""Run the transcode kernel (engine_shaders/texgs_transcode.*) on the Vulkan device:
one dispatch encodes every mip level of every slot, and only the block payloads
come back."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from .. import vulkan
from ..errors import TexgsError
from .formats import mip_sizes
from .packing import Slot

SOURCES = {"glsl": "texgs_transcode.comp", "hlsl": "texgs_transcode.hlsl"}
#: Bindings the HLSL kernel declares read-only (ByteAddressBuffer, StructuredBuffer);
#: naga reads glslang's GLSL `readonly` blocks as read-write.
READONLY = {"glsl": (), "hlsl": (0, 1)}
NONE = 0xFFFFFFFF  # TEXGS_TC_NONE
LEVEL0, SLOT_WORDS, TILE = 8, 8, 8  # TEXGS_TC_LEVEL0, TEXGS_TC_SLOT_WORDS, TEXGS_TC_TILE
#: Largest output of one dispatch: wgpu's default storage-binding limit (128 MiB).
MAX_OUTPUT_BYTES = 128 << 20
#: Workgroups per row of the dispatch grid (a grid dimension holds at most 65535).
GRID_X = 32768


@dataclass
class Texture:
    """One transcoded texture: its slot, base size and level payloads, largest first."""

    slot: Slot
    width: int
    height: int
    levels: list[bytes]


def kernel(lang: str, channels: int, software: bool = False) -> bytes:
    """SPIR-V of the transcode kernel for a material of `channels` channels; `software`
    keeps the encoders' search loops rolled (lavapipe compiles it several times faster;
    the arithmetic, and so the output, is the same)."""
    defines = {"TEXGS_MAX_CHANNELS": channels, **({"TEXGS_BC_NO_UNROLL": 1} if software else {})}
    return vulkan.compile_spirv(vulkan.shader_dir() / SOURCES[lang], lang, defines)


def params(packed, slots: list[Slot], sizes: list[tuple[int, int]]) -> tuple[np.ndarray, list[list[int]], int]:
    """The kernel's parameter words (layout in texgs_transcode.inc), each slot's output
    word offset per level, and the number of workgroups."""
    nl = len(sizes)
    words = [nl, len(slots), 0, 0, len(packed.channels), 0, 0, 0]
    tiles = 0
    for w, h in sizes:
        # The footprint of a level texel, in base texels (2^l for power-of-two sizes).
        level = math.log2(max(packed.width / w, packed.height / h))
        tx, ty = -(-w // TILE), -(-h // TILE)
        words += [w, h, -(-w // 4), -(-h // 4), tx, tiles, tiles + tx * ty]
        words.append(struct.unpack("<I", struct.pack("<f", level))[0])
        tiles += tx * ty
    offsets, at = [], 0
    for s in slots:
        ch = [NONE if c is None else int(c) for c in s.channels]
        words += [s.fmt.code, 1 if s.opaque else 0, *ch, 0, 0]
        offs = []
        for w, h in sizes:
            offs.append(at)
            at += s.fmt.level_bytes(w, h) // 4
        words += offs
        offsets.append(offs)
    words[2] = min(tiles, GRID_X)
    return np.array(words, np.uint32), offsets, tiles


def run(packed, slots: list[Slot], mips: bool, lang: str = "glsl") -> list[Texture]:
    """Transcode `packed` (texgs.format.Packed) into `slots`; VulkanUnavailable when
    there is no device, TexgsError when a slot's output exceeds one dispatch."""
    sizes = mip_sizes(packed.width, packed.height, mips)
    dev = vulkan.device()
    spirv = kernel(lang, len(packed.channels), dev.software)
    out: list[Texture] = []
    for batch in _batches(slots, sizes):
        table, offsets, tiles = params(packed, batch, sizes)
        total = sum(s.fmt.level_bytes(w, h) for s in batch for w, h in sizes)
        grid = (min(tiles, GRID_X), -(-tiles // GRID_X))
        got = dev.run(spirv, {0: packed.words.tobytes(), 1: table.tobytes()}, {2: total}, grid, READONLY[lang])[2]
        for s, offs in zip(batch, offsets):
            levels = [got[4 * o : 4 * o + s.fmt.level_bytes(w, h)] for o, (w, h) in zip(offs, sizes)]
            out.append(Texture(s, packed.width, packed.height, levels))
    return out


def _batches(slots: list[Slot], sizes) -> list[list[Slot]]:
    """Slots grouped so that each dispatch's output fits MAX_OUTPUT_BYTES (all in one
    dispatch, the common case: the material is sampled once per texel)."""
    batches: list[list[Slot]] = [[]]
    used = 0
    for s in slots:
        n = sum(s.fmt.level_bytes(w, h) for w, h in sizes)
        if n > MAX_OUTPUT_BYTES:
            w, h = sizes[0]
            raise TexgsError(f"a {w}x{h} {s.fmt.name} texture is larger than one dispatch can write ({n} bytes)")
        if used + n > MAX_OUTPUT_BYTES:
            batches.append([])
            used = 0
        batches[-1].append(s)
        used += n
    return [b for b in batches if b]
