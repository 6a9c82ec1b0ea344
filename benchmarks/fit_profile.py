"""Where a fit's CPU time goes: one 0.06 bppc fit of a material at SIDE
(resized as benchmarks/size_cost.py does), profiled with cProfile on the
process's CPU clock (all threads; other load inflates it far less than wall
time). Prints the totals as one JSON line, then CPU seconds per phase (calls,
cumulative, own), then every renderer call by level size and kind (forward
with saved state, forward alone, backward: calls, CPU and wall seconds) and
the time outside the renderer; --json also writes them. calling_thread_*:
the CPU time of the thread that called fit() (time.thread_time), and of it
what ran outside the renderer: the work no other core took a share of.

    python benchmarks/fit_profile.py MATERIAL_DIR 1024 [--json out.json] [--pstats out.prof] [--set steps=400 ...]

--set NAME=VALUE changes a FitConfig field (VALUE as JSON: 400, 0.5, [4,2,1]);
--no-wrap fits with clamped addressing, as benchmarks/fit_bench.py does.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import importlib.util
import json
import pstats
import resource
import tempfile
import time
from pathlib import Path

PHASES = {
    "forward_cpu": "renderer forward",
    "backward_cpu": "renderer backward",
    "weighted_l2": "L2 loss (forward)",
    "backward": "autograd backward (renderer and loss)",
    "step": "optimiser steps",
    "_optimizer": "optimiser construction",
    "quantize_ste": "QAT quantiser",
    "project": "projection onto the format's bounds",
    "coverage_loss": "coverage term",
    "hole_points": "hole checks (a render each)",
    "coverage_candidates": "coverage candidates",
    "level_target": "pyramid targets",
    "refine": "palette refinement (renders included)",
    "choose": "palette k-means",
    "pack_within": "packing",
    "evaluate": "report: decode and metrics",
}


class RendererCalls:
    """Counts and times the native CPU renderer's calls by (kind, level size)
    while installed: "forward+state" (a training step's forward, which keeps
    the state its backward needs), "forward alone" (no gradient: hole checks,
    decodes) and "backward"."""

    def __init__(self):
        self.rows: dict[tuple[str, str], list[float]] = {}

    def _add(self, kind: str, size: str, cpu: float, wall: float, own: float) -> None:
        row = self.rows.setdefault((kind, size), [0, 0.0, 0.0, 0.0])
        row[0] += 1
        row[1] += cpu
        row[2] += wall
        row[3] += own

    def __enter__(self):
        from texgs import native

        self._native = native
        self._saved = (native._forward, native._forward_l2, native._RenderCPU.backward, native._RenderL2CPU.backward)
        self._forward, self._forward_l2, self._backward, self._backward_l2 = self._saved

        # The render with the fused L2 term (texgs.native.render_l2) counts as a render.
        def forward(params, height, width, k, wrap, threads, keep_state, l2=None):
            cpu, wall, own = time.process_time(), time.perf_counter(), time.thread_time()
            if l2 is None:
                out = self._forward(params, height, width, k, wrap, threads, keep_state)
            else:
                out = self._forward_l2(params, height, width, k, wrap, threads, keep_state, l2)
            kind = "forward+state" if keep_state else "forward alone"
            self._add(
                kind,
                f"{width}x{height}",
                time.process_time() - cpu,
                time.perf_counter() - wall,
                time.thread_time() - own,
            )
            return out

        def timed_backward(fn):
            def backward(ctx, *grads):
                h, w = ctx.saved_tensors[-1].shape[:2]  # the forward's image
                cpu, wall, own = time.process_time(), time.perf_counter(), time.thread_time()
                out = fn(ctx, *grads)
                wall, cpu, own = time.perf_counter() - wall, time.process_time() - cpu, time.thread_time() - own
                self._add("backward", f"{w}x{h}", cpu, wall, own)
                return out

            return staticmethod(backward)

        native._forward = forward
        native._forward_l2 = lambda params, h, w, k, wrap, threads, keep, l2: forward(
            params, h, w, k, wrap, threads, keep, l2
        )
        native._RenderCPU.backward = timed_backward(self._backward)
        native._RenderL2CPU.backward = timed_backward(self._backward_l2)
        return self

    def __exit__(self, *exc):
        n = self._native
        n._forward, n._forward_l2 = self._saved[0], self._saved[1]
        n._RenderCPU.backward, n._RenderL2CPU.backward = staticmethod(self._saved[2]), staticmethod(self._saved[3])

    def table(self) -> list[dict]:
        return [
            {
                "kind": kind,
                "size": size,
                "calls": int(n),
                "cpu_s": round(cpu, 2),
                "wall_s": round(wall, 2),
                "calling_thread_cpu_s": round(own, 2),
            }
            for (kind, size), (n, cpu, wall, own) in sorted(self.rows.items(), key=lambda kv: -kv[1][1])
        ]


def main() -> None:
    from texgs.fit import Budget, FitConfig, fit_material
    from texgs.ingest import load

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("material", type=Path)
    ap.add_argument("side", type=int)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--pstats", type=Path, help="also write the whole cProfile profile (pstats format) here")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="FitConfig changes")
    ap.add_argument("--no-wrap", action="store_true", help="clamp addressing (fit_bench's) instead of wrap")
    args = ap.parse_args()
    changes = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = FitConfig(backend="cpu", **changes)
    wrap = (False, False) if args.no_wrap else (True, True)
    spec = importlib.util.spec_from_file_location("size_cost", Path(__file__).with_name("size_cost.py"))
    size_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(size_cost)
    with tempfile.TemporaryDirectory() as tmp:
        size_cost.resize_maps(args.material, Path(tmp) / "m", args.side)
        mat = load(Path(tmp) / "m")
    prof = cProfile.Profile(time.process_time)
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall, cpu, thread_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    with RendererCalls() as renderer:
        prof.enable()
        r = fit_material(mat, Budget(bppc=0.06), cfg, wrap=wrap, progress="off")
        prof.disable()
    wall, cpu, thread_cpu = time.perf_counter() - wall, time.process_time() - cpu, time.thread_time() - thread_cpu
    if args.pstats:
        prof.dump_stats(args.pstats)
    after = resource.getrusage(resource.RUSAGE_SELF)
    phases = {}
    for (_, _, fn), (_, calls, own, cum, _) in pstats.Stats(prof).stats.items():
        name = fn.replace("<built-in method texgs._native.", "").rstrip(">")
        if name in PHASES and cum > phases.get(PHASES[name], {}).get("cpu_s", -1):
            phases[PHASES[name]] = {"calls": calls, "cpu_s": round(cum, 2), "own_cpu_s": round(own, 2)}
    row = {
        "side": args.side,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "psnr": r.metrics["psnr"],
        "gaussians": r.n,
        "bytes": len(r.data),
        "sha256": hashlib.sha256(r.data).hexdigest()[:16],
        "steps": r.steps,
        "renderer_calls": sum(c["calls"] for c in renderer.table()),
        "renderer_cpu_s": round(sum(c["cpu_s"] for c in renderer.table()), 1),
        "renderer_wall_s": round(sum(c["wall_s"] for c in renderer.table()), 1),
        # CPU of the thread that called fit(): the work no other core shares (plus its part of the renderer's)
        "calling_thread_cpu_s": round(thread_cpu, 1),
        "calling_thread_outside_renderer_cpu_s": round(
            thread_cpu - sum(c["calling_thread_cpu_s"] for c in renderer.table()), 1
        ),
        "minor_page_faults": after.ru_minflt - before.ru_minflt,
        "peak_rss_gb": round(after.ru_maxrss / 2**20, 2),
    }
    print(json.dumps(row), flush=True)
    for name, p in sorted(phases.items(), key=lambda kv: -kv[1]["cpu_s"]):
        print(f"  {name:45s} {p['calls']:6d} {p['cpu_s']:8.2f} {p['own_cpu_s']:8.2f}")
    for c in renderer.table():
        print(
            f"  renderer {c['kind']:14s} {c['size']:>10s} {c['calls']:6d} {c['cpu_s']:8.2f} CPU s {c['wall_s']:8.2f} s"
        )
    outside_cpu, outside_wall = row["cpu_s"] - row["renderer_cpu_s"], row["wall_s"] - row["renderer_wall_s"]
    busy = outside_cpu / outside_wall
    print(f"  outside the renderer: {outside_cpu:.1f} CPU s in {outside_wall:.1f} s ({busy:.2f} cores busy)")
    print(
        f"  calling thread: {row['calling_thread_cpu_s']:.1f} CPU s, "
        f"{row['calling_thread_outside_renderer_cpu_s']:.1f} of them outside the renderer"
    )
    if args.json:
        args.json.write_text(json.dumps(dict(row, phases=phases, renderer=renderer.table()), indent=1))


if __name__ == "__main__":
    main()
