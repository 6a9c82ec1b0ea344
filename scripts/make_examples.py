"""Generate the example materials in examples/materials/ (committed).

Three small tileable PBR materials, made procedurally so the repository ships
no third-party images, each named after a different real-world convention so
the README's first command exercises ingest as a user's folder would:

- tiles/       ambientCG names: Tiles_Color, Tiles_NormalGL, Tiles_Roughness,
               Tiles_AmbientOcclusion, Tiles_Displacement
- wavy_metal_* Poly Haven names, side by side in one folder with the next one:
               _diff, _nor_gl, _arm (R=AO, G=roughness, B=metalness)
- cobble/      glTF names: baseColor, normal, occlusionRoughnessMetallic

Run: python scripts/make_examples.py [--size 256] [--out examples/materials]
The output depends only on --size (fixed seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def periodic_noise(size: int, seed: int, octaves: int = 4) -> np.ndarray:
    """Tileable value noise in [0, 1]: sums of random periodic sinusoids."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) * (2 * np.pi / size)
    out = np.zeros((size, size))
    for o in range(octaves):
        for _ in range(6):
            fx, fy = rng.integers(-(2 << o), (2 << o) + 1, size=2)
            out += np.cos(fx * x + fy * y + rng.uniform(0, 2 * np.pi)) / (1.6**o)
    out -= out.min()
    return out / max(out.max(), 1e-9)


def normal_from_height(height: np.ndarray, strength: float) -> np.ndarray:
    """OpenGL-convention (+Y up) normal map encoded as (n + 1) / 2, tileable."""
    dx = (np.roll(height, -1, 1) - np.roll(height, 1, 1)) * 0.5 * strength
    dy = (np.roll(height, -1, 0) - np.roll(height, 1, 0)) * 0.5 * strength
    # Image rows grow downwards; +Y up in OpenGL convention means -d/drow.
    n = np.stack([-dx, dy, np.ones_like(height)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return (n + 1) * 0.5


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)


def save(path: Path, img: np.ndarray) -> None:
    """img [H, W] or [H, W, 3] in [0, 1], RGB order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_u8(img)
    if data.ndim == 3:
        data = data[..., ::-1]  # RGB -> BGR for OpenCV
    if not cv2.imwrite(str(path), data):
        raise OSError(f"could not write {path}")


def tiles(size: int, out: Path) -> None:
    y, x = np.mgrid[0:size, 0:size] / size
    cells = 4
    fx, fy = (x * cells) % 1.0, (y * cells) % 1.0
    edge = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy))
    grout = np.clip(1 - edge / 0.06, 0, 1)
    noise = periodic_noise(size, 1)
    tile_id = (np.floor(x * cells) * 7 + np.floor(y * cells) * 3) % 5 / 5
    base = np.stack([0.55 + 0.2 * tile_id, 0.35 + 0.1 * tile_id, 0.25 + 0.05 * tile_id], -1)
    albedo = base * (0.85 + 0.15 * noise[..., None]) * (1 - grout[..., None]) + 0.5 * grout[..., None]
    height = (1 - grout) * 0.8 + 0.2 * noise
    d = out / "tiles"
    save(d / "Tiles_Color.png", albedo)
    save(d / "Tiles_NormalGL.png", normal_from_height(height, 6.0))
    save(d / "Tiles_Roughness.png", 0.45 + 0.4 * grout + 0.1 * noise)
    save(d / "Tiles_AmbientOcclusion.png", 1 - 0.6 * grout)
    save(d / "Tiles_Displacement.png", height)


def wavy_metal(size: int, out: Path) -> None:
    y, x = np.mgrid[0:size, 0:size] * (2 * np.pi / size)
    waves = 0.5 + 0.5 * np.sin(3 * x + 2 * np.sin(2 * y))
    rust = np.clip((periodic_noise(size, 2) - 0.55) * 4, 0, 1)
    metal = np.stack([0.7, 0.72, 0.75]) * (0.8 + 0.2 * waves[..., None])
    rusty = np.stack([0.45, 0.22, 0.1]) * (0.7 + 0.3 * periodic_noise(size, 3)[..., None])
    albedo = metal * (1 - rust[..., None]) + rusty * rust[..., None]
    arm = np.stack([0.8 + 0.2 * waves, 0.25 + 0.6 * rust, 1 - rust], -1)
    d = out / "sheets"
    save(d / "wavy_metal_diff_1k.png", albedo)
    save(d / "wavy_metal_nor_gl_1k.png", normal_from_height(waves * 0.6 + 0.2 * rust, 4.0))
    save(d / "wavy_metal_arm_1k.png", arm)


def cobble(size: int, out: Path) -> None:
    rng = np.random.default_rng(4)
    pts = rng.uniform(0, size, size=(40, 2))
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    best = np.full((size, size), np.inf)
    second = np.full((size, size), np.inf)
    ident = np.zeros((size, size))
    for i, (px, py) in enumerate(pts):
        dx = np.abs(x - px)
        dx = np.minimum(dx, size - dx)  # tileable distances
        dy = np.abs(y - py)
        dy = np.minimum(dy, size - dy)
        dist = np.hypot(dx, dy)
        closer = dist < best
        second = np.where(closer, best, np.minimum(second, dist))
        ident = np.where(closer, i, ident)
        best = np.where(closer, dist, best)
    crack = np.clip((second - best) / 6.0, 0, 1)
    shade = (ident * 0.618) % 1.0
    albedo = np.stack([0.4 + 0.2 * shade, 0.38 + 0.15 * shade, 0.35 + 0.1 * shade], -1) * (0.4 + 0.6 * crack[..., None])
    height = np.sqrt(crack)
    orm = np.stack([0.5 + 0.5 * crack, 0.9 - 0.3 * crack, np.zeros_like(crack)], -1)
    d = out / "cobble"
    save(d / "baseColor.png", albedo)
    save(d / "normal.png", normal_from_height(height, 5.0))
    save(d / "occlusionRoughnessMetallic.png", orm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples" / "materials")
    args = ap.parse_args()
    for make in (tiles, wavy_metal, cobble):
        make(args.size, args.out)
    print(f"wrote example materials to {args.out}")


if __name__ == "__main__":
    main()
