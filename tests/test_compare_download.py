"""`texgs compare`'s download sizes: every random-access row also gives the bytes after
zstd level 19 (download_bppc, download_bytes), each texture compressed as its own frame,
as a KTX2 supercompressed file would ship it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from texgs.compare import codecs, download, tools
from texgs.compare.material import Material
from texgs.compare.report import write_report
from texgs.compare.run import Settings, compare_material

imagecodecs = pytest.importorskip("imagecodecs")


def smooth_material(size: int = 64) -> Material:
    yy, xx = np.meshgrid(np.arange(size) / size, np.arange(size) / size, indexing="ij")
    rgb = np.stack([0.5 + 0.3 * np.sin(6 * xx), 0.5 + 0.3 * np.cos(5 * yy), 0.4 + 0.2 * xx * yy], -1)
    return Material("t/smooth", rgb.astype(np.float32), ["albedo"] * 3, ["synthetic"])


def test_zstd_bytes_compress_each_file_on_its_own():
    a, b = bytes(1000), bytes(range(256)) * 4
    one = len(imagecodecs.zstd_encode(a, level=download.ZSTD_LEVEL))
    two = len(imagecodecs.zstd_encode(b, level=download.ZSTD_LEVEL))
    assert download.zstd_bytes([a, b]) == one + two
    assert download.zstd_bytes([a]) < len(a)


def test_rows_give_download_sizes_beside_the_in_memory_ones(tmp_path):
    try:
        codecs.bc7(True).encoder_version()
    except tools.MissingTool as e:
        pytest.skip(str(e))
    mat = smooth_material()
    settings = Settings(rates=(0.3,), methods=("texgs", "BC7"), quick=True, extended_metrics=False)
    res = compare_material(mat, settings)
    rows = {r["method"]: r for r in res.rows}
    texgs_file = res.packed[0.3]
    assert rows["texgs"]["download_bytes"] == len(imagecodecs.zstd_encode(texgs_file, level=19))
    texels = 64 * 64 * 3
    assert rows["texgs"]["download_bppc"] == pytest.approx(8 * rows["texgs"]["download_bytes"] / texels)
    assert 0 < rows["BC7"]["download_bppc"] < rows["BC7"]["bppc"]  # a smooth image's blocks compress
    assert any("download_bytes" in p for p in res.points if p["method"] == "BC7")
    write_report(tmp_path, [res], settings, [], {})
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert "download_bppc" in header and "download_bytes" in header
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["materials"][0]["rows"][0]["download_bytes"] > 0


def test_the_texgs_preset_is_checked_and_reaches_the_fit():
    from texgs.compare.run import make_methods
    from texgs.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown texgs preset 'nope'"):
        Settings(texgs_preset="nope")
    (method,) = make_methods(Settings(methods=("texgs",), texgs_preset="search"))
    assert method.preset == "search" and "search fit" in method.encoder()
    (quick,) = make_methods(Settings(methods=("texgs",), quick=True, texgs_preset="search"))
    assert quick.preset == "fast"
