"""benchmarks/outside_set.py: what it picks and writes, on synthetic folders (no network, no corpus)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import load_script
from PIL import Image

outside_set = load_script(Path(__file__).resolve().parents[1] / "benchmarks" / "outside_set.py")


def _colour(path: Path, w: int, h: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").save(path)


def _normal(path: Path, w: int, h: int) -> None:
    px = np.zeros((h, w, 3), np.uint8)
    px[:] = (128, 128, 255)
    px[:, : w // 2, 0] = 150  # not constant, so a resample has something to average
    Image.fromarray(px, "RGB").save(path)


def _game_tree(root: Path) -> None:
    """Darkplaces-style folders: X + X_norm (+ X_gloss) materials, a lone texture, a small one."""
    for i, name in enumerate(["wall", "wall2", "floor", "pipe", "crate"]):
        folder = root / "textures" / ("metal" if i % 2 else "stone")
        _colour(folder / f"{name}.png", 64, 32, i)
        _normal(folder / f"{name}_norm.png", 64, 32)
    _colour(root / "textures" / "stone" / "floor_gloss.png", 32, 16, 9)  # a smaller map of floor
    _colour(root / "textures" / "stone" / "sky.png", 64, 64, 10)  # no normal map: not a candidate
    _colour(root / "textures" / "tiny" / "dot.png", 8, 8, 11)  # below --min-side
    _normal(root / "textures" / "tiny" / "dot_norm.png", 8, 8)


def test_spread_is_even_and_deterministic():
    assert outside_set.spread(list(range(10)), 3) == [1, 5, 8]
    assert outside_set.spread(list(range(4)), 4) == [0, 1, 2, 3]
    assert outside_set.spread(list(range(3)), 8) == [0, 1, 2]
    assert outside_set.spread(list(range(7)), 1) == [3]


def test_select_takes_colour_plus_normal_materials_sorted(tmp_path):
    _game_tree(tmp_path)
    picked, n = outside_set.select(tmp_path, 10, min_side=16)
    keys = [s.key for s in picked]
    assert n == 5
    assert keys == sorted(keys)
    assert {k.rsplit("/", 1)[-1] for k in keys} == {"wall", "wall2", "floor", "pipe", "crate"}
    floor = next(s for s in picked if s.key.endswith("/floor"))
    assert sorted(f.path.name for f in floor.files) == ["floor.png", "floor_gloss.png", "floor_norm.png"]
    # fewer than the candidates: evenly spaced through the sorted list, the same on a second run
    two, _ = outside_set.select(tmp_path, 2, min_side=16)
    assert [s.key for s in two] == [keys[1], keys[3]]
    assert [s.key for s in outside_set.select(tmp_path, 2, min_side=16)[0]] == [s.key for s in two]
    # the 8x8 material counts once the minimum allows it
    assert outside_set.select(tmp_path, 10, min_side=8)[1] == 6


def test_place_downsamples_every_map_by_one_factor(tmp_path):
    _game_tree(tmp_path / "tree")
    floor = next(s for s in outside_set.select(tmp_path / "tree", 10, 16)[0] if s.key.endswith("/floor"))
    rows = []
    for run in ("a", "b"):
        rows.append(outside_set.place(floor, tmp_path / run / floor.key, max_side=32))
    assert rows[0] == rows[1]
    assert rows[0]["downsampled"] and rows[0]["size"] == [32, 16]
    out = tmp_path / "a" / floor.key
    sizes = {p.name: Image.open(p).size for p in sorted(out.iterdir())}
    assert sizes == {"floor.png": (32, 16), "floor_gloss.png": (16, 8), "floor_norm.png": (32, 16)}
    for p in out.iterdir():  # deterministic bytes
        assert p.read_bytes() == (tmp_path / "b" / floor.key / p.name).read_bytes()
    # the half-and-half normal map averages over its edge column pair, in float
    red = np.asarray(Image.open(out / "floor_norm.png"))[0, :, 0]
    assert red[0] == 150 and red[-1] == 128
    # small enough: copied byte for byte
    row = outside_set.place(floor, tmp_path / "c" / floor.key, max_side=64)
    assert not row["downsampled"] and row["size"] == [64, 32]
    assert (tmp_path / "c" / floor.key / "floor.png").read_bytes() == (floor.folder / "floor.png").read_bytes()


def test_corpus_part_skips_the_benchmark_set(tmp_path):
    corpus = tmp_path / "corpus"
    for key in ["polyhaven/wooden_crate_01", "polyhaven/other_mat", "ambientcg/Big001"]:
        _colour(corpus / key / f"{key.split('/')[1]}_diff.png", 64 if "Big" in key else 32, 32, 0)
        _normal(corpus / key / f"{key.split('/')[1]}_nor_gl.png", 64 if "Big" in key else 32, 32)
    rows = outside_set.build_corpus(corpus, tmp_path / "out", max_side=32)
    assert [r["key"] for r in rows] == ["ambientcg/Big001", "polyhaven/other_mat"]
    linked = tmp_path / "out" / "polyhaven" / "other_mat"
    assert all(p.is_symlink() for p in linked.iterdir())
    assert [s.key for s in outside_set.discover(tmp_path / "out")] == ["ambientcg/Big001", "polyhaven/other_mat"]
    big = tmp_path / "out" / "ambientcg" / "Big001"
    assert not (big / "Big001_diff.png").is_symlink() and Image.open(big / "Big001_diff.png").size == (32, 16)
    assert rows[0]["downsampled"] and not rows[1]["downsampled"]


def test_table_statistics_per_part(tmp_path, capsys):
    import csv
    import json

    summary = {
        "corpus": [{"key": "polyhaven/other_mat"}],
        "packages": {"game-data": {"version": "1.0", "picked": [{"folder": "textures/eX/wall"}]}},
    }
    (tmp_path / outside_set.SUMMARY_NAME).write_text(json.dumps(summary))
    cols = ["material", "method", "requested_bppc", "W", "H", "C", "psnr", "psnr_albedo", "psnr_normal"]
    rows = [
        ["polyhaven/other_mat", "texgs", "0.06", "1024", "1024", "9", "30.0", "29.0", "33.0"],
        ["polyhaven/other_mat", "ASTC", "0.06", "1024", "1024", "9", "29.0", "29.5", "31.0"],
        ["polyhaven/other_mat", "BC7", "0.06", "1024", "1024", "9", "27.0", "27.0", "28.0"],
        ["eX/wall", "texgs", "0.06", "256", "256", "7", "25.0", "24.0", "27.0"],
        ["eX/wall", "ASTC", "0.06", "256", "256", "7", "26.0", "26.0", "26.5"],
    ]
    path = tmp_path / "results.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([cols, *rows])
    stats = outside_set.table(tmp_path, [path], tmp_path / "table.csv")
    assert stats["corpus@0.06"] == {"n": 1, "mean": 1.0, "median": 1.0, "min": 1.0, "max": 1.0, "below_astc": 0}
    assert stats["games@0.06"]["below_astc"] == 1 and stats["games@0.06"]["mean"] == -1.0
    assert stats["all@0.06"]["n"] == 2 and stats["all@0.06"]["mean"] == 0.0
    with open(tmp_path / "table.csv", newline="") as f:
        out = {r["material"]: r for r in csv.DictReader(f)}
    assert out["polyhaven/other_mat"]["worst_group"] == "albedo" and out["eX/wall"]["source"] == "game-data 1.0"
    assert out["eX/wall"]["BC7"] == "" and "| games | game-data 1.0 | eX/wall |" in capsys.readouterr().out
