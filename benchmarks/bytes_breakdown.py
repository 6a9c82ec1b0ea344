"""Where the bytes of a .texgs file go, beside texgs's PSNR against the best ASTC.

    python benchmarks/bytes_breakdown.py REPORT_DIR [REPORT_DIR ...] [--json OUT.json] [--markdown]
    python benchmarks/bytes_breakdown.py --ab OLD_DIR NEW_DIR --astc ASTC_DIR [...]   # two code versions

REPORT_DIR is a `texgs compare ... --methods texgs,ASTC -o REPORT_DIR` report:
its results.json gives each row's PSNR (texgs measured, ASTC interpolated on
its frontier, docs/compare.md) and download sizes (zstd level 19), and
texgs/<material>@<rate>bppc.texgs the packed file each texgs row measured.
Each file is split by its section table (docs/FORMAT.md) into header (fixed
header and section table), channel table, index, palettes, records, names,
any other section, and alignment padding; the parts add up to the file.
Prints one JSON object per file (or a markdown table with --markdown); --json
writes them all as a list. --ab: the texgs rows of two reports of the same materials
(e.g. two commits' `texgs compare --methods texgs`) side by side, with each file's Gaussian
count and index bytes and the ASTC rows of the --astc reports: a markdown table, then
per rate the means and the number of materials below ASTC. With several reports (e.g. one per size), a later
one's row replaces an earlier one's for the same material, size and rate.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from texgs.format import layout as L
from texgs.format import mip_tail, reader

PART_OF = L.SECTION_LABELS
PARTS = ("header", "channels", "index", "palettes", "records", "names", "mip_tail", "other", "padding")


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def breakdown(data: bytes) -> dict:
    """{part: bytes} of one packed file (PARTS), plus its Gaussian count, records' bits and levels."""
    p = reader.unpack(data)
    parts = dict.fromkeys(PARTS, 0)
    parts["header"] = L.HEADER_BYTES + 4 * L.SECTION_ENTRY_WORDS * len(p.sections)
    for s in p.sections:
        parts[PART_OF.get(s.id, "other")] += s.size
    parts["padding"] = len(data) - sum(parts.values())
    h = p.header
    return {
        "bytes": len(data),
        **parts,
        "overhead_share": round(1.0 - parts["records"] / len(data), 4),
        "gaussians": h["gaussian_count"],
        "record_bits": h["record_bits"],
        "levels": h["levels"],
        "strip_height": h["strip_height"],
        "palette_count": h["palette_count"],
    }


def planned(root: Path, rates: list[float], changes: dict) -> list[dict]:
    """The breakdown of the files the default fit (plus FitConfig `changes`) would write for
    every material under root at each rate, from the exact layout (texgs.fit.rate.plan_file,
    texgs.format.layout), without fitting: the same bytes texgs compare's fits write."""
    from texgs.compare.material import load_materials
    from texgs.fit import packing, rate
    from texgs.fit.api import _channels as fit_channels
    from texgs.fit.config import FitConfig
    from texgs.fit.schedule import make_plan

    cfg = FitConfig(**changes)
    out = []
    for folder in sorted(p for s in root.iterdir() if s.is_dir() for p in s.iterdir() if p.is_dir()):
        (m,) = load_materials(folder)
        h, w, c = m.data.shape
        metas = fit_channels(c, None, m.groups, m.names)  # as texgs compare's fit names them
        levels = packing.file_lod_levels(cfg, 1 + len(make_plan(cfg, h, w).add_steps))
        names = packing.names_bytes(metas)
        for r in rates:
            full = rate.budget_bytes(r, h, w, c)
            first = mip_tail.choose_first_level(h, w, c, full, cfg.mip_tail) if cfg.mip_tail > 0 else None
            reserved = 0 if first is None else mip_tail.file_bytes(h, w, c, first)
            q0 = packing.quant_config(cfg, h, w)
            _, q, n = rate.plan_file(r, cfg, q0, metas, h, w, levels, reserved=reserved)
            n = min(n, rate.useful_gaussians(h, w))
            sizes = L.section_sizes(n, c, h, q, levels)
            if first is not None:
                sizes[L.SECTION_MIP_TAIL] = mip_tail.section_bytes(h, w, c, first)
            parts = dict.fromkeys(PARTS, 0)
            parts["header"] = L.HEADER_BYTES + 4 * L.SECTION_ENTRY_WORDS * (len(sizes) + (1 if names else 0))
            for sid, size in sizes.items():
                parts[PART_OF[sid]] += size
            parts["names"] = names
            total = packing.size_bound(n, metas, h, w, q, levels) + reserved
            parts["padding"] = total - sum(parts.values())
            out.append(
                {
                    "material": m.name,
                    "size": f"{w}x{h}",
                    "C": c,
                    "requested_bppc": r,
                    "bytes": total,
                    **parts,
                    "overhead_share": round(1.0 - parts["records"] / total, 4),
                    "gaussians": n,
                    "record_bits": q.record_bits(c),
                    "levels": levels,
                    "strip_height": q.strip_height,
                    "palette_count": len(q.palettes),
                    "planned": True,
                }
            )
    return out


def rows_of(report: Path) -> list[dict]:
    doc = json.loads((report / "results.json").read_text())
    out = []
    for m in doc["materials"]:
        by = {(r["method"], r["requested_bppc"]): r for r in m["rows"]}
        for (method, rate), row in sorted(by.items()):
            if method != "texgs" or row.get("psnr") is None:
                continue
            path = report / "texgs" / f"{slug(m['material'])}@{rate:g}bppc.texgs"
            astc = by.get(("ASTC", rate), {})
            rec = {
                "material": m["material"],
                "size": f"{m['W']}x{m['H']}",
                "C": m["C"],
                "requested_bppc": rate,
                "bppc": row["bppc"],
                "psnr_texgs": row["psnr"],
                "psnr_astc": astc.get("psnr"),
                "texgs_minus_astc": None if astc.get("psnr") is None else row["psnr"] - astc["psnr"],
                "download_bytes_texgs": row.get("download_bytes"),
                "download_bppc_texgs": row.get("download_bppc"),
                "download_bppc_astc": astc.get("download_bppc"),
                "encoder": row.get("encoder"),
            }
            rec.update(breakdown(path.read_bytes()))
            out.append(rec)
    return out


def markdown(rows: list[dict]) -> str:
    head = (
        "| material | size x C | bppc | bytes | header | channels | index | palettes | names | pad | "
        "records | not records | texgs dB | ASTC dB | texgs - ASTC |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        d = r.get("texgs_minus_astc")
        lines.append(
            f"| {r['material']} | {r['size']} x {r['C']} | {r['requested_bppc']:g} | {r['bytes']:,} | {r['header']} | "
            f"{r['channels']} | {r['index']} | {r['palettes']} | {r['names']} | {r['padding']} | {r['records']:,} | "
            f"{100 * r['overhead_share']:.1f}% | "
            + (f"{r['psnr_texgs']:.2f} | " if r.get("psnr_texgs") is not None else " | ")
            + (f"{r['psnr_astc']:.2f} | {d:+.2f} |" if d is not None else " | |")
        )
    return "\n".join(lines)


def downloads(rows: list[dict]) -> str:
    """Markdown: in-memory and zstd (download) rate of texgs and of the ASTC row, and the saving."""
    head = (
        "| material | size x C | bppc | texgs bytes | texgs .zst bytes | texgs saving | "
        "ASTC download bppc | ASTC saving |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        dt, da = r.get("download_bytes_texgs"), r.get("download_bppc_astc")
        if dt is None:
            continue
        astc = f"{da:.4f} | {100 * (1 - da / r['requested_bppc']):.1f}% |" if da is not None else " | |"
        lines.append(
            f"| {r['material']} | {r['size']} x {r['C']} | {r['requested_bppc']:g} | {r['bytes']:,} | {dt:,} | "
            f"{100 * (1 - dt / r['bytes']):.1f}% | " + astc
        )
    return "\n".join(lines)


def ab_table(old: Path, new: Path, astc_reports: list[Path]) -> str:
    """Markdown: per material and rate, old and new texgs (dB, Gaussians, index bytes), the
    best ASTC and new - ASTC; then per rate the means and the counts below ASTC."""
    astc: dict = {}
    for rep in astc_reports:
        for m in json.loads((rep / "results.json").read_text())["materials"]:
            for r in m["rows"]:
                if r["method"] == "ASTC" and r.get("psnr") is not None:
                    astc[(m["material"], f"{m['W']}x{m['H']}", r["requested_bppc"])] = r["psnr"]
    a = {(r["material"], r["size"], r["requested_bppc"]): r for r in rows_of(old)}
    b = {(r["material"], r["size"], r["requested_bppc"]): r for r in rows_of(new)}
    head = (
        "| material | size x C | bppc | Gaussians old -> new | index bytes old -> new | old dB | new dB | "
        "new - old | ASTC dB | old - ASTC | new - ASTC |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    by_rate: dict = {}
    for key in sorted(set(a) & set(b), key=lambda k: (k[2], k[1], k[0])):
        ra, rb, x = a[key], b[key], astc.get(key)
        d = rb["psnr_texgs"] - ra["psnr_texgs"]
        vs = (f"{x:.2f} | {ra['psnr_texgs'] - x:+.2f} | {rb['psnr_texgs'] - x:+.2f} |") if x is not None else " | | |"
        lines.append(
            f"| {key[0]} | {rb['size']} x {rb['C']} | {key[2]:g} | {ra['gaussians']} -> {rb['gaussians']} | "
            f"{ra['index']} -> {rb['index']} | {ra['psnr_texgs']:.2f} | {rb['psnr_texgs']:.2f} | {d:+.2f} | " + vs
        )
        by_rate.setdefault(key[2], []).append((ra["psnr_texgs"], rb["psnr_texgs"], x))
    lines.append("")
    for rate, vals in sorted(by_rate.items()):
        n = len(vals)
        mo, mn = sum(v[0] for v in vals) / n, sum(v[1] for v in vals) / n
        line = f"{rate:g} bppc, {n} materials: old {mo:.2f} dB, new {mn:.2f} dB ({mn - mo:+.2f})"
        with_astc = [v for v in vals if v[2] is not None]
        if with_astc:
            k = len(with_astc)
            mx = sum(v[2] for v in with_astc) / k
            below_old = sum(v[0] < v[2] for v in with_astc)
            below_new = sum(v[1] < v[2] for v in with_astc)
            line += f"; ASTC {mx:.2f} over {k}; below ASTC: old {below_old}, new {below_new}"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="*", type=Path)
    ap.add_argument("--plan", type=Path, help="also: the planned layout of every material under this folder")
    ap.add_argument("--rates", type=float, nargs="+", default=[0.03, 0.06, 0.12], help="rates of --plan")
    ap.add_argument("--fit", default="{}", help="FitConfig changes (JSON) of --plan, e.g. '{\"strip_height\": 0}'")
    ap.add_argument("--json", type=Path, help="write all rows to this file")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table instead of JSON lines")
    ap.add_argument("--downloads", action="store_true", help="print the download-size markdown table")
    ap.add_argument(
        "--by-shape",
        action="store_true",
        help="one row per (size, channels, rate): the layout depends on nothing else (names aside)",
    )
    ap.add_argument("--ab", type=Path, nargs=2, metavar=("OLD", "NEW"), help="two reports side by side")
    ap.add_argument("--astc", type=Path, nargs="*", default=[], help="with --ab: reports holding the ASTC rows")
    a = ap.parse_args()
    if a.ab:
        print(ab_table(a.ab[0], a.ab[1], a.astc))
        return
    merged: dict = {}
    if a.plan:
        for r in planned(a.plan, a.rates, json.loads(a.fit)):
            merged[(r["material"], r["size"], r["requested_bppc"])] = r
    for rep in a.reports:
        for r in rows_of(rep):
            merged[(r["material"], r["size"], r["requested_bppc"])] = r
    rows = list(merged.values())
    if a.by_shape:
        shapes: dict = {}
        for r in rows:
            shapes.setdefault((r["size"], r["C"], r["requested_bppc"]), {**r, "material": "(any)"})
        rows = sorted(shapes.values(), key=lambda r: (-r["C"], r["size"], r["requested_bppc"]))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    if a.markdown:
        print(markdown(rows))
    if a.downloads:
        print(downloads(rows))
    if not (a.markdown or a.downloads):
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
