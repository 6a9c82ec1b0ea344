"""Maps of different sizes in `texgs bake`: resampled to the largest by default
(a note in the output manifest), an error with the pipeline's `resample: false`
or --no-resample."""

from __future__ import annotations

import json

from ingest_images import colour, grey

from texgs.cli import main

PIPELINE = """\
schema_version: 1
target:
  bppc: 2.0
fit:
  steps: 20
  pyramid: [1]
  pyramid_steps: [1.0]
  eval_every: 10
  add_every: 10
  add_times: 1
  plateau_steps: 20
"""


def _setup(tmp_path):
    root = tmp_path / "lib"
    colour(root / "crate" / "crate_albedo.png", (24, 24))
    grey(root / "crate" / "crate_gloss.png", (12, 12))  # half size, as games ship it
    pipe = tmp_path / "p.yaml"
    pipe.write_text(PIPELINE)
    return root, pipe


def _bake(*args) -> int:
    return main(["bake", *map(str, args), "--progress", "off"])


def test_bake_resamples_by_default_and_says_so(tmp_path):
    root, pipe = _setup(tmp_path)
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    manifest = json.loads((out / "crate" / "manifest.json").read_text())
    assert "crate_gloss.png resampled from 12x12 to 24x24 (INTER_CUBIC)" in manifest["notes"]


def test_resample_false_in_the_pipeline_or_on_the_command_line_is_an_error(tmp_path):
    root, pipe = _setup(tmp_path)
    off = tmp_path / "off.yaml"
    off.write_text(PIPELINE + "resample: false\n")
    for out, args in ((tmp_path / "a", ("--pipeline", off)), (tmp_path / "b", ("--pipeline", pipe, "--no-resample"))):
        assert _bake(root, "-o", out, *args) == 2
        (entry,) = json.loads((out / "report.json").read_text())["materials"]
        assert "maps of different sizes" in entry["message"] and "resample is off" in entry["message"]
        assert not (out / "crate").exists()
