"""Cost of a bake as the material grows: wall time, CPU time and peak memory of
`texgs bake --bppc 0.06` on one 9-channel material at 512^2, 1K, 2K, 4K (8K).

    python benchmarks/size_cost.py MATERIAL_DIR --sides 512 1024 2048 [--backend cpu]

The material (a folder of maps texgs ingests, square or not) is resized to each
side: area-averaged down, or mirror-tiled up (a 1K material tiled 2 x 2 is a
2K one with the same detail per texel, so cost per texel stays comparable;
upsampling would make it smoother and cheaper to fit). Each bake is its own
process; its peak resident memory and CPU time come from the kernel's
accounting of that child (wait4). Prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

TEXGS = [sys.executable, "-m", "texgs"]


def resize_maps(src: Path, dst: Path, side: int) -> None:
    """Write every map of `src` at side x (side * aspect) into `dst`."""
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tga"):
            continue
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if img is None:
            continue
        h, w = img.shape[:2]
        th, tw = max(1, round(side * h / max(h, w))), max(1, round(side * w / max(h, w)))
        if th <= h and tw <= w:
            out = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
        else:  # mirror-tile: seamless, same detail per texel
            ry, rx = -(-th // h), -(-tw // w)
            rows = [
                np.concatenate([img if (i + j) % 2 == 0 else img[:, ::-1] for j in range(rx)], 1) for i in range(ry)
            ]
            rows = [r if i % 2 == 0 else r[::-1] for i, r in enumerate(rows)]
            out = np.concatenate(rows, 0)[:th, :tw]
        cv2.imwrite(str(dst / (f.stem + ".png")), out)


def bake(material: Path, out: Path, backend: str, extra: list[str]) -> dict:
    cmd = [*TEXGS, "bake", str(material), "-o", str(out), "--bppc", "0.06", "--backend", backend, "--json", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    row = {
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2),  # ru_maxrss is in KiB on Linux
        "exit": os.waitstatus_to_exitcode(status),
    }
    if row["exit"] != 0:
        row["error"] = (stderr.strip().splitlines() or ["?"])[-1]
        return row
    report = json.loads(stdout)
    m = report["materials"][0]
    row.update({k: m.get(k) for k in ("channels", "psnr", "bppc", "bytes", "gaussians", "fit_seconds")})
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("material", type=Path)
    ap.add_argument("--sides", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--pipeline", default=None)
    args = ap.parse_args()
    extra = ["--pipeline", args.pipeline] if args.pipeline else []
    with tempfile.TemporaryDirectory(prefix="texgs-size-") as tmp:
        for side in args.sides:
            mat = Path(tmp) / f"m{side}" / args.material.name
            resize_maps(args.material, mat, side)
            h, w = cv2.imread(str(next(mat.iterdir())), cv2.IMREAD_UNCHANGED).shape[:2]
            row = {"side": side, "texels": h * w, "backend": args.backend}
            row.update(bake(mat, Path(tmp) / f"out{side}", args.backend, extra))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
