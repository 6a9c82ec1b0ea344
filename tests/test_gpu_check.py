"""scripts/gpu-check's own logic, without a GPU: why a machine has no usable
GPU, and reading pytest's and the benchmark's reports. (The script's GPU
path runs only on a GPU machine; docs/cuda.md.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu-check"


@pytest.fixture(scope="module")
def gc():
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(SCRIPT))
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def fake_nvidia_smi(folder: Path, output: str, rc: int = 0) -> None:
    folder.mkdir(exist_ok=True)
    exe = folder / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\necho '{output}'\nexit {rc}\n")
    exe.chmod(0o755)


def test_gpu_status_names_the_missing_piece(gc, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert "nvidia-smi not found" in gc.gpu_status({})["reason"]
    fake_nvidia_smi(tmp_path / "bin", "NVIDIA H200, 570.1, 143771 MiB")
    cuda_torch = {"torch": "2.6.0", "torch_cuda": "12.6", "cuda_available": True}
    ok = gc.gpu_status(cuda_torch)
    assert ok["available"] and ok["devices"] == [{"name": "NVIDIA H200", "driver": "570.1", "memory": "143771 MiB"}]
    assert "CPU-only build" in gc.gpu_status({**cuda_torch, "torch_cuda": None})["reason"]
    assert "sees no usable device" in gc.gpu_status({**cuda_torch, "cuda_available": False})["reason"]
    assert "not installed" in gc.gpu_status({"executable": "python3", "torch": None})["reason"]
    fake_nvidia_smi(tmp_path / "bin", "NVIDIA-SMI has failed", rc=9)
    assert "failed" in gc.gpu_status(cuda_torch)["reason"]


def test_junit_and_bench_reports_are_read(gc, tmp_path, monkeypatch):
    xml = tmp_path / "t.xml"
    xml.write_text(
        '<testsuites><testsuite tests="4" failures="1" errors="0" skipped="1">'
        '<testcase classname="tests.a" name="ok"/><testcase classname="tests.a" name="bad">'
        '<failure message="x"/></testcase><testcase classname="tests.a" name="s"><skipped/></testcase>'
        '<testcase classname="tests.a" name="ok2"/></testsuite></testsuites>'
    )
    assert gc.junit_counts(xml) == {"passed": 2, "failed": 1, "errors": 0, "skipped": 1, "failures": ["tests.a::bad"]}
    monkeypatch.setattr(gc, "ROOT", tmp_path)
    rows = [
        {
            "backend": "cuda",
            "size": 2048,
            "n": 9000,
            "forward_ms": 0.9,
            "forward_backward_ms": 3.5,
            "forward_cpu_ms": 0.1,
        },
        {"backend": "reference", "size": 2048, "n": 9000, "skipped": "too slow"},
    ]
    (tmp_path / "bench.log").write_text("$ texgs bench render\n" + json.dumps({"results": rows}))
    got = gc.bench_rows("bench.log")
    assert got[0] == {k: v for k, v in rows[0].items() if k != "forward_cpu_ms"} and got[1] == rows[1]
    goals = gc.goals({"bench": {"rows": got}, "fits": [{"size": "2048x2048", "fit_seconds": 14.0}]})
    assert [goals[k]["met"] for k in ("forward_2048_ms", "forward_backward_2048_ms", "fit_2048_seconds")] == [
        True,
        False,
        True,
    ]


def test_a_step_past_its_limit_is_killed(gc, tmp_path):
    res = gc.run(["sleep", "20"], tmp_path / "sleep.log", 5.0, cwd=tmp_path)
    assert res["timed_out"] and not res["ok"] and res["log"] == str(tmp_path / "sleep.log")
