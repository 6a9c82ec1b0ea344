"""`texgs bake --executor ray` on a local 2-CPU Ray instance started by the tests."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from test_bake import TINY_PIPELINE, _write_material
from test_bake_shards import tree

from texgs.cli import main

TASK_TITLE = b"texgs_bake_material"  # Ray names a busy worker process ray::<task name>


def _bake(*args) -> int:
    return main(["bake", *map(str, args), "--progress", "off"])


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_without_ray_the_executor_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    _write_material(tmp_path / "m" / "alpha", seed=0)
    assert _bake(tmp_path / "m", "-o", tmp_path / "out", "--executor", "ray") == 2
    err = capsys.readouterr().err
    assert "texgs[ray]" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install texgs[ray])")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def three(tmp_path):
    root = tmp_path / "materials"
    for i, name in enumerate(("alpha", "beta", "gamma")):
        _write_material(root / name, seed=i)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    local = tmp_path / "local"
    assert _bake(root, "-o", local, "--pipeline", pipe) == 0
    return root, pipe, tree(local)


def test_ray_run_is_byte_identical_to_the_local_executor(ray_local, three, tmp_path):
    root, pipe, expected = three
    out = tmp_path / "ray"
    assert _bake(root, "-o", out, "--pipeline", pipe, "--executor", "ray") == 0
    rep = _report(out)
    assert rep["executor"] == "ray" and rep["counts"]["baked"] == 3
    assert tree(out) == expected


def _busy_task_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if TASK_TITLE in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def _bake_killing_one_task(root, out, pipe, *extra) -> tuple[int, int]:
    """Bake in a thread while this one kills the first Ray worker seen running a
    material; returns (exit status, killed pid)."""
    status = []
    t = threading.Thread(
        target=lambda: status.append(_bake(root, "-o", out, "--pipeline", pipe, "--executor", "ray", *extra))
    )
    t.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and t.is_alive() and time.monotonic() < deadline:
        pids = _busy_task_pids()
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.01)
    t.join(300)
    assert killed is not None, "no Ray task was seen running"
    return status[0], killed


def test_a_task_whose_worker_is_killed_is_retried(ray_local, three, tmp_path):
    root, pipe, expected = three
    out = tmp_path / "ray"
    status, _ = _bake_killing_one_task(root, out, pipe)
    assert status == 0
    assert _report(out)["counts"]["baked"] == 3
    assert tree(out) == expected


def test_without_retries_the_killed_task_fails_and_the_others_are_baked(ray_local, three, tmp_path):
    root, pipe, expected = three
    out = tmp_path / "ray"
    status, _ = _bake_killing_one_task(root, out, pipe, "--retries", "0")
    assert status == 2
    rep = _report(out)
    failed = [m for m in rep["materials"] if m["status"] == "error"]
    assert len(failed) == 1 and "Ray task failed after 1 attempt" in failed[0]["message"]
    assert rep["counts"]["baked"] == 2
    assert not (out / failed[0]["key"]).exists()
    got = tree(out)
    assert got == {k: v for k, v in expected.items() if not k.startswith(failed[0]["key"] + "/")}
