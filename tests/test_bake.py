"""`texgs bake` end to end on tiny materials written by the tests.

A tiny pipeline (few steps, one pyramid level) keeps each bake to seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from texgs.bake import atomic
from texgs.cli import main

TINY_PIPELINE = """\
schema_version: 1
description: tiny test pipeline
target:
  bppc: 2.0
addressing: auto
fit:
  steps: 40
  pyramid: [1]
  pyramid_steps: [1.0]
  eval_every: 10
  add_every: 10
  add_times: 2
  plateau_steps: 20
"""


def _write_material(folder: Path, seed: int, size: int = 40) -> None:
    """A smooth albedo + OpenGL normal + roughness material, ambientCG names."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] * (2 * np.pi / size)
    a, b = rng.uniform(0.5, 2.0, 2)
    albedo = np.stack([0.5 + 0.3 * np.sin(a * x), 0.5 + 0.3 * np.cos(b * y), 0.4 + 0.2 * np.sin(x + y)], -1)
    normal = np.stack([0.5 + 0.2 * np.cos(a * x), 0.5 + 0.2 * np.sin(b * y), np.full_like(x, 0.9)], -1)
    rough = 0.5 + 0.4 * np.sin(a * x) * np.cos(b * y)
    folder.mkdir(parents=True)
    name = folder.name
    for suffix, img in (("Color", albedo), ("NormalGL", normal), ("Roughness", rough)):
        data = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
        if data.ndim == 3:
            data = data[..., ::-1]
        assert cv2.imwrite(str(folder / f"{name}_{suffix}.png"), data)


@pytest.fixture
def materials(tmp_path):
    root = tmp_path / "materials"
    for i, name in enumerate(("alpha", "beta")):
        _write_material(root / name, seed=i)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    return root, pipe


def _bake(*args) -> int:
    return main(["bake", *map(str, args), "--progress", "off"])


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_bake_writes_outputs_manifest_report_and_junit(materials, tmp_path, capsys):
    root, pipe = materials
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    report = _report(out)
    assert report["counts"]["baked"] == 2 and report["exit_status"] == 0
    for name in ("alpha", "beta"):
        manifest = json.loads((out / name / "manifest.json").read_text())
        packed = out / name / manifest["files"]["packed"]
        # bppc comes from the bytes on disk: 3 + 3 + 1 channels.
        assert manifest["bytes"] == packed.stat().st_size
        assert manifest["bppc"] == pytest.approx(8 * packed.stat().st_size / (40 * 40 * 7))
        assert manifest["bppc"] <= 2.0
        assert [c["group"] for c in manifest["channels"]] == ["albedo"] * 3 + ["normal"] * 3 + ["roughness"]
        assert manifest["quality"]["psnr"] > 20.0
        assert (out / name / manifest["files"]["preview_albedo"]).is_file()
        assert manifest["texgs_version"] and manifest["build_key"]
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0" and suite.get("errors") == "0"
    table = capsys.readouterr().out
    assert "alpha" in table and "2 baked" in table


def test_second_run_skips_unchanged_and_force_rebuilds(materials, tmp_path):
    root, pipe = materials
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    packed = out / "alpha" / "alpha.texgs"
    mtime = packed.stat().st_mtime_ns
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    second = _report(out)
    assert second["counts"] == {**second["counts"], "baked": 0, "unchanged": 2}
    assert packed.stat().st_mtime_ns == mtime
    assert all("fit_seconds" in m for m in second["materials"])  # figures come from the manifests
    # Changing one input rebuilds that material only.
    img = cv2.imread(str(root / "beta" / "beta_Roughness.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(root / "beta" / "beta_Roughness.png"), 255 - img)
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    statuses = {m["key"]: m["status"] for m in _report(out)["materials"]}
    assert statuses == {"alpha": "unchanged", "beta": "baked"}
    # A changed setting or --force rebuilds.
    assert _bake(root, "-o", out, "--pipeline", pipe, "--force") == 0
    assert _report(out)["counts"]["baked"] == 2


def test_build_key_covers_the_packed_format_version(tmp_path, monkeypatch):
    from texgs.bake import cache
    from texgs.format import layout

    src = tmp_path / "a.png"
    src.write_bytes(b"x")
    key = cache.build_key([src], {"bppc": 0.06}, "cpu")
    assert cache.build_key([src], {"bppc": 0.06}, "cpu") == key
    monkeypatch.setattr(layout, "VERSION_MAJOR", layout.VERSION_MAJOR + 1)  # files a new reader rejects
    assert cache.build_key([src], {"bppc": 0.06}, "cpu") != key


def test_same_inputs_settings_and_seed_give_identical_bytes(materials, tmp_path):
    root, pipe = materials
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    for name in ("alpha", "beta"):
        a = (outs[0] / name / f"{name}.texgs").read_bytes()
        b = (outs[1] / name / f"{name}.texgs").read_bytes()
        assert a == b
    # A different seed gives different bytes (the seed is honoured).
    assert _bake(root, "-o", tmp_path / "c", "--pipeline", pipe, "--seed", "7") == 0
    assert (tmp_path / "c" / "alpha" / "alpha.texgs").read_bytes() != (outs[0] / "alpha" / "alpha.texgs").read_bytes()


def test_exit_status_1_for_a_missed_gate_and_2_for_bad_input(materials, tmp_path):
    root, pipe = materials
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe, "--min-psnr", "99") == 1
    report = _report(out)
    assert report["counts"]["gate_failed"] == 2
    assert all("PSNR" in m["gate_failures"][0] for m in report["materials"])
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "2"

    broken = root / "gamma"
    broken.mkdir()
    (broken / "gamma_Color.png").write_bytes(b"not a png at all")
    assert _bake(root, "-o", out, "--pipeline", pipe) == 2
    report = _report(out)
    by_key = {m["key"]: m for m in report["materials"]}
    assert by_key["gamma"]["status"] == "error" and "gamma_Color.png" in by_key["gamma"]["message"]
    assert by_key["alpha"]["status"] in ("baked", "unchanged")  # the others still went through
    assert not (out / "gamma").exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("schema_version: 1\ncolour: red\n", "unknown key 'colour'"),
        ("schema_version: 2\n", "schema_version must be 1"),
        ("schema_version: 1\ntarget: {bppc: -1}\n", "target.bppc must be in"),
        ("schema_version: 1\nbackend: gpu\n", "choose one of auto, reference, cpu, cuda"),
        ("schema_version: 1\ndevice: cuda\n", "unknown key 'device': the renderer is chosen by 'backend'"),
        ("schema_version: 1\nfit: {stepz: 3}\n", "stepz"),
        ("schema_version: 1\ngates: {psnr_min: high}\n", "gates.psnr_min: expected a number"),
        ("schema_version: [1\n", "not valid YAML"),
    ],
)
def test_bad_pipeline_files_name_the_key_and_file(materials, tmp_path, capsys, text, expected):
    root, _ = materials
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert _bake(root, "-o", tmp_path / "out", "--pipeline", bad) == 2
    err = capsys.readouterr().err
    assert expected in err and "bad.yaml" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_second_bake_into_a_locked_folder_fails_clearly(materials, tmp_path, capsys):
    root, pipe = materials
    out = tmp_path / "out"
    with atomic.output_lock(out):
        assert _bake(root, "-o", out, "--pipeline", pipe) == 2
    assert "another texgs bake" in capsys.readouterr().err
    assert not (out / "alpha").exists()


def test_killed_bake_leaves_no_partial_output_and_rerun_completes(materials, tmp_path):
    root, pipe = materials
    for i in range(2, 5):  # more materials, so the kill lands mid-run
        _write_material(root / f"extra{i}", seed=i)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "texgs",
        "bake",
        str(root),
        "-o",
        str(out),
        "--pipeline",
        str(pipe),
        "--progress",
        "off",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "alpha" / "manifest.json").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Every material folder present is complete; leftovers are only hidden staging dirs.
    for d in out.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            manifest = json.loads((d / "manifest.json").read_text())
            assert (d / manifest["files"]["packed"]).stat().st_size == manifest["bytes"]
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    report = _report(out)
    assert report["counts"]["baked"] + report["counts"]["unchanged"] == 5
    assert not [p for p in out.rglob("*") if p.name.startswith((atomic.TMP_PREFIX, atomic.OLD_PREFIX))]


def test_decoded_maps_output_matches_the_packed_file(materials, tmp_path):
    root, pipe = materials
    custom = tmp_path / "decoded.yaml"
    custom.write_text(TINY_PIPELINE + "outputs:\n  previews: false\n  decoded_maps: true\n")
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", custom) == 0
    manifest = json.loads((out / "alpha" / "manifest.json").read_text())
    assert not any(k.startswith("preview_") for k in manifest["files"])
    from texgs.format import decode, unpack

    packed = unpack((out / "alpha" / "alpha.texgs").read_bytes())
    albedo = cv2.imread(str(out / "alpha" / manifest["files"]["decoded_albedo"]))[..., ::-1] / 255.0
    expected = decode(packed, apply_range=True)[..., :3]  # stored values of the albedo
    assert np.abs(albedo - expected).max() <= 0.5 / 255 + 1e-6


def test_dry_run_writes_nothing(materials, tmp_path, capsys):
    root, pipe = materials
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe, "--dry-run") == 0
    assert not out.exists()
    assert "2 would bake" in capsys.readouterr().out


def test_bad_path_is_a_clear_error(tmp_path, capsys):
    assert _bake(tmp_path / "nowhere", "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err
