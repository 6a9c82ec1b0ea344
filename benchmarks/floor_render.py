"""The receding floor: a tiled texgs material on a plane seen at a grazing angle by a
perspective camera, rendered through the shipped GLSL include on lavapipe (Vulkan
on the CPU) three ways: point sampling (texgs_sample at the pixel centre),
filtered (texgs_sample_grad with the pixel's UV derivatives, as ddx/ddy give
them: forward differences to the next pixel), and a supersampled reference (64
jittered point samples per pixel, 8 x 8 strata, averaged: the pixel's box filter).

    python benchmarks/floor_render.py FILE.texgs -o docs/images/floor.png [--width 512 --height 256]

Prints JSON: PSNR against the reference over all channels (stored values) and over
the shown group, and the footprints at the nearest and farthest rows. The picture is
point | filtered | reference side by side, the first channel group (albedo) shown;
OUTPUT_far.png stacks the far rows of the three, enlarged 3x.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class Camera:
    """Eye at height 1 over the plane y = 0, pitched down; the texture tiles the plane
    with `texels_per_unit` texels per world unit. Defaults give about 1 texel per pixel
    (along the view) at the bottom row and 64 at the top row for a 256-row image."""

    def __init__(
        self, width: int, height: int, tex_w: int, tex_h: int, pitch_deg=22.0, fov_deg=35.0, texels_per_unit=None
    ):
        self.w, self.h, self.tw, self.th = width, height, tex_w, tex_h
        self.pitch, self.tan = math.radians(pitch_deg), math.tan(math.radians(fov_deg) / 2)
        if texels_per_unit is None:  # 1 texel per pixel along the view at the bottom row
            _, _, depth = self._footprint_rows(1.0)
            texels_per_unit = 1.0 / depth[-1]
        self.tpu = texels_per_unit

    def uv(self, x, y):
        """Floor uv at (fractional) pixel coordinates x, y (pixel centres at i + 0.5)."""
        sp, cp = math.sin(self.pitch), math.cos(self.pitch)
        nx = (2.0 * x / self.w - 1.0) * self.tan * self.w / self.h
        ny = (1.0 - 2.0 * y / self.h) * self.tan
        dy = -sp + ny * cp  # direction = f + nx r + ny u, f = (0, -sp, cp), u = (0, cp, sp)
        dz = cp + ny * sp
        t = 1.0 / np.maximum(-dy, 1e-9)
        return np.stack([nx * t * self.tpu / self.tw, dz * t * self.tpu / self.th], -1)

    def _footprint_rows(self, tpu):
        saved = getattr(self, "tpu", None)
        self.tpu = tpu
        y = np.arange(self.h) + 0.5
        x = np.full_like(y, self.w / 2)
        base = self.uv(x, y)
        ddx = (self.uv(x + 1, y) - base) * [self.tw, self.th]
        ddy = (self.uv(x, y + 1) - base) * [self.tw, self.th]
        self.tpu = saved
        return ddx, ddy, np.abs(ddy[:, 1])

    def pixels(self):
        """(uv [P, 2], ddx_uv [P, 2], ddy_uv [P, 2]) at every pixel centre, row-major."""
        ys, xs = np.meshgrid(np.arange(self.h) + 0.5, np.arange(self.w) + 0.5, indexing="ij")
        x, y = xs.ravel(), ys.ravel()
        base = self.uv(x, y)
        return (
            base.astype(np.float32),
            (self.uv(x + 1, y) - base).astype(np.float32),
            (self.uv(x, y + 1) - base).astype(np.float32),
        )

    def jittered(self, n_side: int, seed: int = 0):
        """[n_side^2, P, 2] uv of stratified jittered samples inside every pixel."""
        rng = np.random.default_rng(seed)
        ys, xs = np.meshgrid(np.arange(self.h), np.arange(self.w), indexing="ij")
        x, y = xs.ravel().astype(np.float64), ys.ravel().astype(np.float64)
        out = []
        for sy in range(n_side):
            for sx in range(n_side):
                jx, jy = rng.random(x.shape), rng.random(x.shape)
                out.append(self.uv(x + (sx + jx) / n_side, y + (sy + jy) / n_side).astype(np.float32))
        return np.stack(out)

    def row_footprints(self):
        """Texels per pixel (longer axis, across) at the bottom and the top row."""
        ddx, ddy, _ = self._footprint_rows(self.tpu)
        along = np.hypot(ddy[:, 0], ddy[:, 1])
        across = np.hypot(ddx[:, 0], ddx[:, 1])
        return {
            "bottom_row": [round(float(along[-1]), 2), round(float(across[-1]), 2)],
            "top_row": [round(float(along[0]), 2), round(float(across[0]), 2)],
        }


def render(
    run, spv, data: bytes, cam: Camera, supersample: int = 8, lang: str = "glsl", chunk: int = 1 << 16, max_ch: int = 16
):
    """(point, filtered, reference), each [h, w, C] unit values, through the decode test kernel
    compiled with TEXGS_MAX_CHANNELS = max_ch."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_shaders import run_filtered, run_kernel

    from texgs.format import unpack

    c = unpack(data).gaussians.channels
    if c > max_ch:
        raise SystemExit(f"the kernel samples at most {max_ch} channels; this material has {c}")
    uv, ddx, ddy = cam.pixels()

    def chunked(fn, n):
        return np.concatenate([fn(slice(i, min(i + chunk, n))) for i in range(0, n, chunk)])

    n = len(uv)
    point = chunked(lambda s: run_kernel(run, spv, data, s.stop - s.start, points=uv[s], lang=lang, max_ch=max_ch), n)
    filt = chunked(lambda s: run_filtered(run, spv, data, uv[s], ddx[s], ddy[s], lang=lang, max_ch=max_ch), n)
    acc = np.zeros((n, max_ch), np.float64)
    for sample in cam.jittered(supersample):
        acc += chunked(
            lambda s: run_kernel(run, spv, data, s.stop - s.start, points=sample[s], lang=lang, max_ch=max_ch), n
        )
    ref = acc / supersample**2
    shape = (cam.h, cam.w, -1)
    return tuple(a[:, :c].reshape(shape).astype(np.float32) for a in (point, filt, ref))


def psnr_figures(packed, point, filt, ref, group_idx):
    from texgs.format.decoder import apply_channel_ranges
    from texgs.metrics import psnr

    p, f, r = (apply_channel_ranges(packed, a) for a in (point, filt, ref))
    return {
        "point_psnr": round(psnr(r, p), 2),
        "filtered_psnr": round(psnr(r, f), 2),
        "point_psnr_shown": round(psnr(r[..., group_idx], p[..., group_idx]), 2),
        "filtered_psnr_shown": round(psnr(r[..., group_idx], f[..., group_idx]), 2),
    }


def far_crop(strip_png: Path, width: int, out_png: Path, rows: int, scale: int = 3) -> None:
    """The farthest `rows` rows of each panel of the side-by-side PNG, enlarged (nearest), stacked:
    where point sampling aliases."""
    import cv2

    im = cv2.imread(str(strip_png))
    panels = [im[:rows, i * (width + 4) : i * (width + 4) + width] for i in range(3)]
    gap = np.full((4, width * scale, 3), 255, np.uint8)
    big = [cv2.resize(p, (width * scale, rows * scale), interpolation=cv2.INTER_NEAREST) for p in panels]
    cv2.imwrite(str(out_png), np.concatenate([big[0], gap, big[1], gap, big[2]], 0))


def main(argv=None) -> int:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    sys.path.insert(0, str(ROOT / "tests"))
    import tempfile

    import cv2
    from test_shaders import compile_kernel, make_runner

    from texgs.format import unpack
    from texgs.format.decoder import apply_channel_ranges
    from texgs.format.export import group_channels

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path)
    ap.add_argument("-o", "--output", type=Path, required=True, help="PNG: point | filtered | reference")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--supersample", type=int, default=8, help="strata per side (8: 64 samples per pixel)")
    ap.add_argument(
        "--crop-only",
        action="store_true",
        help="only write OUTPUT_far.png from an existing OUTPUT (the far rows enlarged)",
    )
    args = ap.parse_args(argv)
    far = args.output.with_name(args.output.stem + "_far.png")
    if args.crop_only:
        far_crop(args.output, args.width, far, args.height * 5 // 16)
        return 0
    data = args.file.read_bytes()
    packed = unpack(data, name=str(args.file))
    cam = Camera(args.width, args.height, packed.width, packed.height)
    with tempfile.TemporaryDirectory() as tmp:
        spv = compile_kernel("glsl", Path(tmp), max_channels=16)
    point, filt, ref = render(make_runner(), spv, data, cam, args.supersample)
    group, idx = next(iter(group_channels(packed.channels).items()))
    figs = psnr_figures(packed, point, filt, ref, idx)
    shown = [apply_channel_ranges(packed, a)[..., idx[:3]] for a in (point, filt, ref)]
    gap = np.ones((args.height, 4, 3), np.float32)
    strip = np.concatenate([shown[0], gap, shown[1], gap, shown[2]], 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), np.round(np.clip(strip, 0, 1) * 255).astype(np.uint8)[..., ::-1])
    far_crop(args.output, args.width, far, args.height * 5 // 16)
    print(
        json.dumps(
            {
                "file": str(args.file.name),
                "image": f"{args.width}x{args.height}",
                "samples_per_pixel": args.supersample**2,
                "shown": group,
                **cam.row_footprints(),
                **figs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
