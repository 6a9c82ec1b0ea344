"""Build the OUTSIDE set: materials texgs's defaults were not chosen on, for checking that a default generalises.

    python benchmarks/outside_set.py OUT [--max-side 1024] [--per-package 8] \
        [--packages nexuiz-textures,nexuiz-data,redeclipse-data] [--cache /tmp/texgs-outside-cache] [--corpus DIR] \
        [--corpus-count N] [--no-corpus] [--no-games] [--min-side 256]

Two parts, each a folder under OUT that `texgs compare` / `texgs bake` take as they are:

- ``OUT/corpus/<source>/<material>``: every corpus material outside the benchmark set
  (the corpus README's 12, ``fit_bench.BENCHMARK_SET``), as a folder of symbolic links to its
  maps, or, when its largest map is over --max-side, its maps area-downsampled
  (--corpus-count N: N of them, evenly spaced through the sorted list as below).
- ``OUT/<package>/<key>``: game materials from Debian game data packages. Each package is
  fetched with ``apt-get download`` into --cache and unpacked there (``dpkg-deb -x``; the
  game archives inside, ``.pk3``/``.zip``/``.wz``, are unpacked too, image members only).
  Materials are found by ``texgs.ingest.discover`` (the discovery ``texgs bake`` uses, with
  each game's naming convention, docs/ingest.md); a *candidate* is a material with a colour
  map and a normal map whose colour map is at least --min-side texels on its shorter side.
  Candidates are sorted by key and --per-package N of them picked evenly spaced through
  that list (the middle of each of N equal slices), so the pick spreads over the
  package's folders and is the same on every run. Each picked material's files are copied
  (or downsampled) into its own folder, and discovery run again there must find the same
  material with the same roles. The folder is the material's key inside the game archive
  that held it (or below ``usr/share/games/<game>/``).

Downsampling (a material whose largest map is over --max-side): every map of the material
scales by the same factor, so maps keep their relative sizes, with the ingest resampler's
shrink filter (``texgs.ingest.load.SHRINK_FILTER``, an area average), in float, rounded to
the file's bit depth and written as PNG under the same stem.

The downloaded packages stay in --cache (outside the repository); nothing from them is meant
to be committed. Each package's licence is its ``usr/share/doc/<package>/copyright``, copied
to ``OUT/<package>/copyright``. Prints a JSON summary of what was built.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from small_set import corpus_root, other_materials  # noqa: E402  (the corpus outside the benchmark set, one list)

from texgs.errors import InputError  # noqa: E402
from texgs.ingest import discover  # noqa: E402
from texgs.ingest.load import SHRINK_FILTER  # noqa: E402
from texgs.ingest.readers import read_header, read_image  # noqa: E402
from texgs.ingest.roles import IMAGE_EXTENSIONS, MAP_KINDS  # noqa: E402

#: Darkplaces (map textures; models) and Cube 2 names. 0ad-data ships its textures as DDS, which texgs
#: does not read, and openarena-data names its maps in .shader scripts: neither gives a candidate.
DEFAULT_PACKAGES = ("nexuiz-textures", "nexuiz-data", "redeclipse-data")
ARCHIVES = (".pk3", ".zip", ".wz")
SUMMARY_NAME = "outside_set.json"  # the printed summary, also kept in OUT (read by --table)
COLOUR_KINDS = {"albedo", "albedo_height"}


def has_normal(kind: str) -> bool:
    """True when a file of this map kind carries a normal map."""
    mk = MAP_KINDS.get(kind)
    return mk is not None and any(group == "normal" for _, group in mk.layout)


def is_candidate(source, min_side: int) -> bool:
    """A material with a colour map and a normal map, the colour map >= min_side on its shorter side."""
    if source.error is not None:
        return False
    colour = [f for f in source.files if f.kind in COLOUR_KINDS]
    if len(colour) != 1 or not any(has_normal(f.kind) for f in source.files):
        return False
    try:
        h = read_header(colour[0].path)
    except InputError:
        return False
    return min(h.width, h.height) >= min_side


def spread(items: list, n: int) -> list:
    """n items evenly spaced through a list: the middle item of each of n equal slices (all when n >= len)."""
    if n >= len(items):
        return list(items)
    return [items[(2 * i + 1) * len(items) // (2 * n)] for i in range(n)]


def select(tree: Path, per_package: int, min_side: int) -> tuple[list, int]:
    """(the picked materials of a folder tree, number of candidates)."""
    candidates = sorted((s for s in discover(tree) if is_candidate(s, min_side)), key=lambda s: s.key)
    return spread(candidates, per_package), len(candidates)


def _write_png(path: Path, pixels: np.ndarray, channels: tuple[str, ...], bits: int) -> None:
    """pixels [H, W, C] in [0, 1], channels Y / YA / RGB / RGBA, written as an 8- or 16-bit PNG."""
    import cv2

    letters = "".join(c[-1] for c in channels)
    if bits == 16 and letters != "YA":
        data = np.round(np.clip(pixels, 0, 1) * 65535).astype(np.uint16)
        if letters in ("RGB", "RGBA"):
            data = data[:, :, [2, 1, 0, 3][: len(letters)]]  # OpenCV writes BGR(A)
        cv2.imwrite(str(path), data[:, :, 0] if letters == "Y" else data)
        return
    from PIL import Image

    data = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    mode = {"Y": "L", "YA": "LA", "RGB": "RGB", "RGBA": "RGBA"}[letters]
    Image.fromarray(data[:, :, 0] if mode == "L" else data, mode).save(path)


def write_material(files: list[Path], dst: Path, max_side: int) -> dict:
    """Copy a material's map files into dst, or downsample them all by one factor when the
    largest is over max_side. Returns {"size": [W, H] of the largest map after, "downsampled": bool}."""
    import cv2

    headers = [read_header(f) for f in files]
    largest = max(max(h.width, h.height) for h in headers)
    factor = min(1.0, max_side / largest)
    dst.mkdir(parents=True)
    if factor == 1.0:
        for f in files:
            shutil.copyfile(f, dst / f.name)
    else:
        for f, h in zip(files, headers, strict=True):
            _, pixels = read_image(f, h)
            w, hh = max(1, round(h.width * factor)), max(1, round(h.height * factor))
            out = cv2.resize(pixels, (w, hh), interpolation=getattr(cv2, SHRINK_FILTER))
            if out.ndim == 2:
                out = out[:, :, None]
            _write_png(dst / (f.stem + ".png"), out, h.channels, h.bits if not h.is_float else 16)
    top = max(headers, key=lambda h: h.width * h.height)
    return {
        "size": [max(1, round(top.width * factor)), max(1, round(top.height * factor))],
        "downsampled": factor < 1.0,
    }


def roles(source) -> list[list[str]]:
    """[[file name stem, kind], ...] sorted: what discovery made of a material, independent of extension."""
    return sorted([f.path.stem, f.kind] for f in source.files)


def place(source, dst: Path, max_side: int) -> dict:
    """Write one discovered material into dst and check that discovery there finds it unchanged."""
    info = write_material([f.path for f in source.files], dst, max_side)
    again = discover(dst)
    if len(again) != 1 or roles(again[0]) != roles(source):
        raise SystemExit(f"{dst}: discovery finds {[roles(s) for s in again]}, expected {roles(source)}")
    return {"key": source.key, "files": roles(source), **info}


def fetch_package(package: str, cache: Path) -> tuple[Path, str]:
    """(the unpacked tree of a Debian package under cache, its version): apt-get download and
    dpkg-deb -x once, then game archives unpacked (image members only); reused when present."""
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", package], cwd=cache, check=True, stdout=subprocess.DEVNULL)
        debs = sorted(cache.glob(f"{package}_*.deb"))
    deb = debs[-1]
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = cache / f"{package}_{version}"
    if not tree.exists():
        part = tree.with_name(tree.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(part / "root")], check=True)
        for archive in sorted((part / "root").rglob("*")):
            if archive.suffix.lower() in ARCHIVES and archive.is_file():
                target = part / "archives" / archive.relative_to(part / "root")
                with zipfile.ZipFile(archive) as z:
                    members = [m for m in z.namelist() if m.lower().endswith(IMAGE_EXTENSIONS)]
                    z.extractall(target, members)
                archive.unlink()  # its images are under archives/
        part.rename(tree)
    return tree, version


def short_key(key: str) -> str:
    """A material's folder name under OUT/<package>: its key from inside the game archive that held
    it (``textures/eX/eX_wall_01``), or from below ``usr/share/games/<game>/``."""
    parts = key.split("/")[1:]  # "root/..." or "archives/..."
    inside = [i for i, p in enumerate(parts) if p.lower().endswith(ARCHIVES)]
    if inside:
        return "/".join(parts[inside[-1] + 1 :])
    if parts[:3] == ["usr", "share", "games"]:
        return "/".join(parts[4:])
    return "/".join(parts)


def build_corpus(root: Path, out: Path, max_side: int, count: int = 0) -> list[dict]:
    """The corpus materials outside the benchmark set (count > 0: that many, evenly spaced) under out."""
    keys = other_materials(root)
    rows = []
    for key in spread(keys, count) if count else keys:
        src, dst = root / key, out / key
        images = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        largest = max(max(h.width, h.height) for h in map(read_header, images))
        if dst.exists() or dst.is_symlink():
            pass
        elif largest <= max_side:  # a folder of links to the maps (discovery does not walk linked folders)
            dst.mkdir(parents=True)
            for image in images:
                (dst / image.name).symlink_to(image.resolve())
        else:
            write_material(images, dst, max_side)
        rows.append({"key": key, "largest_side": min(largest, max_side), "downsampled": largest > max_side})
    return rows


def build_package(package: str, cache: Path, out: Path, per_package: int, min_side: int, max_side: int) -> dict:
    tree, version = fetch_package(package, cache)
    picked, n = select(tree, per_package, min_side)
    dst_root = out / package
    names = [short_key(s.key) for s in picked]
    if len(set(names)) < len(names):  # two archives hold one path: keep the whole keys
        names = [s.key for s in picked]
    rows = []
    for source, name in zip(picked, names, strict=True):
        dst = dst_root / name
        if dst.exists():
            shutil.rmtree(dst)
        rows.append({"folder": name, **place(source, dst, max_side)})
    copyright_file = tree / "root" / "usr" / "share" / "doc" / package / "copyright"
    if copyright_file.exists():
        dst_root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, dst_root / "copyright")
    return {"version": version, "candidates": n, "picked": rows}


def _sources(out: Path) -> dict[str, tuple[str, str]]:
    """material name as `texgs compare` reports it (its folder and the folder above) -> (part, source)."""
    summary = json.loads((out / SUMMARY_NAME).read_text())
    keys = {r["key"]: ("corpus", r["key"].split("/")[0]) for r in summary.get("corpus", [])}
    for package, p in summary.get("packages", {}).items():
        keys.update(
            {"/".join(r["folder"].split("/")[-2:]): ("games", f"{package} {p['version']}") for r in p["picked"]}
        )
    return keys


def _stats(values: list[float]) -> dict:
    v = sorted(values)
    return {
        "n": len(v),
        "mean": round(float(np.mean(v)), 2),
        "median": round(float(np.median(v)), 2),
        "min": round(v[0], 2),
        "max": round(v[-1], 2),
        "below_astc": sum(x < 0 for x in v),
    }


def table(out: Path, csvs: list[Path], csv_out: Path | None) -> dict:
    """Per material and rate: texgs, ASTC and BC7 PSNR (dB, all channels), texgs - ASTC, and the
    group where texgs is furthest below (or least above) ASTC; then the statistics of texgs - ASTC
    per part (corpus, games) and together. Prints Markdown tables; returns the statistics."""
    import csv

    sources = _sources(out)
    rows: dict[tuple[str, float], dict[str, dict]] = {}
    for path in csvs:
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r["psnr"]:
                    rows.setdefault((r["material"], float(r["requested_bppc"])), {})[r["method"]] = r
    lines, table_rows = [], []
    for (material, rate), by in sorted(rows.items(), key=lambda kv: (sources.get(kv[0][0], ("?", ""))[0], kv[0])):
        if not {"texgs", "ASTC"} <= by.keys():
            continue
        t, astc = by["texgs"], by["ASTC"]
        bc7 = by.get("BC7", {}).get("psnr")
        groups = {c[5:]: float(t[c]) - float(astc[c]) for c in t if c.startswith("psnr_") and t[c] and astc.get(c)}
        worst = min(groups, key=groups.__getitem__) if groups else ""
        part, source = sources.get(material, ("?", "?"))
        row = {
            "part": part,
            "source": source,
            "material": material,
            "bppc": rate,
            "size": f"{t['W']}x{t['H']}",
            "channels": int(t["C"]),
            "texgs": round(float(t["psnr"]), 2),
            "ASTC": round(float(astc["psnr"]), 2),
            "BC7": round(float(bc7), 2) if bc7 else None,
            "texgs_minus_astc": round(float(t["psnr"]) - float(astc["psnr"]), 2),
            "worst_group": worst,
            "worst_group_minus_astc": round(groups[worst], 2) if worst else None,
        }
        table_rows.append(row)
    lines.append(
        "| part | source | material | bppc | size | C | texgs | ASTC | BC7 | texgs - ASTC "
        "| worst group (texgs - ASTC) |"
    )
    lines.append("|---|---|---|---:|---|---:|---:|---:|---:|---:|---|")
    for r in table_rows:
        bc7_text = "" if r["BC7"] is None else f"{r['BC7']:.2f}"
        lines.append(
            f"| {r['part']} | {r['source']} | {r['material']} | {r['bppc']:g} | {r['size']} | {r['channels']} "
            f"| {r['texgs']:.2f} | {r['ASTC']:.2f} | {bc7_text} "
            f"| {r['texgs_minus_astc']:+.2f} | {r['worst_group']} ({r['worst_group_minus_astc']:+.2f}) |"
        )
    stats = {}
    for rate in sorted({r["bppc"] for r in table_rows}):
        at = [r for r in table_rows if r["bppc"] == rate]
        for part in ("corpus", "games", "all"):
            vals = [r["texgs_minus_astc"] for r in at if part in ("all", r["part"])]
            if vals:
                stats[f"{part}@{rate:g}"] = _stats(vals)
    lines += ["", "| part @ bppc | n | mean | median | min | max | below ASTC |", "|---|---:|---:|---:|---:|---:|---:|"]
    for k, st in stats.items():
        lines.append(
            f"| {k} | {st['n']} | {st['mean']:+.2f} | {st['median']:+.2f} | {st['min']:+.2f} | {st['max']:+.2f} "
            f"| {st['below_astc']} |"
        )
    print("\n".join(lines))
    if csv_out:
        with open(csv_out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(table_rows[0]))
            w.writeheader()
            w.writerows(table_rows)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--max-side", type=int, default=1024, help="downsample materials larger than this")
    ap.add_argument("--per-package", type=int, default=8, help="game materials picked per package")
    ap.add_argument("--packages", default=",".join(DEFAULT_PACKAGES), help="Debian game data packages")
    ap.add_argument("--min-side", type=int, default=256, help="smallest colour map side a game material may have")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/texgs-outside-cache"), help="downloaded packages")
    ap.add_argument("--corpus", type=Path, default=None, help="corpus root (default: TEXGS_CORPUS)")
    ap.add_argument("--corpus-count", type=int, default=0, help="corpus materials, evenly spaced (0 = all 44)")
    ap.add_argument("--no-corpus", action="store_true")
    ap.add_argument("--no-games", action="store_true")
    ap.add_argument(
        "--table",
        type=Path,
        nargs="+",
        default=None,
        metavar="RESULTS_CSV",
        help="instead of building: tables of `texgs compare OUT/<part> ...` results.csv files",
    )
    ap.add_argument("--csv", type=Path, default=None, help="--table: also write its rows here")
    a = ap.parse_args()
    if a.table:
        print(json.dumps(table(a.out, a.table, a.csv)))
        return
    summary: dict = {"out": str(a.out), "max_side": a.max_side, "per_package": a.per_package, "min_side": a.min_side}
    if not a.no_corpus:
        root = a.corpus or corpus_root()
        summary["corpus"] = build_corpus(root, a.out / "corpus", a.max_side, a.corpus_count)
    if not a.no_games:
        summary["packages"] = {
            p: build_package(p, a.cache, a.out, a.per_package, a.min_side, a.max_side)
            for p in a.packages.split(",")
            if p
        }
    summary["count"] = len(summary.get("corpus", [])) + sum(
        len(p["picked"]) for p in summary.get("packages", {}).values()
    )
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / SUMMARY_NAME).write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
