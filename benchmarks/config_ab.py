"""Fit settings against the default on materials, at several rates, the way
`texgs compare` fits (texgs.fit.fit on the material's channels and groups, seed 0).

    python benchmarks/config_ab.py ROOT --rates 0.03 0.06 --variant strip-auto='{"strip_height": 0}'
    python benchmarks/config_ab.py ROOT --rates 0.03 --preset search [--materials a/b c/d]

ROOT is a folder of <source>/<material> folders (the corpus, or one written by
benchmarks/small_set.py). For each material and rate it prints one JSON line
per fit: the default (unless --no-default) and each --variant NAME=JSON (FitConfig
changes); with --preset search one line whose "default_psnr" is the search's own
full fit of the default settings (so no separate default fit is run) and whose
"search" holds the trials and the choice. --jsonl appends the lines to a file.
--names-section: name the channels c0, c1, ... (as a caller of texgs.fit.fit
that gives only groups does), so every file stores a NAMES section; by default
they get ingest's names, which a file does not store (docs/FORMAT.md "Channel names").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def materials_under(root: Path) -> list[str]:
    return sorted(f"{s.name}/{m.name}" for s in root.iterdir() if s.is_dir() for m in s.iterdir() if m.is_dir())


def main() -> None:
    from texgs.compare.material import load_materials
    from texgs.fit.api import fit
    from texgs.fit.config import PRESETS, Budget

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--rates", type=float, nargs="+", default=[0.06])
    ap.add_argument("--materials", nargs="*")
    ap.add_argument("--variant", action="append", default=[], help="NAME=JSON of FitConfig changes")
    ap.add_argument("--preset", default=None, help="a texgs.fit.config.PRESETS name to run (e.g. search)")
    ap.add_argument("--no-default", action="store_true")
    ap.add_argument("--changes", default="{}", help="FitConfig changes (JSON) applied to every fit")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--jsonl", type=Path)
    ap.add_argument("--names-section", action="store_true", help="c<i> channel names: every file stores them")
    a = ap.parse_args()
    variants = [] if a.no_default or a.preset == "search" else [("default", "default", {})]
    if a.preset:
        variants.append((a.preset, a.preset, {}))
    for spec in a.variant:
        name, _, changes = spec.partition("=")
        variants.append((name, "default", json.loads(changes)))
    for key in a.materials or materials_under(a.root):
        (mat,) = load_materials(a.root / key)
        for rate in a.rates:
            for name, preset, changes in variants:
                cfg = PRESETS[preset](seed=0, threads=a.threads, **{**json.loads(a.changes), **changes})
                t0 = time.perf_counter()
                names = None if a.names_section else mat.names
                r = fit(
                    mat.data, Budget(bppc=rate), cfg, groups=list(mat.groups), names=names, progress="off", label=key
                )
                row = {
                    "material": key,
                    "size": f"{mat.width}x{mat.height}",
                    "C": mat.channels,
                    "rate": rate,
                    "variant": name + (" (names section)" if a.names_section else ""),
                    "psnr": r.metrics["psnr"],
                    "bytes": len(r.data),
                    "gaussians": r.n,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
                if "search" in r.metrics:
                    s = r.metrics["search"]
                    row.update(default_psnr=s["full_fits"][0]["psnr"], chosen=s["chosen"], search=s)
                line = json.dumps(row)
                print(line, flush=True)
                if a.jsonl:
                    with open(a.jsonl, "a") as f:
                        f.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
