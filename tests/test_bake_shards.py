"""Sharded bakes, `texgs report merge`, and the shared build cache (--cache)."""

from __future__ import annotations

import json
import multiprocessing
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_bake import TINY_PIPELINE, _write_material

from texgs.bake import shard, store
from texgs.cli import main

# Chosen so that every shard of 2 and of 3 holds at least one material
# (test_the_names_cover_every_shard checks it).
NAMES = ("alpha", "beta", "delta")
RUN_FILES = {"report.json", "junit.xml", ".texgs-bake.lock"}


def _bake(*args) -> int:
    return main(["bake", *map(str, args), "--progress", "off"])


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def tree(out: Path) -> dict:
    """Every material output file under `out`: bytes, and for manifests their JSON
    without the fit's wall-clock seconds (the one field that is not reproducible)."""
    files = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if not p.is_file() or rel in RUN_FILES:
            continue
        if p.name == "manifest.json":
            m = json.loads(p.read_text())
            m.pop("seconds")
            files[rel] = m
        else:
            files[rel] = p.read_bytes()
    return files


@pytest.fixture
def materials3(tmp_path):
    root = tmp_path / "materials"
    for i, name in enumerate(NAMES):
        _write_material(root / name, seed=i)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    return root, pipe


def test_the_names_cover_every_shard():
    for n in (2, 3):
        assert {shard.shard_of(k, n) for k in NAMES} == set(range(1, n + 1))


def test_a_shard_depends_on_the_key_alone():
    keys = [f"props/m{i}" for i in range(200)]
    before = {k: shard.shard_of(k, 4) for k in keys}
    # Adding materials (anywhere in the listing) moves no other material.
    after = {k: shard.shard_of(k, 4) for k in sorted(keys + ["aaa/first", "zzz/last"])}
    assert all(after[k] == v for k, v in before.items())
    assert set(before.values()) == {1, 2, 3, 4}


@pytest.mark.parametrize("text", ["3", "0/2", "3/2", "a/b", "1/0"])
def test_bad_shard_is_a_clear_error(materials3, tmp_path, capsys, text):
    root, pipe = materials3
    assert _bake(root, "-o", tmp_path / "out", "--pipeline", pipe, "--shard", text) == 2
    err = capsys.readouterr().err
    assert "--shard" in err and "Traceback" not in err


def test_two_and_three_shards_equal_one_unsharded_run(materials3, tmp_path, capsys):
    root, pipe = materials3
    whole = tmp_path / "whole"
    assert _bake(root, "-o", whole, "--pipeline", pipe) == 0
    expected = tree(whole)
    assert len([k for k in expected if k.endswith(".texgs")]) == len(NAMES)
    for n in (2, 3):
        outs = [tmp_path / f"s{n}-{k}" for k in range(1, n + 1)]
        for k, out in enumerate(outs, 1):
            assert _bake(root, "-o", out, "--pipeline", pipe, "--shard", f"{k}/{n}") == 0
        baked = [m["key"] for out in outs for m in _report(out)["materials"] if m["status"] == "baked"]
        assert sorted(baked) == sorted(NAMES)  # each material baked exactly once
        merged_tree = {}
        for out in outs:
            part = tree(out)
            assert not set(part) & set(merged_tree)
            merged_tree.update(part)
        assert merged_tree == expected  # byte-identical to the unsharded run

        merged = tmp_path / f"merged{n}"
        assert main(["report", "merge", *map(str, outs), "-o", str(merged)]) == 0
        rep = _report(merged)
        assert rep["counts"]["baked"] == len(NAMES) and rep["exit_status"] == 0
        assert [m["key"] for m in rep["materials"]] == sorted(NAMES)
        suite = ET.parse(merged / "junit.xml").getroot().find("testsuite")
        assert suite.get("tests") == str(len(NAMES)) and suite.get("failures") == "0"
    capsys.readouterr()

    # The same exit-status rules: a gate missed in one shard makes the merge exit 1.
    outs = [tmp_path / f"s3-{k}" for k in range(1, 4)]
    assert _bake(root, "-o", outs[0], "--pipeline", pipe, "--shard", "1/3", "--min-psnr", "99") == 1
    assert main(["report", "merge", *map(str, outs), "-o", str(tmp_path / "gated")]) == 1
    rep = _report(tmp_path / "gated")
    assert rep["counts"]["gate_failed"] >= 1 and rep["exit_status"] == 1

    # A shard missing, or given twice, is refused with a clear line.
    assert main(["report", "merge", str(outs[0]), str(outs[1]), "-o", str(tmp_path / "m2")]) == 2
    assert "shard(s) 3/3 missing" in capsys.readouterr().err
    assert main(["report", "merge", str(outs[0]), str(outs[0]), str(outs[1]), "-o", str(tmp_path / "m3")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_merge_keeps_an_error_exit_status(materials3, tmp_path):
    root, pipe = materials3
    broken = root / "zeta"
    broken.mkdir()
    (broken / "zeta_Color.png").write_bytes(b"not a png")
    outs = [tmp_path / f"s{k}" for k in (1, 2)]
    statuses = [_bake(root, "-o", out, "--pipeline", pipe, "--shard", f"{k}/2") for k, out in enumerate(outs, 1)]
    assert sorted(statuses) == [0, 2]  # the shard that holds zeta fails, the other does not
    assert main(["report", "merge", *map(str, outs), "-o", str(tmp_path / "m")]) == 2
    rep = _report(tmp_path / "m")
    assert rep["counts"]["error"] == 1 and rep["counts"]["baked"] == len(NAMES)


def test_cache_hit_copies_and_a_corrupt_entry_is_rebuilt(materials3, tmp_path):
    root, pipe = materials3
    cache_dir = tmp_path / "cache"
    first = tmp_path / "first"
    assert _bake(root, "-o", first, "--pipeline", pipe, "--cache", cache_dir) == 0
    assert _report(first)["counts"]["baked"] == len(NAMES)
    entries = sorted(p for p in cache_dir.glob("??/*") if p.is_dir())
    assert len(entries) == len(NAMES)

    # Another run (another output folder: a CI runner, a shard) copies every material.
    second = tmp_path / "second"
    assert _bake(root, "-o", second, "--pipeline", pipe, "--cache", cache_dir) == 0
    rep = _report(second)
    assert rep["counts"]["cached"] == len(NAMES) and rep["counts"]["baked"] == 0
    assert tree(second) == tree(first)
    assert json.loads((second / "alpha" / "manifest.json").read_text()) == json.loads(
        (first / "alpha" / "manifest.json").read_text()
    )

    # Damage two entries: truncate alpha's packed file, drop beta's checksum file.
    def entry_of(name):
        return next(e for e in entries if (e / f"{name}.texgs").exists())

    packed = entry_of("alpha") / "alpha.texgs"
    packed.write_bytes(packed.read_bytes()[:-5])
    (entry_of("beta") / store.ENTRY_NAME).unlink()
    third = tmp_path / "third"
    assert _bake(root, "-o", third, "--pipeline", pipe, "--cache", cache_dir) == 0
    statuses = {m["key"]: m["status"] for m in _report(third)["materials"]}
    assert statuses == {"alpha": "baked", "beta": "baked", "delta": "cached"}
    assert tree(third) == tree(first)  # the rebuild, not the damaged entry, was shipped
    # ... and stored again, intact.
    fourth = tmp_path / "fourth"
    assert _bake(root, "-o", fourth, "--pipeline", pipe, "--cache", cache_dir) == 0
    assert _report(fourth)["counts"]["cached"] == len(NAMES)
    assert not list((cache_dir / "tmp").iterdir())


def test_pipeline_names_the_cache(materials3, tmp_path):
    root, pipe = materials3
    cache_dir = tmp_path / "from-pipeline"
    custom = tmp_path / "cached.yaml"
    custom.write_text(TINY_PIPELINE + f"cache: {cache_dir}\n")
    assert _bake(root, "-o", tmp_path / "a", "--pipeline", custom) == 0
    assert _bake(root, "-o", tmp_path / "b", "--pipeline", custom) == 0
    assert _report(tmp_path / "b")["counts"]["cached"] == len(NAMES)
    # The cache location does not shape the bytes: no rebuild in place when it moves.
    custom.write_text(TINY_PIPELINE + f"cache: {tmp_path / 'elsewhere'}\n")
    assert _bake(root, "-o", tmp_path / "a", "--pipeline", custom) == 0
    assert _report(tmp_path / "a")["counts"]["unchanged"] == len(NAMES)


def _writer(root: str, addr: str, rounds: int, seed: int) -> None:
    cache = store.BuildCache(Path(root))
    files = {"m.texgs": bytes(range(256)) * 64, "manifest.json": b"{}" * 1000}
    for i in range(rounds):
        cache.put(addr, files)
        got = cache.get(addr)
        assert got is None or got == files
        if (i + seed) % 3 == 0 and got is not None:  # also race a deletion with the writers
            cache._discard(cache._entry(addr))


def test_cache_entries_are_whole_under_concurrent_writers(tmp_path):
    root = tmp_path / "cache"
    addr = store.address("k" * 64, "props/crate", "crate", {"previews": True})
    ctx = multiprocessing.get_context("fork")  # the writers use no torch: fork is safe and starts at once
    procs = [ctx.Process(target=_writer, args=(str(root), addr, 40, s)) for s in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]  # no reader ever saw a partial entry
    cache = store.BuildCache(root)
    files = {"m.texgs": bytes(range(256)) * 64, "manifest.json": b"{}" * 1000}
    cache.put(addr, files)
    assert cache.get(addr) == files
    assert not list((root / "tmp").iterdir())
