"""Build tests/data/golden/material.texgs: a small packed material from seeded
synthetic Gaussians (64x48, 7 channels, wrap x / clamp y, 2 LOD levels,
albedo from a 16-entry value palette, the other channels in the records, a
mip tail from level 3 of a smooth synthetic source), and
material_decoded.npy, its reference decode. Every decoder path (Python
reference, GLSL and HLSL shaders) is tested against these.

    python tests/data/golden/make_golden.py
"""

from __future__ import annotations

import pathlib

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
HEIGHT, WIDTH = 48, 64


def golden_input() -> dict:
    """The arguments of texgs.format.pack for the golden file."""
    from texgs.channels import Channel
    from texgs.format import QuantConfig, gaussian_constraints, mip_tail
    from texgs.gaussians import Gaussians

    cfg = QuantConfig(max_radius=12.0, strip_height=4, palettes=(((0, 1, 2), 4),)).with_group_value_bits(
        ["albedo"] * 3 + ["normal"] * 3 + ["roughness"], {"normal": 8, "roughness": 5}
    )
    rng = np.random.default_rng(20261122)
    n = 120
    lo = gaussian_constraints(HEIGHT, WIDTH, cfg)["min_inv_scale"]
    channels = [
        Channel("albedo.r", "albedo", "srgb", "albedo"),
        Channel("albedo.g", "albedo", "srgb", "albedo"),
        Channel("albedo.b", "albedo", "srgb", "albedo"),
        Channel("normal.x", "normal", "linear", "normal_x"),
        Channel("normal.y", "normal", "linear", "normal_y"),
        Channel("normal.z", "normal", "linear", "normal_z"),
        Channel("roughness", "roughness", "linear", "roughness", (0.0, 2.0)),
    ]
    means = (rng.random((n, 2)) * [WIDTH + 8, HEIGHT] - [4, 0]).astype(np.float32)
    inv_scales = (lo * np.exp(rng.random((n, 2)) * 2.2)).astype(np.float32)
    rotations = (rng.random(n) * 7 - 1).astype(np.float32)
    values = rng.random((n, 7)).astype(np.float32)
    background = np.array([0.5, 0.4, 0.3, 0.5, 0.5, 1.0, 0.25], np.float32)
    levels = rng.integers(0, 2, n)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    source = np.stack([0.5 + 0.45 * np.sin(xs * 0.09 * (c + 1) + ys * 0.13) for c in range(7)], 2)
    return dict(
        mip_tail=mip_tail.build(source, 3),
        gaussians=Gaussians(means, inv_scales, rotations, values, background, levels),
        channels=channels,
        height=HEIGHT,
        width=WIDTH,
        k=6,
        wrap=(True, False),
        cfg=cfg,
    )


def main() -> None:
    from texgs.format import decode, pack

    data = pack(**golden_input())
    (HERE / "material.texgs").write_bytes(data)
    np.save(HERE / "material_decoded.npy", decode(data))
    print(f"wrote {HERE / 'material.texgs'} ({len(data)} bytes) and material_decoded.npy")


if __name__ == "__main__":
    main()
