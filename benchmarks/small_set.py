"""Write corpus materials area-downsampled to SIDE texels on their longer side
(OpenCV INTER_AREA, PNG), keeping the corpus's source/material folder names, so
`texgs compare` and `texgs bake` measure small textures under the same names.

    python benchmarks/small_set.py OUT --side 256 [--materials polyhaven/wooden_crate_01 ...]
    python benchmarks/small_set.py OUT --side 512 --others 12   # 12 non-benchmark materials

Default materials: the corpus README's 12-material benchmark set. `--others N`
takes instead the first N corpus materials outside it (sorted by name), N = 0
for all of them. Maps already at or below SIDE are copied as PNG unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_bench import BENCHMARK_SET  # noqa: E402  (the corpus README's 12, one list)
from size_cost import resize_maps  # noqa: E402


def corpus_root() -> Path:
    env = os.environ.get("TEXGS_CORPUS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def other_materials(root: Path) -> list[str]:
    """Every material folder of the corpus outside the benchmark set, sorted."""
    out = []
    for src in sorted(p for p in root.iterdir() if p.is_dir()):
        for m in sorted(p for p in src.iterdir() if p.is_dir()):
            key = f"{src.name}/{m.name}"
            if key not in BENCHMARK_SET:
                out.append(key)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--side", type=int, required=True)
    ap.add_argument("--materials", nargs="*", default=None)
    ap.add_argument("--others", type=int, default=None, help="first N non-benchmark materials (0 = all)")
    ap.add_argument("--corpus", type=Path, default=None)
    a = ap.parse_args()
    root = a.corpus or corpus_root()
    names = a.materials or (
        (other_materials(root)[: a.others or None]) if a.others is not None else list(BENCHMARK_SET)
    )
    for key in names:
        dst = a.out / key
        if dst.exists():
            continue
        resize_maps(root / key, dst, a.side)
        print(dst)


if __name__ == "__main__":
    main()
