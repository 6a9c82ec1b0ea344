"""The texture formats `texgs transcode` writes: what each holds and how DDS (DXGI)
and KTX2 (Vulkan) name it. One table, read by the packer, the runner and both
container writers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextureFormat:
    name: str  # "bc7", ...: the --format spelling
    code: int  # TEXGS_TC_* of engine_shaders/texgs_transcode.inc
    block_bytes: int  # bytes per 4x4 block; 0: uncompressed (4 bytes a texel)
    channels: int  # components the format stores: 4 (RGBA), 3 (RGB), 2 (RG), 1 (R)
    dxgi: tuple[int, int]  # DXGI_FORMAT (unorm, srgb); srgb == unorm: the format has no sRGB variant
    vk: tuple[int, int]  # VkFormat (unorm, srgb)
    dfd_model: int  # KHR_DF_MODEL_* of the KTX2 data format descriptor

    @property
    def compressed(self) -> bool:
        return self.block_bytes > 0

    def has_srgb(self) -> bool:
        return self.dxgi[1] != self.dxgi[0]

    def level_bytes(self, width: int, height: int) -> int:
        """Bytes of one mip level: whole 4x4 blocks, or 4 bytes a texel."""
        if not self.compressed:
            return 4 * width * height
        return -(-width // 4) * -(-height // 4) * self.block_bytes


FORMATS = {
    f.name: f
    for f in (
        TextureFormat("rgba8", 0, 0, 4, (28, 29), (37, 43), 1),  # KHR_DF_MODEL_RGBSDA
        TextureFormat("bc1", 1, 8, 3, (71, 72), (131, 132), 128),  # BC1_RGB: no alpha
        TextureFormat("bc4", 4, 8, 1, (80, 80), (139, 139), 131),
        TextureFormat("bc5", 5, 16, 2, (83, 83), (141, 141), 132),
        TextureFormat("bc7", 7, 16, 4, (98, 99), (145, 146), 134),
    )
}


def mip_sizes(width: int, height: int, mips: bool) -> list[tuple[int, int]]:
    """(width, height) of each level: the base only, or the full chain down to 1x1 with
    each side floor(side / 2^l) (at least 1), the D3D / Vulkan convention."""
    sizes = [(width, height)]
    while mips and sizes[-1] != (1, 1):
        w, h = sizes[-1]
        sizes.append((max(1, w // 2), max(1, h // 2)))
    return sizes
