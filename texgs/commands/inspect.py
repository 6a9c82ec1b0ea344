"""`texgs inspect PATH`: a packed file's header and sections, or (for a folder or
image) the material description from texgs.ingest. Exits 2 when any material
of the folder cannot be ingested (after describing all of them)."""

from __future__ import annotations

HELP = "show a packed file's header and section sizes, or describe a material folder/image"


def add_arguments(parser):
    parser.add_argument("path", help="packed .texgs file, material folder or image")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def is_packed(path) -> bool:
    from ..format.layout import MAGIC

    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except (IsADirectoryError, FileNotFoundError, PermissionError):
        return False


def packed_report(data: bytes, name: str) -> dict:
    from ..format import layout as L
    from ..format import unpack

    p = unpack(data, name=name)
    h = p.header
    size = len(data)
    sections = [
        {
            "id": s.id,
            "name": L.SECTION_LABELS.get(s.id, "optional"),
            "offset": s.offset,
            "bytes": s.size,
            "crc32": f"{s.crc32:08x}",
            "percent": round(100.0 * s.size / size, 2),
        }
        for s in p.sections
    ]
    # Records and palettes hold the Gaussians; the rest is the file's fixed cost.
    records = sum(s["bytes"] for s in sections if s["name"] in ("records", "palettes"))
    pal_of = p.cfg.palette_of(h["channels"])
    return {
        "file": name,
        "bytes": size,
        "version": f"{h['version_major']}.{h['version_minor']}",
        "width": h["width"],
        "height": h["height"],
        "channels": h["channels"],
        "k": h["k"],
        "wrap": list(p.wrap),
        "lod_levels": h["levels"],
        "gaussians": h["gaussian_count"],
        "bppc": 8.0 * size / (h["width"] * h["height"] * h["channels"]),
        "overhead_percent": round(100.0 * (size - records) / size, 2),
        "quant": {
            "encoding": p.cfg.encoding,
            "position_bits": h["position_bits"],
            "position_y_bits": h["position_y_bits"],
            "inv_scale_bits": [h["inv_scale_exp_bits"], h["inv_scale_mant_bits"]],
            "rotation_bits": h["rotation_bits"],
            "record_bits": h["record_bits"],
            "radius": h["radius"],
            "strip_height": h["strip_height"],
            "index_bits": h["index_bits"],
            "palettes": [
                {"channels": [p.channels[c].name for c in chans], "entries": 1 << ib, "index_bits": ib}
                for chans, ib in p.cfg.palettes
            ],
        },
        "channel_table": [
            {
                "name": c.name,
                "group": c.group,
                "semantic": c.semantic,
                "colour_space": c.colour_space,
                "value_bits": b,
                "range": list(c.range),
                "background": float(bg),
                "palette": None if pal < 0 else pal,
            }
            for c, b, bg, pal in zip(p.channels, p.value_bits, p.gaussians.background, pal_of)
        ],
        "mip_tail": None
        if p.mip_tail is None
        else {"first_level": p.mip_tail.first_level, "levels": len(p.mip_tail.levels), "value_bits": 8},
        "sections": sections,
    }


def run(args) -> int:
    import json
    import pathlib

    from ..errors import InputError

    path = pathlib.Path(args.path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file() and is_packed(path):
        rep = packed_report(path.read_bytes(), str(path))
        if args.json:
            print(json.dumps(rep, indent=2))
            return 0
        q = rep["quant"]
        print(f"{rep['file']}: texgs packed material v{rep['version']}, {rep['bytes']} bytes, {rep['bppc']:.4f} bppc")
        print(
            f"  {rep['width']}x{rep['height']}, {rep['channels']} channels, K={rep['k']}, "
            f"wrap x/y={rep['wrap'][0]}/{rep['wrap'][1]}, {rep['lod_levels']} LOD level(s), "
            f"{rep['gaussians']} Gaussians"
        )
        print(
            f"  records: {q['encoding']}, {q['record_bits']} bits (x {q['position_bits']}, "
            f"y {q['position_y_bits']}{' in the strip' if q['encoding'] == 'fixed' else ''}, "
            f"inverse scale {q['inv_scale_bits'][0]}+{q['inv_scale_bits'][1]}, rotation {q['rotation_bits']}); "
            f"radius bound {q['radius']:g} texels, strips of {q['strip_height']} rows, {q['index_bits']}-bit index"
        )
        for i, pal in enumerate(q["palettes"]):
            print(
                f"  palette {i}: {pal['entries']} entries of {', '.join(pal['channels'])} "
                f"({pal['index_bits']}-bit index in each record)"
            )
        if rep["mip_tail"]:
            t = rep["mip_tail"]
            print(
                f"  mip tail: levels {t['first_level']}..{t['first_level'] + t['levels'] - 1}, {t['value_bits']} bits"
            )
        for c in rep["channel_table"]:
            where = "record" if c["palette"] is None else f"palette {c['palette']}"
            print(
                f"  channel {c['name']:16s} group {c['group'] or '-':10s} {c['semantic']:10s} "
                f"{c['colour_space']:6s} {c['value_bits']:2d} bits range [{c['range'][0]:g}, {c['range'][1]:g}] "
                f"in {where}"
            )
        for s in rep["sections"]:
            print(
                f"  section {s['name']:8s} offset {s['offset']:8d} {s['bytes']:9d} bytes ({s['percent']:5.2f}%) "
                f"crc32 {s['crc32']}"
            )
        print(
            f"  everything but the records and palettes (header, tables, index, names): "
            f"{rep['overhead_percent']:.2f}% of the file"
        )
        return 0
    try:
        from .. import ingest
    except ImportError as e:
        raise InputError(
            f"{path}: not a packed texgs file, and material description (texgs.ingest) "
            f"is not available in this build ({e})"
        ) from None
    import sys

    data = ingest.describe_dict(str(path))
    print(json.dumps(data, indent=2) if args.json else ingest.format_table(data))
    bad = ingest.error_count(data)
    if bad:
        # Like `texgs bake`: a batch with a failed material is not a success.
        print(f"texgs inspect: {bad} of {len(data['materials'])} material(s) under {path} have errors", file=sys.stderr)
        return 2
    return 0
