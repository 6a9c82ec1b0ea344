"""The supercompressed distribution form (.texgs.zst, docs/FORMAT.md): exact round
trip, deterministic bytes, clear errors for anything that is not one; `texgs bake
--supercompress zstd` writes it and the manifest records both sizes."""

from __future__ import annotations

import json

import pytest
from packed_materials import random_material
from test_bake import TINY_PIPELINE, _bake, _write_material

from texgs.channels import Channel
from texgs.errors import FormatError
from texgs.format import QuantConfig, unpack
from texgs.format import supercompress as sc

pytest.importorskip("imagecodecs")


@pytest.fixture(scope="module")
def packed() -> bytes:
    return random_material(64, 64, [Channel(f"c{i}", "albedo") for i in range(3)], 200, QuantConfig.fixed(), levels=3)


def test_round_trip_is_exact_and_deterministic(packed):
    frame = sc.compress(packed)
    assert frame[:4] == sc.ZSTD_MAGIC and len(frame) < len(packed)
    assert sc.content_size(frame) == len(packed)
    assert sc.decompress(frame) == packed
    assert sc.compress(packed) == frame
    unpack(sc.decompress(frame))  # what a loader does next


def test_what_is_not_a_texgs_zst_is_a_format_error(packed):
    import imagecodecs

    frame = sc.compress(packed)
    with pytest.raises(FormatError, match="not a zstd frame"):
        sc.decompress(packed, "a.texgs.zst")
    with pytest.raises(FormatError, match="a.texgs.zst: corrupt zstd frame"):
        sc.decompress(frame[:-9], "a.texgs.zst")
    with pytest.raises(FormatError, match="does not hold a .texgs file"):
        sc.decompress(bytes(imagecodecs.zstd_encode(b"x" * 300, level=3)), "a.texgs.zst")
    with pytest.raises(FormatError, match="header truncated"):
        sc.decompress(frame[:5])
    huge = bytearray(frame[:5]) + bytes(9)  # single segment, 8-byte content size
    huge[4] = 0xE0
    huge[5:13] = (1 << 40).to_bytes(8, "little")
    with pytest.raises(FormatError, match="more than a .texgs file may hold"):
        sc.decompress(bytes(huge))
    with pytest.raises(FormatError, match="not a .texgs file"):
        sc.compress(b"hello")


def test_bake_writes_the_supercompressed_form_on_request(tmp_path):
    root = tmp_path / "materials"
    _write_material(root / "alpha", seed=0)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    out = tmp_path / "out"
    assert _bake(root, "-o", out, "--pipeline", pipe, "--supercompress", "zstd") == 0
    m = json.loads((out / "alpha" / "manifest.json").read_text())
    packed = (out / "alpha" / m["files"]["packed"]).read_bytes()
    frame = (out / "alpha" / m["files"]["supercompressed"]).read_bytes()
    assert m["files"]["supercompressed"] == "alpha.texgs.zst"
    assert sc.decompress(frame) == packed
    assert m["bytes"] == len(packed) and m["download_bytes"] == len(frame) and m["supercompression"] == "zstd"
    plain = tmp_path / "plain"
    assert _bake(root, "-o", plain, "--pipeline", pipe) == 0
    m2 = json.loads((plain / "alpha" / "manifest.json").read_text())
    assert "supercompressed" not in m2["files"] and "download_bytes" not in m2
    assert (plain / "alpha" / "alpha.texgs").read_bytes() == packed  # the .texgs itself is unchanged
