"""The table ``texgs inspect`` prints: per material, every channel with its
file, source channel, role, colour space and resolution, so a user can check
what texgs understood before baking. Built from headers (``scan``)."""

from __future__ import annotations

from pathlib import Path

from .load import load_all
from .material import MaterialError, MaterialInfo


def describe_dict(path: str | Path, resample: bool = True) -> dict:
    """The table as plain data (for ``--json``):
    {"path": str, "materials": [{"name", "key", "folder", "width", "height",
    "num_channels", "channels": [{"index", "role", "group", "colour_space",
    "file", "source_channel", "resolution", "weight", "note"}], "notes",
    "warnings"} or {"name", "key", "folder", "error"}]}."""
    out = []
    for m in load_all(path, resample=resample, header_only=True):
        if isinstance(m, MaterialError):
            out.append({"name": m.name, "key": m.key, "folder": str(m.folder), "error": m.message})
            continue
        assert isinstance(m, MaterialInfo)
        out.append(
            {
                "name": m.name,
                "key": m.key,
                "folder": str(m.folder),
                "width": m.width,
                "height": m.height,
                "num_channels": m.num_channels,
                "channels": [
                    {
                        "index": i,
                        "role": c.name,
                        "group": c.group,
                        "colour_space": c.colour_space,
                        "file": str(c.source.file),
                        "source_channel": c.source.channel,
                        "resolution": f"{c.source.size[0]}x{c.source.size[1]}",
                        "weight": c.source.weight,
                        "note": c.source.note,
                    }
                    for i, c in enumerate(m.channels)
                ],
                "notes": list(m.notes),
                "warnings": list(m.warnings),
            }
        )
    return {"path": str(path), "materials": out}


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def describe(path: str | Path, resample: bool = True) -> str:
    """Human-readable table of every material under ``path`` (see describe_dict)."""
    return format_table(describe_dict(path, resample))


def error_count(data: dict) -> int:
    """Materials of a describe_dict() result that could not be ingested."""
    return sum("error" in m for m in data["materials"])


def format_table(data: dict) -> str:
    """The text of ``describe`` from a describe_dict() result."""
    lines: list[str] = []
    for m in data["materials"]:
        if lines:
            lines.append("")
        if "error" in m:
            lines.append(f"{m['key']}: ERROR: {m['error']}")
            continue
        lines.append(f"{m['key']}: {m['width']}x{m['height']}, {m['num_channels']} channels (folder {m['folder']})")
        rows = [["#", "role", "group", "space", "file", "ch", "size", "weight", "note"]]
        for c in m["channels"]:
            rows.append(
                [
                    str(c["index"]),
                    c["role"],
                    c["group"],
                    c["colour_space"],
                    Path(c["file"]).name,
                    c["source_channel"],
                    c["resolution"],
                    f"{c['weight']:g}",
                    c["note"],
                ]
            )
        lines += _table(rows)
        lines += [f"  note: {n}" for n in m["notes"]]
        lines += [f"  warning: {w}" for w in m["warnings"]]
    ok = sum("error" not in m for m in data["materials"])
    lines.append("")
    lines.append(f"{len(data['materials'])} material(s), {ok} ok, {len(data['materials']) - ok} with errors")
    return "\n".join(lines)
