"""How many materials of real game texture folders texgs ingests correctly, without a manifest.

    python benchmarks/ingest_survey.py NAME=FOLDER [NAME=FOLDER ...] [--json OUT] [--misses N]

Each FOLDER is walked; a *material* is a colour map plus at least one other map,
found by the games' naming conventions below, which are stated here
independently of texgs's own name table (texgs/ingest/roles.py) so that the
survey checks it. A map ``X_<suffix>`` belongs to the colour map ``X``, or,
failing that, ``X_c``, ``X_cc``, ``X_d``, ``X_diffuse`` (first found):

- Darkplaces / Quake / Nexuiz / Xonotic (the engine's own texture lookup):
  ``_norm`` normal, ``_gloss`` gloss, ``_glow`` and ``_luma`` emissive,
  ``_bump`` height, ``_pants``, ``_shirt``;
- Cube 2 / Sauerbraten / Red Eclipse: ``_n``/``_nm`` normal, ``_s``/``_sc``
  specular, ``_z``/``_hm`` height, ``_g`` emissive;
- id Tech 4 (also used by Red Eclipse): ``_local`` normal, ``_h`` height;
- Warzone 2100: ``_nm``, ``_sm`` specular, ``_hm``, ``_tcmask`` team mask; a
  texture page's mask is named by the page number alone: ``page-N_tcmask``
  belongs to ``page-N-<name>``.

A base found in several formats is the one the engines load first (TGA, PNG,
then JPEG). A material is *correct* when `texgs.ingest` puts all its files in
one material with no error, the albedo channels come from the base file, and
every map gives its group (normal, gloss, emissive, height, ...) from that map
file; extra channels (e.g. a height from a normal map's alpha where there is no
bump map) are allowed. Prints a JSON report, then the misses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

EXTENSIONS = (".tga", ".png", ".jpg", ".jpeg")  # engine load order: the first found is used
COLOUR_SUFFIXES = ("", "c", "cc", "d", "diffuse")
MAPS = {  # map suffix -> texgs channel group
    "norm": "normal",
    "gloss": "gloss",
    "glow": "emissive",
    "luma": "emissive",
    "bump": "height",
    "pants": "pants",
    "shirt": "shirt",  # Darkplaces
    "n": "normal",
    "nm": "normal",
    "s": "specular",
    "sc": "specular",
    "z": "height",
    "hm": "height",
    "g": "emissive",  # Cube 2
    "local": "normal",
    "h": "height",  # id Tech 4
    "sm": "specular",
    "tcmask": "team_mask",  # Warzone 2100
}


def _images(folder: Path) -> dict[str, Path]:
    """lower-case name without extension -> the file the engine would load."""
    out: dict[str, Path] = {}
    for p in sorted(
        folder.iterdir(), key=lambda p: EXTENSIONS.index(p.suffix.lower()) if p.suffix.lower() in EXTENSIONS else 99
    ):
        if p.is_file() and p.suffix.lower() in EXTENSIONS:
            out.setdefault(p.stem.lower(), p)
    return out


def ground_truth(folder: Path) -> list[dict]:
    """Materials of one folder by the conventions: [{"albedo": Path, "maps": {Path: group}}]."""
    images = _images(folder)
    found: dict[Path, dict] = {}
    letters: dict[Path, bool] = {}
    for name, path in images.items():
        for suffix, group in MAPS.items():
            if not name.endswith("_" + suffix):
                continue
            stem = name[: -len(suffix) - 1]
            bases = [images.get(stem + ("_" + c if c else "")) for c in COLOUR_SUFFIXES]
            if re.fullmatch(r"page-\d+", stem):
                bases += [p for n, p in sorted(images.items()) if n.startswith(stem + "-")]
            base = next((b for b in bases if b is not None and b != path), None)
            if base is not None:
                found.setdefault(base, {"albedo": base, "maps": {}})["maps"][path] = group
                letters[path] = len(suffix) == 1
    # A one-letter map with maps of its own is a texture (X_h beside X_h_glow:
    # Darkplaces names no map with one letter); a base that is itself a map of
    # another material (X_glow beside X and X_glow_norm) is not a material.
    for e in found.values():
        e["maps"] = {p: g for p, g in e["maps"].items() if not (letters[p] and p in found)}
    maps = {p for e in found.values() for p in e["maps"]}
    return [e for b, e in sorted(found.items()) if b not in maps]


def check(truth: dict, by_file: dict[Path, object], tables: dict[str, object]) -> str | None:
    """None when texgs ingests the material as the convention says, else why not."""
    from texgs.ingest import MaterialError

    source = by_file.get(truth["albedo"])
    if source is None:
        return f"{truth['albedo'].name}: not placed in any material"
    table = tables[source.key]
    if isinstance(table, MaterialError):
        return f"error: {table.message}"
    src_of: dict[str, set[str]] = {}
    for c in table.channels:
        src_of.setdefault(c.group, set()).add(c.source.file.name)
    if src_of.get("albedo") != {truth["albedo"].name}:
        return f"albedo from {sorted(src_of.get('albedo', []))}, expected {truth['albedo'].name}"
    for path, group in truth["maps"].items():
        if path.name not in src_of.get(group, set()):
            got = sorted(g for g, s in src_of.items() if path.name in s) or ["nothing"]
            return f"{path.name}: expected {group}, gave {', '.join(got)}"
    return None


def survey(root: Path) -> dict:
    from texgs.ingest import MaterialError, discover, scan

    truths, results, dirs, images = [], [], set(), 0
    for folder, subdirs, files in os.walk(root):
        subdirs.sort()
        folder = Path(folder)
        images += sum(Path(f).suffix.lower() in EXTENSIONS for f in files)
        t = ground_truth(folder)
        if not t:
            continue
        dirs.add(folder)
        sources = [s for s in discover(folder) if s.folder == folder]
        by_file = {f.path: s for s in sources for f in s.files}
        tables = {}
        for s in sources:
            try:
                tables[s.key] = scan(s)
            except Exception as e:  # a texgs error is a miss; so is a bug, reported as such
                tables[s.key] = MaterialError(s.name, s.key, s.folder, e)
        for truth in t:
            truths.append(truth)
            results.append(check(truth, by_file, tables))
    misses = [{"material": str(t["albedo"].relative_to(root)), "why": why} for t, why in zip(truths, results) if why]
    return {
        "images": images,
        "folder_count": len(dirs),
        "materials": len(truths),
        "correct": len(truths) - len(misses),
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("packages", nargs="+", metavar="NAME=FOLDER")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--misses", type=int, default=20, help="misses printed per package (default 20)")
    args = ap.parse_args(argv)
    report = {}
    for item in args.packages:
        name, _, folder = item.partition("=")
        if not folder or not Path(folder).is_dir():
            ap.error(f"{item}: expected NAME=FOLDER with an existing folder")
        report[name] = survey(Path(folder))
    summary = {
        n: {k: v for k, v in r.items() if k != "misses"} | {"misses": len(r["misses"])} for n, r in report.items()
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    for name, r in report.items():
        for m in r["misses"][: args.misses]:
            print(f"MISS {name}: {m['material']}: {m['why']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
