"""`texgs compare` end to end on a small synthetic material: rows, rates, report files,
missing tools. Block methods only (texgs fitting is tested by its own engineer)."""

import csv
import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest

from texgs.cli import main
from texgs.compare import codecs, tools
from texgs.compare.engine_set import plan, rebuild_normal_z
from texgs.compare.material import Material, rgb_textures
from texgs.compare.methods import BlockFamily
from texgs.compare.run import Settings, compare_material

SIZE = 64


def synthetic_material() -> Material:
    """[64, 64, 9]: albedo RGB, unit normals encoded (n + 1) / 2, AO, roughness, metalness."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    albedo = np.stack([x, y, 0.5 + 0.3 * np.sin(6 * x) * np.cos(5 * y)], axis=2)
    nx, ny = 0.3 * np.sin(4 * x), 0.3 * np.cos(3 * y)
    nz = np.sqrt(1 - nx**2 - ny**2)
    normal = (np.stack([nx, ny, nz], axis=2) + 1) / 2
    orm = np.stack([0.8 - 0.2 * x, 0.3 + 0.5 * y, (x > 0.5).astype(np.float32)], axis=2)
    data = np.concatenate([albedo, normal, orm], axis=2).astype(np.float32)
    return Material("synthetic/mat", data, ["albedo"] * 3 + ["normal"] * 3 + ["ao", "roughness", "metalness"], [])


def write_material_folder(root, m: Material):
    import imageio.v3 as iio

    folder = root / "mat"
    folder.mkdir(parents=True)
    to8 = lambda a: np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
    iio.imwrite(folder / "mat_albedo.png", to8(m.data[..., 0:3]))
    iio.imwrite(folder / "mat_normal.png", to8(m.data[..., 3:6]))
    iio.imwrite(folder / "mat_orm.png", to8(m.data[..., 6:9]))
    return folder


def have(*codec_list):
    for c in codec_list:
        try:
            c.encoder_version()
        except tools.MissingTool as e:
            pytest.skip(str(e))


def test_texture_packing_counts_whole_textures():
    m = synthetic_material()
    assert [s.channels for s in rgb_textures(m)] == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    m2 = Material("x", m.data[..., :7], m.groups[:7], [])  # one scalar left: still a whole texture
    assert [s.channels for s in rgb_textures(m2)] == [(0, 1, 2), (3, 4, 5), (6,)]
    formats = [c.format for c, _ in plan(m)]
    assert formats == ["BC7", "BC5", "BC4", "BC4", "BC4"]


def test_point_rate_is_bits_per_texel_times_texels_times_textures():
    have(codecs.BC1)
    m = synthetic_material()
    pts = BlockFamily("BC1", [codecs.BC1]).points(m, [0.1])
    by_mip = {p.extra["mip"]: p for p in pts}
    for lv, p in by_mip.items():
        side = SIZE >> lv
        expected_bits = 4.0 * max(side, 4) ** 2 * 3  # BC1 4 bpp, whole 4x4 blocks, 3 textures
        assert 8 * p.n_bytes == expected_bits
    assert 8 * by_mip[1].n_bytes / (SIZE * SIZE * 9) == pytest.approx(1 / 3)


def test_engine_set_rebuilds_normal_z():
    m = synthetic_material()
    img = m.data.copy()
    img[..., 5] = 0.0
    rebuild_normal_z(img, [3, 4, 5])
    np.testing.assert_allclose(img[..., 5], m.data[..., 5], atol=1e-5)


def test_rows_interpolate_on_the_frontier():
    have(codecs.BC1, codecs.bc7())
    m = synthetic_material()
    rates = (0.05, 0.1, 0.2)
    res = compare_material(
        m, Settings(rates=rates, methods=("BC1", "BC7", "engine-set"), quick=True, extended_metrics=False)
    )
    assert len(res.rows) == 9
    for row in res.rows:
        assert row["bppc"] == row["requested_bppc"] and row["interpolated"]
        assert 15.0 < row["psnr"] < 60.0
    for method in ("BC1", "BC7", "engine-set"):
        pts = [p for p in res.points if p["method"] == method and p["pareto"]]
        fr = sorted((p["bppc"], p["psnr"]) for p in pts)
        psnr = [r["psnr"] for r in res.rows if r["method"] == method]
        assert psnr == sorted(psnr)  # more bits, more quality along a frontier
        for r, v in zip(rates, psnr):
            lo = max(p for p in fr if p[0] <= r)
            hi = min(p for p in fr if p[0] >= r)
            assert min(lo[1], hi[1]) - 1e-9 <= v <= max(lo[1], hi[1]) + 1e-9


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def test_cli_writes_report_and_names_missing_tools(tmp_path, monkeypatch, capsys):
    have(codecs.bc7())
    folder = write_material_folder(tmp_path / "in", synthetic_material())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # nvcompress and astcenc "missing"
    out = tmp_path / "report"
    rc = main(
        [
            "compare",
            str(folder),
            "--bppc",
            "0.05,0.1",
            "-o",
            str(out),
            "--quick",
            "--methods",
            "BC1,BC7,ASTC,engine-set",
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "nvcompress not found" in err and "apt-get install libnvtt-bin astcenc" in err
    assert "astcenc not found" in err

    doc = json.loads((out / "results.json").read_text())
    assert any("NVIDIA Texture Tools 3" in n for n in doc["notes"])
    assert any("nvcompress not found" in n for n in doc["notes"])
    (mat,) = doc["materials"]
    assert (mat["H"], mat["W"], mat["C"]) == (SIZE, SIZE, 9)
    methods = {r["method"] for r in mat["rows"]}
    assert methods == {"BC7", "engine-set"}  # the others still ran
    row = next(r for r in mat["rows"] if r["method"] == "BC7" and r["requested_bppc"] == 0.1)
    for key in (
        "psnr",
        "psnr_albedo",
        "psnr_normal",
        "psnr_ao",
        "ssim",
        "normal_err_mean_deg",
        "normal_err_p99_deg",
        "flip_albedo",
        "encode_s",
        "decode_s",
    ):
        assert isinstance(row[key], float) and math.isfinite(row[key]), key
    assert row["ms_ssim"] is None  # 64 texels is below MS-SSIM's minimum
    assert row["normal_err_p99_deg"] >= row["normal_err_mean_deg"] > 0
    assert "bc7enc" in row["encoder"] and "etcpak" in row["encoder"]

    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert {r["method"] for r in rows} == {"BC7", "engine-set"}
    assert all(float(r["bppc"]) == float(r["requested_bppc"]) for r in rows)
    assert float(rows[0]["psnr"]) == pytest.approx(mat["rows"][0]["psnr"], rel=1e-5)

    page = (out / "index.html").read_text()
    links = _Links()
    links.feed(page)
    assert links.images and all((out / src).is_file() for src in links.images)
    assert any(src.startswith("rd_") for src in links.images)
    assert (out / links.images[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_rate_is_one_line_error(tmp_path, capsys):
    folder = write_material_folder(tmp_path, synthetic_material())
    assert main(["compare", str(folder), "--bppc", "0.05,abc", "-o", str(tmp_path / "r")]) == 2
    assert "--bppc" in capsys.readouterr().err
    assert main(["compare", str(folder), "--methods", "BC9", "-o", str(tmp_path / "r")]) == 2
    assert "BC9" in capsys.readouterr().err


def test_texgs_rate_too_small_becomes_a_note_not_a_crash():
    pytest.importorskip("texgs.fit.api")
    m = synthetic_material()
    res = compare_material(m, Settings(rates=(0.05,), methods=("texgs", "BC7"), quick=True, extended_metrics=False))
    texgs_row = next(r for r in res.rows if r["method"] == "texgs")
    assert texgs_row["bppc"] is None and texgs_row.get("psnr") is None
    assert any(n.startswith("texgs at 0.05 bppc") for n in res.notes)
    bc7_row = next(r for r in res.rows if r["method"] == "BC7")
    assert bc7_row["psnr"] is not None


def test_rate_outside_the_mip_ladder_has_no_figure():
    have(codecs.bc7())
    m = synthetic_material()
    # BC7 at mip 1 costs 8 bpp x 1/4 x 3 textures / 9 channels = 0.67 bppc: 2.0 is out of reach
    res = compare_material(m, Settings(rates=(2.0,), methods=("BC7",), extended_metrics=False))
    (row,) = res.rows
    assert row["bppc"] is None and "psnr" not in row
    assert any("outside its measured range" in n for n in res.notes)


def test_report_keeps_the_texgs_files_its_rows_measured(tmp_path):
    pytest.importorskip("texgs.fit.api")
    from texgs.compare.report import write_report
    from texgs.format.reader import unpack

    m = synthetic_material()
    s = Settings(rates=(1.0,), methods=("texgs",), quick=True, extended_metrics=False)
    res = compare_material(m, s)
    row = next(r for r in res.rows if r["method"] == "texgs")
    write_report(tmp_path, [res], s, [], {"texgs": row["encoder"]})
    files = sorted((tmp_path / "texgs").glob("*.texgs"))
    assert [f.name for f in files] == ["synthetic_mat@1bppc.texgs"]
    data = files[0].read_bytes()
    assert 8 * len(data) / (SIZE * SIZE * 9) == pytest.approx(row["bppc"])  # the row's bytes exactly
    p = unpack(data)
    assert (p.height, p.width, p.gaussians.channels) == (SIZE, SIZE, 9)
