"""Library entry point of `texgs compare` (kept out of __init__.py so that it also imports
through an editable install made before this package existed, which skips __init__)."""

from __future__ import annotations

from pathlib import Path

from .run import MaterialResult, Settings, compare_material


def compare(inputs: list[str | Path], settings: Settings, out_dir: str | Path,
            log=lambda msg: None) -> tuple[list[MaterialResult], dict]:
    """Run every method on every material found under `inputs` and write the report.

    The report is rewritten after each material, so a long run that is stopped
    keeps every material it finished. Returns (results, {"json"|"csv"|"html": path})."""
    from .material import load_materials

    results = []
    files: dict = {}
    for p in inputs:
        for material in load_materials(p):
            results.append(compare_material(material, settings, log))
            files = _write(out_dir, results, settings)
            log(f"report updated: {len(results)} material(s) in {out_dir}")
    return results, files


def _write(out_dir, results: list[MaterialResult], settings: Settings) -> dict:
    from .report import write_report

    encoders: dict[str, str] = {}
    notes: list[str] = []
    for r in results:
        for row in r.rows:
            encoders.setdefault(row["method"], row["encoder"])
        for n in r.notes:
            if n not in notes and "skipped" in n:
                notes.append(n)
    return write_report(out_dir, results, settings, notes, encoders)
