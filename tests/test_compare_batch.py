"""`texgs compare` over a folder: a material that cannot be read is reported as
failed with its reason, every other material is still measured, and the
command exits non-zero at the end."""

from __future__ import annotations

import json

import pytest
from ingest_images import colour, normal

from texgs.cli import main
from texgs.compare import codecs, tools


def test_compare_measures_the_rest_and_fails_at_the_end(tmp_path, capsys):
    try:
        codecs.bc7(True).encoder_version()
    except tools.MissingTool as e:
        pytest.skip(str(e))
    lib = tmp_path / "lib"
    colour(lib / "aa_good" / "aa_good_albedo.png", (64, 64))
    normal(lib / "bb_bad" / "bb_bad_normal.png", (64, 64))  # no colour map
    broken = colour(lib / "cc_broken" / "cc_broken_albedo.png", (64, 64))
    broken.write_bytes(broken.read_bytes()[:60])
    colour(lib / "dd_good" / "dd_good_albedo.png", (64, 64))
    out = tmp_path / "report"
    rc = main(["compare", str(lib), "-o", str(out), "--methods", "BC7", "--bppc", "0.5", "--no-extended"])
    stdout, stderr = capsys.readouterr()
    assert rc == 2
    data = json.loads((out / "results.json").read_text())
    assert [m["material"] for m in data["materials"]] == ["lib/aa_good", "lib/dd_good"]
    assert all(m["rows"] for m in data["materials"])
    assert "FAILED bb_bad: " in stdout and "no colour/albedo map" in stdout
    assert "FAILED cc_broken: " in stdout and "cc_broken_albedo.png" in stdout
    assert any(n.startswith("bb_bad: not measured: ") for n in data["notes"])
    assert "2 material(s) failed, 2 measured" in stderr
