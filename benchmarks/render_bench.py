"""CPU renderer, old against new in one run: forward and forward+backward of
one workload with the native extension of an older commit and with the one
installed now, timed in alternating subprocesses, and (with --instructions)
the instructions each render executes, counted by valgrind's callgrind. Prints
one JSON object.

    python benchmarks/render_bench.py --old 1e50b8a
    python benchmarks/render_bench.py --old 1e50b8a --instructions --repeat 9
    python benchmarks/render_bench.py --old 1e50b8a --from crate.texgs   # a real fit's Gaussians
    python benchmarks/render_bench.py --old 1e50b8a --size 256 --full-size 1024   # a fit's coarse level

The old extension is built from `git archive OLD` into --build-dir (once per
commit, then reused). Both sides render the same Gaussians with the same
dL/dout; the JSON also gives the largest difference between their outputs
and gradients. Workload "fit" (the default): N and shapes of a default fit at
0.06 bppc (texgs.bench.fit_like_gaussians); with --full-size F, those of an
F^2 fit scaled down to --size, as a fit's coarse pyramid levels render the
full-size Gaussians; --from FILE takes a packed file's
Gaussians instead. Each call renders into a fresh buffer from the
renderer's allocate_large, as the Python binding does. Wall time is
contended on a shared machine; process CPU time (all threads) and
instruction counts depend much less on the load.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("means", "inv_scales", "rotations", "values")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def compile_harness(tree: Path, exe: Path) -> subprocess.Popen:
    """Starts building native/bench/render_bench.cpp (this checkout's) against the
    renderer sources of `tree`, with the native build's flags (CMakeLists.txt)."""
    exe.parent.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p) for p in (tree / "native" / "src").glob("*.cpp"))
    cmd = ["g++", "-O3", "-g", "-std=c++17", "-ffp-contract=off", "-fno-math-errno", "-march=native", "-pthread"]
    cmd += [f"-I{tree / 'native' / 'include'}", *sources, str(ROOT / "native" / "bench" / "render_bench.cpp")]
    return subprocess.Popen(cmd + ["-o", str(exe)])


def build_harnesses(old: str, build_dir: Path) -> dict[str, Path]:
    """The harness built against commit `old` (cached per commit) and against
    the working tree (rebuilt every run)."""
    commit = _git("rev-parse", "--verify", f"{old}^{{commit}}")
    old_exe = build_dir / commit[:12] / "render_bench"
    new_exe = build_dir / "working-tree" / "render_bench"
    jobs = [compile_harness(ROOT, new_exe)]
    if not old_exe.exists():
        src = build_dir / commit[:12] / "src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit, "native"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        jobs.append(compile_harness(src, old_exe))
    for job in jobs:
        if job.wait() != 0:
            raise SystemExit("render_bench: building the harness failed")
    return {"old": old_exe, "new": new_exe}


def write_workload(w: dict, path: Path) -> None:
    """The harness's workload file (see native/bench/render_bench.cpp)."""
    import numpy as np

    p = w["params"]
    n, c = p["values"].shape
    header = np.array([1, n, c, w["height"], w["width"], w["k"], 0, 0], dtype="<i4")
    with open(path, "wb") as f:
        f.write(b"TXGSBNCH")
        f.write(header.tobytes())
        for t in (p["means"], p["inv_scales"], p["rotations"], p["values"], p["background"], w["grad_out"]):
            f.write(t.contiguous().numpy().astype("<f4").tobytes())


def make_workload(args) -> dict:
    import torch

    from texgs import bench

    if args.from_file:
        from texgs.format import unpack

        p = unpack(Path(args.from_file).read_bytes(), args.from_file)
        params = {
            "means": torch.from_numpy(p.means).float(),
            "inv_scales": torch.from_numpy(p.inv_scales).float(),
            "rotations": torch.from_numpy(p.rotations).float(),
            "values": torch.from_numpy(p.values).float(),
            "background": torch.from_numpy(p.background).float(),
        }
        height, width = int(p.header["height"]), int(p.header["width"])
        name = f"file {Path(args.from_file).name}"
    else:
        height = width = args.size
        if args.gaussians == "fit" and args.full_size:
            # A fit's coarse pyramid level: the full-size fit's Gaussians, scaled
            # down as texgs.fit.optimize.render_level scales them.
            full = args.full_size
            params = bench.fit_like_gaussians(full, full, args.channels, seed=args.seed)
            params["means"] = params["means"] * (args.size / full)
            params["inv_scales"] = params["inv_scales"] * (full / args.size)
            name = f"fit-like at {full}^2 (texgs.bench.fit_like_gaussians), scaled to {args.size}^2"
        elif args.gaussians == "fit":
            params = bench.fit_like_gaussians(height, width, args.channels, seed=args.seed)
            name = "fit-like (texgs.bench.fit_like_gaussians)"
        else:
            params = bench.synthetic_gaussians(height, width, args.channels, int(args.gaussians), args.seed)
            name = "synthetic (texgs.bench.synthetic_gaussians)"
    c = params["values"].shape[1]
    g = torch.Generator().manual_seed(args.seed)
    # dL/dout of an L2 loss against a noisy image: every texel and channel differs.
    grad_out = (torch.rand(height, width, c, generator=g) - 0.5) * (2.0 / (height * width * c))
    return {"params": params, "grad_out": grad_out, "height": height, "width": width, "k": args.k, "name": name}


def run_harness(exe: Path, workload: Path, repeat: int, threads: int, dump: Path | None = None) -> dict:
    cmd = [str(exe), str(workload), "--repeat", str(repeat), "--threads", str(threads)]
    if dump:
        cmd += ["--dump", str(dump)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def count_instructions(exe: Path, workload: Path, tmp: Path) -> dict:
    """Instructions of one forward (inference) and one forward + backward,
    counted by callgrind inside the render entry points only: one run
    collecting inside render_forward_cpu (called twice), one inside
    render_backward_cpu; callgrind's summary line is the collected total.
    One thread: callgrind's --toggle-collect only counts a thread while it is
    inside the function, so worker threads (which start elsewhere) would go
    uncounted; the work does not depend on the thread count."""
    totals = {}
    for fn in ("render_forward_cpu", "render_backward_cpu"):
        out = tmp / f"callgrind.{fn}"
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}"]
        cmd += [f"--toggle-collect=texgs::{fn}*", str(exe), str(workload), "--repeat", "1"]
        cmd += ["--threads", "1", "--no-warm"]
        subprocess.run(cmd, check=True, capture_output=True)
        summary = next(ln for ln in out.read_text().splitlines() if ln.startswith("summary:"))
        totals[fn] = int(summary.split()[1])
        out.unlink()
    forward = totals["render_forward_cpu"] // 2  # one inference, one training forward
    backward = totals["render_backward_cpu"]
    return {"forward": forward, "backward": backward, "forward_backward": forward + backward}


def _summary(wall: list, cpu: list) -> dict:
    return {
        "wall_ms_median": round(statistics.median(wall), 2),
        "wall_ms_min": round(min(wall), 2),
        "cpu_ms_median": round(statistics.median(cpu), 2),
        "cpu_ms_min": round(min(cpu), 2),
    }


def _read_dump(path: Path, w: dict) -> dict:
    import numpy as np

    n, c = w["params"]["values"].shape
    sizes = {"out": w["height"] * w["width"] * c, "means": 2 * n, "inv_scales": 2 * n, "rotations": n, "values": n * c}
    flat = np.fromfile(path, dtype="<f4")
    parts, at = {}, 0
    for name, size in sizes.items():
        parts[name] = flat[at : at + size]
        at += size
    return parts


def _difference(old: dict, new: dict) -> dict:
    import numpy as np

    diff = {"out_max_abs": float(np.abs(old["out"] - new["out"]).max(initial=0.0))}
    for name in NAMES:
        scale = max(float(np.abs(new[name]).max(initial=0.0)), 1e-30)
        diff[f"grad_{name}_max_rel"] = float(np.abs(old[name] - new[name]).max(initial=0.0)) / scale
    diff["bit_identical"] = all(np.array_equal(old[k], new[k]) for k in old)
    return diff


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", default="main", help="commit whose renderer is the baseline (default main)")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--channels", type=int, default=9)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--gaussians", default="fit", help='"fit" (a default fit\'s count and shapes) or a count')
    ap.add_argument(
        "--full-size",
        type=int,
        help="with --gaussians fit: a FULL_SIZE^2 fit's Gaussians scaled to --size (a fit's coarse levels)",
    )
    ap.add_argument("--from", dest="from_file", help="render the Gaussians of this packed .texgs file instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per side and round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating old / new rounds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--instructions", action="store_true", help="also count instructions (valgrind callgrind, one thread)"
    )
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "render-bench"))
    args = ap.parse_args(argv)

    from texgs import bench

    exes = build_harnesses(args.old, Path(args.build_dir))
    w = make_workload(args)
    p = w["params"]
    keys = ("forward_wall_ms", "forward_cpu_ms", "forward_backward_wall_ms", "forward_backward_cpu_ms")
    times = {side: {k: [] for k in keys} for side in exes}
    with tempfile.TemporaryDirectory(prefix="texgs-render-bench-") as tmp_name:
        tmp = Path(tmp_name)
        workload = tmp / "workload.bin"
        write_workload(w, workload)
        for r in range(args.rounds):  # alternate, so load changes hit both sides alike
            for side, exe in exes.items():
                got = run_harness(exe, workload, args.repeat, args.threads, tmp / f"{side}.f32" if r == 0 else None)
                for k in keys:
                    times[side][k] += got[k]
        difference = _difference(_read_dump(tmp / "old.f32", w), _read_dump(tmp / "new.f32", w))
        instructions = (
            {side: count_instructions(exe, workload, tmp) for side, exe in exes.items()} if args.instructions else None
        )
    result = {
        "benchmark": "render_old_vs_new",
        "command": "python benchmarks/render_bench.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "old_commit": _git("rev-parse", "--short", f"{args.old}^{{commit}}"),
        "new_commit": _git("rev-parse", "--short", "HEAD")
        + ("+changes" if _git("status", "--porcelain", "--untracked-files=no") else ""),
        "workload": {
            "name": w["name"],
            "height": w["height"],
            "width": w["width"],
            "channels": int(p["values"].shape[1]),
            "k": w["k"],
            "gaussians": int(p["means"].shape[0]),
            "sigma_texels_median": round(float((1.0 / p["inv_scales"]).median()), 2),
        },
        "threads": args.threads,
        "calls_per_side": args.repeat * args.rounds,
        "machine": bench.machine_info(),
        "note": "wall time is contended on a shared machine; cpu_ms is process CPU time summed over threads",
    }
    for side in exes:
        t = times[side]
        result[side] = {
            "forward": _summary(t["forward_wall_ms"], t["forward_cpu_ms"]),
            "forward_backward": _summary(t["forward_backward_wall_ms"], t["forward_backward_cpu_ms"]),
        }
    result["cpu_speedup"] = {
        name: round(result["old"][name]["cpu_ms_median"] / result["new"][name]["cpu_ms_median"], 2)
        for name in ("forward", "forward_backward")
    }
    result["old_vs_new_difference"] = difference
    if instructions:
        result["instructions"] = instructions
        result["instructions_ratio"] = {
            name: round(instructions["old"][name] / max(instructions["new"][name], 1), 2)
            for name in ("forward", "forward_backward")
        }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
