"""Library entry point of `texgs compare` (kept out of __init__.py so that it also imports
through an editable install made before this package existed, which skips __init__)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import TexgsError
from .run import MaterialResult, Settings, compare_material


@dataclass(frozen=True)
class FailedMaterial:
    """A material (or an input path) that could not be measured, and why."""

    material: str
    reason: str


def compare(
    inputs: list[str | Path], settings: Settings, out_dir: str | Path, log=lambda msg: None
) -> tuple[list[MaterialResult], dict, list[FailedMaterial]]:
    """Run every method on every material found under `inputs` and write the report.

    A material that cannot be read or measured is recorded as failed with its reason
    (and named in the report's notes); the others are still measured. The report is
    rewritten after each material, so a long run that is stopped keeps every material
    it finished. Returns (results, {"json"|"csv"|"html": path}, failed)."""
    from .. import ingest
    from .material import from_ingest

    results: list[MaterialResult] = []
    failed: list[FailedMaterial] = []
    files: dict = {}
    for p in inputs:
        try:
            sources = ingest.discover(p)
        except TexgsError as e:
            failed.append(FailedMaterial(str(p), str(e)))
            log(f"{p}: not measured: {e}")
            continue
        for src in sources:
            try:
                material = from_ingest(ingest.load(src))
                results.append(compare_material(material, settings, log))
            except (TexgsError, MemoryError) as e:
                failed.append(FailedMaterial(src.key, str(e) or type(e).__name__))
                log(f"{src.key}: not measured: {failed[-1].reason}")
            files = _write(out_dir, results, settings, failed)
            log(f"report updated: {len(results)} material(s), {len(failed)} failed, in {out_dir}")
    if not files:
        files = _write(out_dir, results, settings, failed)
    return results, files, failed


def _write(out_dir, results: list[MaterialResult], settings: Settings, failed: list[FailedMaterial]) -> dict:
    from .report import write_report

    encoders: dict[str, str] = {}
    notes: list[str] = []
    for r in results:
        for row in r.rows:
            encoders.setdefault(row["method"], row["encoder"])
        for n in r.notes:
            if n not in notes and "skipped" in n:
                notes.append(n)
    notes += [f"{f.material}: not measured: {f.reason}" for f in failed]
    return write_report(out_dir, results, settings, notes, encoders)
