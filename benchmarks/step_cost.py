"""CPU time of each part of a fit step as the material grows, with the
Gaussians a real fit leaves: a 9-channel material is fitted once at 512^2
(the fast preset), and its Gaussians are mirror-tiled 2 x 2, 4 x 4, ... as
benchmarks/size_cost.py mirror-tiles the maps, so every size has the same
Gaussians per texel and the same shapes. Each part is timed on its own in
CPU seconds of this process (all threads), which other load inflates far
less than wall time; one JSON line per size, with ns per texel.

    python benchmarks/step_cost.py MATERIAL_DIR --sides 512 1024 2048

A fit spends: 500 steps (225 at 1/4 of the side, 175 at 1/2, 100 full), each
a forward, a backward, the loss, the optimiser and the projection (QAT in the
last 125); a coverage check every 25 steps (a render and a candidate search);
then palette k-means and 50 refinement steps at full size. Drawing the
texels new Gaussians start at (init.sample_texels, at the start and at each
relocation) is timed once per size too.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def tiled(g, h: int, w: int, times: int):
    """The Gaussians of an h x w fit mirror-tiled times x times (positions, rotations mirrored)."""
    means, inv, rot, val = (np.asarray(a, np.float32) for a in (g.means, g.inv_scales, g.rotations, g.values))
    parts = []
    for i in range(times):
        for j in range(times):
            m, r = means.copy(), rot.copy()
            if j % 2:
                m[:, 0], r = w - m[:, 0], np.mod(math.pi - r, math.pi)
            if i % 2:
                m[:, 1], r = h - m[:, 1], np.mod(math.pi - r, math.pi)
            m += np.array([j * w, i * h], np.float32)
            parts.append((m, inv, r, val))
    return [torch.from_numpy(np.concatenate([p[a] for p in parts])) for a in range(4)]


#: Per part, the system (kernel) CPU seconds and minor page faults of its last timing:
#: first touches of freshly allocated memory are kernel time, which grows with the bytes.
KERNEL: dict = {}


def cpu(fn, reps: int) -> float:
    """CPU seconds (user + system) of one call of fn, the mean of reps after a warm-up call
    (reps 0: one cold call); its system seconds and minor faults per call go to KERNEL["last"]."""
    if reps == 0:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.process_time()
        fn()
        out = time.process_time() - t
    else:
        fn()  # warm up (allocations, first-call paths)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.process_time()
        for _ in range(reps):
            fn()
        out = (time.process_time() - t) / reps
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    calls = max(reps, 1)
    KERNEL["last"] = ((r1.ru_stime - r0.ru_stime) / calls, (r1.ru_minflt - r0.ru_minflt) / calls)
    return out


def main() -> None:
    from texgs import ingest
    from texgs.fit import Budget, FitConfig, fit_material, nearest, packing
    from texgs.fit import init as fit_init
    from texgs.fit.adam import Adam
    from texgs.fit.api import evaluate, torch_threads
    from texgs.fit.loss import render_weighted_l2, weighted_l2
    from texgs.fit.optimize import COVERAGE_CANDIDATES, HOLE_SENTINEL, coverage_points
    from texgs.gaussians import Gaussians
    from texgs.render import render_gaussians

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("material", type=Path)
    ap.add_argument("--sides", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("size_cost", Path(__file__).with_name("size_cost.py"))
    size_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(size_cost)
    with tempfile.TemporaryDirectory() as tmp:
        size_cost.resize_maps(args.material, Path(tmp) / "m", 512)
        mat = ingest.load(Path(tmp) / "m")
    base = fit_material(mat, Budget(bppc=0.06), FitConfig.fast(backend="cpu"), wrap=(True, True), progress="off")
    h0, w0, c = mat.pixels.shape
    wrap = (True, True)
    with torch_threads(1):
        for side in args.sides:
            times = side // 512
            h, w = h0 * times, w0 * times
            means, inv, rot, val = (t.requires_grad_(True) for t in tiled(base.gaussians, h0, w0, times))
            bg = torch.full((c,), 0.5)
            n = means.shape[0]
            target = torch.rand(h, w, c, generator=torch.Generator().manual_seed(0))
            lo, span, weights = torch.zeros(c), torch.ones(c), torch.ones(c)
            buf = torch.empty(h, w, c)
            qcfg = packing.with_palettes(
                FitConfig(), packing.quant_config(FitConfig(), h, w), [ch for ch in base.channels], n
            )
            quant = packing.quantizer(qcfg, h, w, wrap)

            def forward(q=None):
                g = Gaussians(means, inv, rot, val, bg)
                return render_gaussians(q(g) if q else g, h, w, k=10, wrap=wrap, backend="cpu")

            def step_backward():  # a fit step's render and L2 loss (fused on the CPU renderer)
                g = Gaussians(means, inv, rot, val, bg)
                _, loss, _ = render_weighted_l2(g, h, w, 10, wrap, "cpu", 0, lo, span, target, weights, buf)
                loss.backward()

            opt = Adam([{"params": [p], "lr": 1e-9} for p in (means, inv, rot, val)])
            step_backward()
            points = torch.rand(coverage_points(n), 2) * torch.tensor([float(w), float(h)])
            kernel: dict = {}
            row = {"side": side, "texels": h * w, "gaussians": n, "coverage_points": len(points)}
            with torch.no_grad():
                img = forward()
                row["forward_s"] = cpu(lambda: forward(), args.reps)
                kernel["forward"] = KERNEL["last"]
                row["loss_s"] = cpu(lambda: weighted_l2(img, lo, span, target, weights, buf), args.reps)
                row["qat_quantiser_s"] = cpu(lambda: quant(Gaussians(means, inv, rot, val, bg)), args.reps)
            row["forward_backward_s"] = cpu(step_backward, args.reps)
            kernel["forward_backward"] = KERNEL["last"]
            row["optimiser_s"] = cpu(opt.step, args.reps)
            with torch.no_grad():
                sentinel = torch.full((c,), HOLE_SENTINEL)
                g = Gaussians(means, inv, rot, val, sentinel)
                row["hole_render_s"] = cpu(lambda: render_gaussians(g, h, w, k=10, wrap=wrap, backend="cpu"), 1)
                kernel["hole_render"] = KERNEL["last"]
                row["coverage_candidates_s"] = cpu(
                    lambda: nearest.nearest(points, means.detach(), COVERAGE_CANDIDATES, w, h, wrap), 1
                )
                row["palette_kmeans_s"] = cpu(lambda: packing.palette_entries(val.detach(), qcfg), 0)
                prob = torch.rand(h * w, generator=torch.Generator().manual_seed(1)).double()
                gen = torch.Generator().manual_seed(2)
                row["init_sample_s"] = cpu(lambda: fit_init.sample_texels(prob / prob.sum(), n, gen), 1)
            evaluate_result = dataclasses.replace(
                base,
                gaussians=Gaussians(
                    *(t.detach().numpy() for t in (means, inv, rot, val)),
                    base.gaussians.background,
                    np.tile(base.gaussians.levels, times * times),
                ),
                height=h,
                width=w,
            )
            stored = target.numpy()
            row["evaluate_s"] = cpu(lambda: evaluate(evaluate_result, stored), 0)
            kernel["evaluate"] = KERNEL["last"]
            for name, (sys_s, faults) in kernel.items():
                row[f"{name}_sys_ns_per_texel"] = round(sys_s * 1e9 / (h * w), 1)
                row[f"{name}_minor_faults"] = round(faults)
            for key in [k for k in row if k.endswith("_s")]:
                row[key.removesuffix("_s") + "_ns_per_texel"] = round(row[key] * 1e9 / (h * w), 1)
                row[key] = round(row[key], 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
