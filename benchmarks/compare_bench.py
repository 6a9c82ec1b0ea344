"""Cross-check `texgs compare`'s block-codec baselines against the reference table.

    python benchmarks/compare_bench.py polyhaven/wooden_crate_01 ambientcg/Bricks102 [--json out.json]

Runs BC1, BC7 and ASTC (the reference method: astcenc -thorough, blocks 4x4/6x6/8x8/12x12,
bc7enc default weights) on each named benchmark material and prints PSNR over all channels
at 0.03/0.06/0.12 bppc beside reference/block_codecs_bench.csv. Corpus: ../shared/corpus
relative to the repository, or $TEXGS_CORPUS. Slow (astcenc -thorough): run a few materials.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

from texgs.compare.material import load_materials
from texgs.compare.run import Settings, compare_material

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TEXGS_SHARED", REPO.parent / "shared"))
CORPUS = Path(os.environ.get("TEXGS_CORPUS", SHARED / "corpus"))
REFERENCE = SHARED / "reference" / "block_codecs_bench.csv"
RATES = (0.03, 0.06, 0.12)


def load_reference() -> dict[tuple[str, str], list[float]]:
    with open(REFERENCE, newline="") as f:
        return {(r["material"], r["family"]): [float(r[f"psnr@{x}"]) for x in RATES] for r in csv.DictReader(f)}


def with_stored_normals(material, folder: Path):
    """The material with its normal channels replaced by the file's stored values (n + 1) / 2,
    not renormalised. A DirectX Y flip is not undone: PSNR is the same either way."""
    import numpy as np

    from texgs import ingest
    from texgs.compare.material import Material

    (m,) = [ingest.load(src) for src in ingest.discover(folder)]
    data = material.data.copy()
    for i, ch in enumerate(m.channels):
        if ch.group == "normal":
            header, pixels = ingest.read_image(ch.source.file)
            data[..., i] = pixels[..., header.channels.index(ch.source.channel)]
    return Material(
        material.name, np.ascontiguousarray(data), material.groups, material.sources, material.ranges, material.names
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("materials", nargs="+", help="benchmark material names, e.g. polyhaven/wooden_crate_01")
    ap.add_argument("--methods", default="BC1,BC7,ASTC")
    ap.add_argument(
        "--stored-normals",
        action="store_true",
        help="measure normal maps as stored in the file (docs/METRICS.md, the reference table) "
        "instead of texgs.ingest's renormalised vectors",
    )
    ap.add_argument("--bc7-linear", action="store_true", help="bc7enc with equal channel weights")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}; set TEXGS_CORPUS", file=sys.stderr)
        return 2
    ref = load_reference()
    s = Settings(
        rates=RATES,
        methods=tuple(a.methods.split(",")),
        bc7_perceptual=not a.bc7_linear,
        threads=a.threads,
        extended_metrics=False,
    )
    out = []
    print(f"{'material':36s} {'family':6s} " + " ".join(f"{'@' + str(r):>18s}" for r in RATES))
    for name in a.materials:
        t0 = time.perf_counter()
        (material,) = load_materials(CORPUS / name)
        if a.stored_normals:
            material = with_stored_normals(material, CORPUS / name)
        res = compare_material(material, s)
        for fam in s.methods:
            ours = [
                next(r.get("psnr") for r in res.rows if r["method"] == fam and r["requested_bppc"] == x) for x in RATES
            ]
            theirs = ref.get((name, fam))
            cells = []
            for k in range(len(RATES)):
                o = "  n/a" if ours[k] is None else f"{ours[k]:5.2f}"
                if theirs and ours[k] is not None:
                    cells.append(f"{o} ({theirs[k]:5.2f} {ours[k] - theirs[k]:+5.2f})")
                else:
                    cells.append(f"{o:>18s}")
            print(f"{name:36s} {fam:6s} " + " ".join(f"{c:>18s}" for c in cells), flush=True)
            out.append({"material": name, "family": fam, "ours": ours, "reference": theirs})
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
