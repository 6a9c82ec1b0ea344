"""A large fit's per-texel conditions at a small size: fit a material at SIDE
with the position learning rate times LR_FACTOR and POINTS hole points per
coverage check, the two settings whose effect per texel grows with the
material (docs/benchmarks.md "Cost as the material grows").

    python benchmarks/scale_emulation.py MATERIAL_DIR SIDE LR_FACTOR POINTS

At 512^2 (2,104 Gaussians at 0.06 bppc) a 4096^2 fit before the fix is
LR_FACTOR 8 (2 texels a step instead of 0.25) and POINTS 16 (1,024 points
for 140K Gaussians); after it, LR_FACTOR 2 and POINTS 131 (one per 16).
Prints one line: the settings, PSNR, Gaussians, CPU seconds.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    from texgs.fit import Budget, FitConfig, fit_material, optimize
    from texgs.ingest import load

    material, side, lr_factor, points = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    optimize.COVERAGE_POINTS = points
    optimize.coverage_points = lambda n: points
    spec = importlib.util.spec_from_file_location("size_cost", Path(__file__).with_name("size_cost.py"))
    size_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(size_cost)
    with tempfile.TemporaryDirectory() as tmp:
        size_cost.resize_maps(material, Path(tmp) / "m", side)
        mat = load(Path(tmp) / "m")
    cfg = FitConfig(backend="cpu", lr_position=FitConfig().lr_position * lr_factor)
    t = time.process_time()
    r = fit_material(mat, Budget(bppc=0.06), cfg, wrap=(True, True), progress="off")
    print(
        f"side {side} lr x{lr_factor:g} points {points}: PSNR {r.metrics['psnr']:.3f} dB, "
        f"{r.n} Gaussians, {time.process_time() - t:.1f} CPU s",
        flush=True,
    )


if __name__ == "__main__":
    main()
