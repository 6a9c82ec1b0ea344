"""Bake under faults: a killed or interrupted parent with --jobs 2, damaged
outputs, and outputs that cannot be written (read-only, full, not a folder)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_bake import TINY_PIPELINE, _write_material

from texgs.bake import atomic
from texgs.cli import main
from texgs.format import unpack


def _bake(*args) -> int:
    return main(["bake", *map(str, args), "--progress", "off"])


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


@pytest.fixture
def six(tmp_path):
    root = tmp_path / "materials"
    for i in range(6):
        _write_material(root / f"m{i}", seed=i)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    return root, pipe


def _start(root, out, pipe, *extra) -> subprocess.Popen:
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
        "--jobs",
        "2",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _workers(pid: int) -> list[int]:
    """The process-pool workers among pid's children."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for_first_commit(proc, out: Path) -> list[int]:
    """Wait until one material is committed; return the pool's worker pids."""
    deadline = time.monotonic() + 180
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        workers.update(_workers(proc.pid))
        if any((d / "manifest.json").exists() for d in out.glob("m*")):
            return sorted(workers | set(_workers(proc.pid)))
        time.sleep(0.02)
    pytest.fail(f"the bake ended or stalled before committing a material: {proc.stderr.read().decode()}")


def _complete_folders(out: Path) -> set[str]:
    """Material folders whose every listed file is present with its recorded digest."""
    from texgs.bake import cache

    done = set()
    for d in out.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            manifest = json.loads((d / "manifest.json").read_text())
            assert cache.up_to_date(d, manifest["build_key"]) is not None, d
            done.add(d.name)
    return done


def _wait_gone(pids: list[int], seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_kill_9_of_the_parent_takes_its_workers_along(six, tmp_path):
    root, pipe = six
    out = tmp_path / "out"
    proc = _start(root, out, pipe)
    workers = _wait_for_first_commit(proc, out)
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    assert _wait_gone(workers) == [], "pool workers outlived their killed parent"
    written = _complete_folders(out)
    time.sleep(1.0)
    assert _complete_folders(out) == written  # nothing commits after the parent died
    # The next run takes the lock at once and repairs the rest.
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    c = _report(out)["counts"]
    assert (c["unchanged"], c["baked"]) == (len(written), 6 - len(written))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_cancels_queued_materials_and_the_report_tells_the_truth(six, tmp_path, sig):
    root, pipe = six
    out = tmp_path / "out"
    proc = _start(root, out, pipe)
    workers = _wait_for_first_commit(proc, out)
    proc.send_signal(sig)  # to the parent alone, as a CI runner's cancel does
    assert proc.wait(60) == 130
    assert _wait_gone(workers) == []
    written = _complete_folders(out)
    rep = _report(out)
    assert rep["interrupted"] is True and rep["exit_status"] == 130
    baked = {m["key"] for m in rep["materials"] if m["status"] == "baked"}
    assert baked == written  # the report counts exactly what is on disk
    assert rep["counts"]["baked"] == len(written) < 6  # queued materials were not baked
    assert rep["counts"]["cancelled"] == 6 - len(written)
    time.sleep(1.0)
    assert _complete_folders(out) == written


def test_a_damaged_output_is_rebuilt_not_reported_unchanged(tmp_path):
    root = tmp_path / "materials"
    for i, name in enumerate(("alpha", "beta", "gamma")):
        _write_material(root / name, seed=i)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    good = (out / "alpha" / "alpha.texgs").read_bytes()
    (out / "alpha" / "alpha.texgs").write_bytes(b"garbage")  # 7 bytes of garbage
    (out / "beta" / "preview_albedo.png").unlink()  # a file gone
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    statuses = {m["key"]: m["status"] for m in _report(out)["materials"]}
    assert statuses == {"alpha": "baked", "beta": "baked", "gamma": "unchanged"}
    assert (out / "alpha" / "alpha.texgs").read_bytes() == good
    unpack(good)
    assert (out / "beta" / "preview_albedo.png").is_file()


def test_output_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    root = tmp_path / "materials"
    _write_material(root / "alpha", seed=0)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    target = tmp_path / "existing.bin"
    target.write_bytes(b"keep me")
    for out in (target, target / "sub"):
        assert _bake(root, "-o", out, "--pipeline", pipe) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(target) in err[0] and "ENOTDIR" in err[0], err
    assert target.read_bytes() == b"keep me"


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs mounted for the test (needs root and a kernel that lets us mount)."""
    mounted = []

    def mount(name: str, size: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True
        )
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root and mount rights): {r.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _one_material(tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "materials"
    _write_material(root / "alpha", seed=0, size=64)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    return root, pipe


def test_read_only_output_is_a_clear_error(tmp_path, tmpfs, capsys):
    root, pipe = _one_material(tmp_path)
    point = tmpfs("ro", "1m")
    (point / "out").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
    assert _bake(root, "-o", point / "out", "--pipeline", pipe) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(point / "out") in err[0] and "EROFS" in err[0], err
    assert list((point / "out").iterdir()) == []


def test_full_output_is_a_clear_error_and_leaves_nothing_partial(tmp_path, tmpfs, capsys):
    root, pipe = _one_material(tmp_path)
    point = tmpfs("full", "256k")
    out = point / "out"
    out.mkdir()
    (out / atomic.LOCK_NAME).write_bytes(b"0")  # the lock's own page, before filling
    pad = point / "pad"
    pad.write_bytes(b"\0" * 8192)  # freed below: room for a part of the outputs
    with open(point / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    pad.unlink()
    assert _bake(root, "-o", out, "--pipeline", pipe) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "ENOSPC" in err[0], err
    left = sorted(p.name for p in out.iterdir())
    assert left in ([atomic.LOCK_NAME], sorted([atomic.LOCK_NAME, "junit.xml", "report.json"])), left
    # With room again, the next run bakes it.
    (point / "filler").unlink()
    assert _bake(root, "-o", out, "--pipeline", pipe) == 0
    assert _report(out)["counts"]["baked"] == 1


def test_a_read_only_cache_is_still_read(tmp_path, tmpfs, capsys):
    root, pipe = _one_material(tmp_path)
    point = tmpfs("cache", "4m")
    assert _bake(root, "-o", tmp_path / "a", "--pipeline", pipe, "--cache", point) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
    assert _bake(root, "-o", tmp_path / "b", "--pipeline", pipe, "--cache", point) == 0
    assert _report(tmp_path / "b")["counts"]["cached"] == 1
    # A cache folder that cannot be created at all is a clear error, before any work.
    assert _bake(root, "-o", tmp_path / "c", "--pipeline", pipe, "--cache", point / "new") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "EROFS" in err[-1] and str(point / "new") in err[-1], err
