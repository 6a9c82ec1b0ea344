"""Quantisation distortion of record bit allocations (docs/FORMAT.md, "Records").

    python benchmarks/quant_study.py [--size 512]

Renders synthetic Gaussians shaped like a 0.06 bppc fit (index_study.
synthetic_fit) unquantised, then quantised with each allocation, and reports
the PSNR of the quantised image against the unquantised one (the distortion
quantisation alone adds; untrained, so an upper bound of what the fitter's
quantisation-aware training loses) and the bits per Gaussian. A quantisation
PSNR of >= ~40 dB adds under ~0.1-0.2 dB to a ~28 dB fit.
"""

from __future__ import annotations

import argparse

import numpy as np
from index_study import synthetic_fit

from texgs.format import layout as L
from texgs.format.decoder import decode_points
from texgs.format.quant import QuantConfig, quantize
from texgs.format.reader import Packed
from texgs.gaussians import Gaussians


def _render(inp, means, inv, rot, values) -> np.ndarray:
    """The image function of raw float Gaussians via the reference decoder's evaluator
    (inp: synthetic_fit's pack arguments, clamped addressing)."""
    h, w, cfg = inp["height"], inp["width"], inp["cfg"]
    header = {
        "height": h,
        "width": w,
        "k": inp["k"],
        "levels": 1,
        "strip_height": cfg.strip_height,
        "strip_count": L.strip_count(h, cfg.strip_height),
        "radius": cfg.max_radius,
        "flags": 0,
    }
    n = len(means)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    g = Gaussians(f32(means), f32(inv), f32(rot), f32(values), f32(inp["gaussians"].background), np.zeros(n, np.int32))
    p = Packed(header, [], inp["channels"], [], cfg, g, np.zeros(0, np.int64), np.zeros(0, np.uint32))
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    return decode_points(p, pts).reshape(h, w, -1)


def psnr(a, b) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


CONFIGS = {
    "fp16 (Image-GS baseline)": QuantConfig.fp16(),
    "default: pos 12, inv 2+5, rot 7, val 6": QuantConfig(),
    "pos 10": QuantConfig(position_bits=10),
    "pos 14": QuantConfig(position_bits=14),
    "inv 2+4": QuantConfig(inv_scale_mant_bits=4),
    "inv 3+5": QuantConfig(inv_scale_exp_bits=3),
    "inv 2+6": QuantConfig(inv_scale_mant_bits=6),
    "rot 5": QuantConfig(rotation_bits=5),
    "rot 8": QuantConfig(rotation_bits=8),
    "val 5": QuantConfig(value_bits=5),
    "val 7": QuantConfig(value_bits=7),
    "val 8": QuantConfig(value_bits=8),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="quantisation distortion of record bit allocations")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--channels", type=int, default=9)
    args = ap.parse_args(argv)
    h = w = args.size
    c = args.channels
    inp = synthetic_fit(h, w, c, 0.06, QuantConfig())
    # Smooth, correlated values (like texture content) rather than white noise per Gaussian.
    rng = np.random.default_rng(1)
    phase = rng.random((c, 2)) * 6.28
    g = inp["gaussians"]
    mx, my = g.means[:, 0:1] / w, g.means[:, 1:2] / h
    g.values = (
        0.5
        + 0.25 * np.sin(6.28 * 3 * mx + phase[:, 0]) * np.cos(6.28 * 2 * my + phase[:, 1])
        + 0.2 * rng.random((len(mx), c))
    ).astype(np.float32)
    ref = _render(inp, g.means, g.inv_scales, g.rotations, g.values)
    print(f"{g.n} Gaussians, {h}x{w}, {c} channels")
    print("| allocation | bits / Gaussian | PSNR vs unquantised (dB) |")
    print("|---|---|---|")
    for name, cfg in CONFIGS.items():
        q = [t.numpy() for t in quantize(g.means, g.inv_scales, g.rotations, g.values, cfg, h, w)]
        print(f"| {name} | {cfg.record_bits(c)} | {psnr(_render(inp, *q), ref):.2f} |")


if __name__ == "__main__":
    main()
