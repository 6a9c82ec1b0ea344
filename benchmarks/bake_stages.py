"""What a one-material `texgs bake` spends outside the fit, stage by stage, in one
process: the command line's imports (torch among them), discovery, the lit
previews' shader compile and Vulkan device, decoding the maps, a short fit (its
time is not the point), the unlit previews (decode and PNG) and the lit preview
(lavapipe on a machine without a GPU) twice: the second call shows what the first
spent on one-time setup. Wall and process CPU seconds per stage, one JSON line.

    python benchmarks/bake_stages.py MATERIAL_DIR [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("material", type=Path)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    stages: dict[str, dict] = {}
    last = [time.monotonic(), time.process_time()]

    def mark(name: str) -> None:
        w, c = time.monotonic(), time.process_time()
        stages[name] = {"wall_s": round(w - last[0], 3), "cpu_s": round(c - last[1], 3)}
        last[:] = [w, c]

    from texgs import cli

    cli.build_parser()
    mark("cli_imports")
    from texgs import ingest

    sources = ingest.discover(args.material)
    mark("discover")
    from texgs.preview import render as preview_render

    preview_render._spirv()
    mark("spirv_compile")
    from texgs import vulkan

    vulkan.device()
    mark("vulkan_device")
    material = ingest.load(sources[0], resample=True)
    mark("ingest_load")
    from texgs import metrics
    from texgs.fit import Budget, FitConfig, fit_material
    from texgs.preview import lit_preview
    from texgs.writers import write_png

    result = fit_material(material, Budget(bppc=0.06), FitConfig(steps=args.steps), progress="off")
    mark("fit_short")
    with tempfile.TemporaryDirectory() as tmp:
        recon = result.render()
        for group, idx in metrics.group_slices([c.group for c in material.channels]).items():
            img = recon[..., idx]
            write_png(Path(tmp) / f"preview_{group}.png", img if img.shape[2] in (1, 3) else img[..., :1])
    mark("unlit_previews")
    lit_preview(result.data, material.pixels)
    mark("lit_preview_first")
    lit_preview(result.data, material.pixels)
    mark("lit_preview_again")
    print(json.dumps({"material": str(args.material), "steps": args.steps, "stages": stages}))


if __name__ == "__main__":
    main()
