"""Library entry point of `texgs compare` (kept out of __init__.py so that it also imports
through an editable install made before this package existed, which skips __init__)."""

from __future__ import annotations

from pathlib import Path

from .run import MaterialResult, Settings, compare_material

def compare(inputs: list[str | Path], settings: Settings, out_dir: str | Path,
            log=lambda msg: None) -> tuple[list[MaterialResult], dict]:
    """Run every method on every material found under `inputs` and write the report.
    Returns (results, {"json"|"csv"|"html": path})."""
    from .material import load_materials
    from .report import write_report

    results = []
    for p in inputs:
        for material in load_materials(p):
            results.append(compare_material(material, settings, log))
    encoders: dict[str, str] = {}
    notes: list[str] = []
    for r in results:
        for row in r.rows:
            encoders.setdefault(row["method"], row["encoder"])
        for n in r.notes:
            if n not in notes and "skipped" in n:
                notes.append(n)
    files = write_report(out_dir, results, settings, notes, encoders)
    return results, files
