"""Speed of `texgs transcode` on the Vulkan device (lavapipe without a GPU): texels
per second of the transcode kernel (engine_shaders/texgs_transcode.*), default
formats (BC7 albedo, BC5 normal, BC7 scalars), one dispatch per material. Prints
one JSON object.

    python benchmarks/transcode_bench.py --size 256                 # lavapipe: minutes
    python benchmarks/transcode_bench.py --size 2048 --repeat 20    # a GPU (goal: <= 5 ms with mips)
    python benchmarks/transcode_bench.py --file baked/material.texgs --no-mips

The material is synthetic unless --file is given: 9 channels (albedo, normal,
roughness, metalness, ao) and one Gaussian per --texels-per-gaussian texels, about
the density a texgs bake has at 0.06 bits per texel per channel. The figure is the
wall time of device().run after a warm-up (pipeline compiled): upload of the
material, the dispatch and the read-back of the payloads; compile time is reported
apart. "texels" counts the base level; "texels_all_levels" the whole chain.
rgba8_median_ms is the same dispatch with every slot RGBA8: the sampling without
the block encoders.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # packed_materials

from packed_materials import random_material  # noqa: E402

from texgs import vulkan  # noqa: E402
from texgs.channels import Channel
from texgs.format import QuantConfig, unpack  # noqa: E402
from texgs.transcode import mip_sizes, parse_formats, slots  # noqa: E402
from texgs.transcode.runner import kernel, run  # noqa: E402

CHANNELS = (
    [Channel(f"albedo.{c}", "albedo", "srgb", "albedo") for c in "rgb"]
    + [Channel(f"normal.{c}", "normal", "linear", f"normal_{c}") for c in "xyz"]
    + [Channel(g, g, "linear", g) for g in ("roughness", "metalness", "ao")]
)


def synthetic(size: int, texels_per_gaussian: float, seed: int = 0) -> bytes:
    n = max(16, int(size * size / texels_per_gaussian))
    cfg = QuantConfig()
    return random_material(size, size, CHANNELS, n, cfg, wrap=(True, True), seed=seed, spread=1.5, background=0.5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="synthetic material side (texels)")
    ap.add_argument("--texels-per-gaussian", type=float, default=200.0)
    ap.add_argument("--file", help="a baked .texgs file instead of the synthetic material")
    ap.add_argument("--no-mips", action="store_true", help="base level only")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shader", choices=("glsl", "hlsl"), default="glsl")
    ap.add_argument(
        "--format",
        action="append",
        metavar="[SLOT=]FMT",
        help="as texgs transcode --format; also timed: every slot rgba8 (the sampling alone, no block encoding)",
    )
    args = ap.parse_args(argv)

    data = Path(args.file).read_bytes() if args.file else synthetic(args.size, args.texels_per_gaussian)
    packed = unpack(data)
    chosen = slots(packed, parse_formats(args.format))
    sampling = slots(packed, {"*": "rgba8"})
    mips = not args.no_mips
    dev = vulkan.device()
    t0 = time.perf_counter()
    kernel(args.shader, len(packed.channels), dev.software)
    run(packed, chosen, mips, args.shader)  # warm-up: pipeline creation
    compile_s = time.perf_counter() - t0

    def timed(which):
        out = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            run(packed, which, mips, args.shader)
            out.append(time.perf_counter() - t0)
        return out

    times = timed(chosen)
    sample_times = timed(sampling)
    sizes = mip_sizes(packed.width, packed.height, mips)
    texels = packed.width * packed.height
    all_texels = sum(w * h for w, h in sizes)
    med = statistics.median(times)
    print(
        json.dumps(
            {
                "device": dev.name,
                "software": dev.software,
                "shader": args.shader,
                "width": packed.width,
                "height": packed.height,
                "channels": len(packed.channels),
                "gaussians": int(packed.header["gaussian_count"]),
                "levels": len(sizes),
                "textures": [f"{s.name}:{s.fmt.name}" for s in chosen],
                "first_run_s": round(compile_s, 3),
                "runs_s": [round(t, 4) for t in times],
                "median_ms": round(med * 1e3, 3),
                "texels_per_s": round(texels / med),
                "texels_all_levels_per_s": round(all_texels / med),
                "rgba8_median_ms": round(statistics.median(sample_times) * 1e3, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
