"""Mip chains (2x2 box filter) and bilinear upsampling back to full size.

Block codecs cannot go below ~1 bit per texel, so the equal-bitrate comparison
(docs/METRICS.md, Image-GS sec. 4.5) compresses a mip level and measures it after
upsampling to the full size, against the full-size reference.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def box_downsample(image: np.ndarray) -> np.ndarray:
    """[h, w, k] float -> [ceil(h/2), ceil(w/2), k]: mean of each 2x2 texel square.
    An odd last row/column is repeated (edge clamp), so it averages with itself."""
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    x = image.astype(np.float32, copy=False)
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def mip_chain(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """[h, w, k] float -> [level 0 (the image itself), 1, ..., levels], each box-filtered from
    the previous one in float (no re-quantisation between levels)."""
    chain = [image.astype(np.float32, copy=False)]
    for _ in range(levels):
        chain.append(box_downsample(chain[-1]))
    return chain


def upsample_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """[h, w, k] -> [height, width, k] float32, bilinear with texel centres at (i + 0.5)
    and edges clamped: how a GPU samples a lower mip level magnified onto the full size."""
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    up = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
    return up[0].permute(1, 2, 0).contiguous().numpy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[h, w, k] float in [0, 1] -> uint8, rounded to nearest (the 8-bit input a codec gets)."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
