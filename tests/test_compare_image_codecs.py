"""Whole-image references of `texgs compare` (AVIF, JPEG XL, WebP; "no random access"):
bytes within the budget, decode round trip, the quality search, labels in every report file."""

import csv
import json
import sys

import numpy as np
import pytest
from test_compare_codecs import psnr8, synthetic_rgb
from test_compare_report import have as have_block
from test_compare_report import synthetic_material, write_material_folder

from texgs.cli import main
from texgs.compare import codecs, image_codecs, tools
from texgs.compare.image_codecs import NO_RANDOM_ACCESS, WholeImageMethod, fit_quality
from texgs.compare.material import Material, rgb_textures
from texgs.compare.run import Settings, compare_material

CODECS = [image_codecs.avif(), image_codecs.JXL, image_codecs.WEBP]


def have(codec):
    try:
        codec.encoder_version()
    except tools.MissingTool as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_round_trip_and_quality_grows_with_bytes(codec):
    have(codec)
    img = synthetic_rgb(62, 70)  # odd sizes: no block or chroma-subsampling alignment to lean on
    low, high = codec.encode(img, 10), codec.encode(img, 90)
    assert len(low) < len(high)
    out_low, out_high = codec.decode(low, 62, 70), codec.decode(high, 62, 70)
    assert out_high.shape == img.shape and out_high.dtype == np.uint8
    # measured here: q10 29.3-31.3 dB, q90 37.0 (JXL, WebP) and 39.5 (AVIF); the bounds leave ~3 dB
    assert psnr8(out_low, img) + 4.0 < psnr8(out_high, img)
    assert 26.0 < psnr8(out_low, img) and 34.0 < psnr8(out_high, img) < 60.0
    assert codec.encode(img, 50) == codec.encode(img, 50)  # fixed settings, one thread: same bytes


def test_fit_quality_is_the_largest_that_fits_and_grows_with_the_budget():
    sizes = [int(100 * 1.05**q) + (q % 3) for q in range(101)]  # increasing, not smooth
    calls = []

    def size_of(q):
        calls.append(q)
        return sizes[q]

    found = []
    for budget in range(sizes[0], sizes[-1] + 50, 37):
        q = fit_quality(size_of, budget, 0, 100)
        brute = max(k for k in range(101) if sizes[k] <= budget)
        assert q == brute
        found.append(q)
    assert found == sorted(found)
    assert fit_quality(size_of, sizes[0] - 1, 0, 100) is None
    calls.clear()
    fit_quality(size_of, 5000.0, 0, 100)
    assert len(calls) < 2 * 7 + 6  # a bracketing search, not a scan


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_points_fit_the_budget_with_one_quality_per_rate(codec):
    have(codec)
    m = noisy_material()
    rates = [0.3, 0.6, 1.2]  # measured here: qualities 46/66/85 (AVIF), 81/89/94 (JXL), 75/84/94 (WebP)
    method = WholeImageMethod(codec)
    pts = method.points(m, rates)
    assert [p.extra["requested_bppc"] for p in pts] == rates, method.problems
    texels = m.height * m.width * m.channels
    qualities = [p.extra["quality"] for p in pts]
    assert qualities == sorted(qualities) and len(set(qualities)) > 1
    for p, rate in zip(pts, rates):
        assert 0 < p.n_bytes <= rate * texels / 8
        assert p.extra["textures"] == len(rgb_textures(m)) and p.extra["random_access"] is False
        assert NO_RANDOM_ACCESS in p.label
        if p.extra["quality"] < 100:  # the next quality up would not fit: the search is tight
            one_up = sum(
                len(codec.encode(np.ascontiguousarray(_texture(m, s.channels)), p.extra["quality"] + 1))
                for s in rgb_textures(m)
            )
            assert one_up > rate * texels / 8
        recon = p.reconstruct()
        assert recon.shape == m.data.shape
        err = np.sqrt(np.mean((recon - m.data) ** 2))
        assert err < 0.05
    # more bytes, less error
    errs = [np.mean((p.reconstruct() - m.data) ** 2) for p in pts]
    assert errs[0] > errs[-1]


def noisy_material():
    """synthetic_material with a little seeded noise, so file sizes grow steadily with quality."""
    m = synthetic_material()
    noise = np.random.default_rng(1).normal(0, 0.03, m.data.shape)
    return Material(m.name, np.clip(m.data + noise, 0, 1).astype(np.float32), m.groups, [])


def _texture(m, channels):
    from texgs.compare import mips

    img = mips.to_uint8(m.data)
    out = np.zeros(img.shape[:2] + (3,), np.uint8)
    out[..., : len(channels)] = img[..., list(channels)]
    return out


def test_a_budget_below_the_smallest_file_is_a_note_not_a_figure():
    codec = image_codecs.avif()
    have(codec)
    m = synthetic_material()
    res = compare_material(m, Settings(rates=(0.05, 1.0), methods=("AVIF",), extended_metrics=False))
    rows = {r["requested_bppc"]: r for r in res.rows}
    assert rows[0.05].get("psnr") is None and rows[0.05]["bppc"] is None
    assert rows[1.0]["bppc"] <= 1.0
    assert any("0.05 bppc" in n and "smallest files" in n for n in res.notes)


def test_missing_imagecodecs_names_the_method_and_block_codecs_still_run(tmp_path, monkeypatch, capsys):
    have_block(codecs.bc7())
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # what an install without imagecodecs sees
    folder = write_material_folder(tmp_path, synthetic_material())
    out = tmp_path / "report"
    rc = main(["compare", str(folder), "--methods", "BC7,AVIF", "--bppc", "0.3", "--no-extended", "-o", str(out)])
    err = capsys.readouterr().err
    doc = json.loads((out / "results.json").read_text())
    assert rc == 0
    assert "AVIF skipped: imagecodecs not found" in err and "pip install imagecodecs" in err
    assert {r["method"] for r in doc["materials"][0]["rows"]} == {"BC7"}
    assert any("AVIF skipped" in n for n in doc["notes"])


def test_labels_in_json_csv_html_and_plot(tmp_path, monkeypatch):
    import matplotlib.figure

    for c in CODECS:
        have(c)
    legends = []
    savefig = matplotlib.figure.Figure.savefig

    def record_legend(fig, *args, **kwargs):
        legends.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record_legend)
    folder = write_material_folder(tmp_path, synthetic_material())
    out = tmp_path / "report"
    rc = main(["compare", str(folder), "--methods", "AVIF,JXL,WebP", "--bppc", "0.5", "-o", str(out)])
    assert rc == 0
    doc = json.loads((out / "results.json").read_text())
    rows = doc["materials"][0]["rows"]
    assert {r["method"] for r in rows} == {"AVIF", "JXL", "WebP"}
    for r in rows:
        assert r["random_access"] is False and NO_RANDOM_ACCESS in r["points"] and NO_RANDOM_ACCESS in r["encoder"]
        assert r["bppc"] <= 0.5 and r["psnr"] > 25 and r["ssim"] is not None and r["flip_albedo"] is not None
    assert any(NO_RANDOM_ACCESS in n for n in doc["notes"])
    with open(out / "results.csv", newline="") as f:
        assert {r["random_access"] for r in csv.DictReader(f)} == {"False"}
    page = (out / "index.html").read_text()
    for name in ("AVIF", "JXL", "WebP"):
        assert f"<td class='l'>{name} ({NO_RANDOM_ACCESS})</td>" in page
    assert sorted(legends) == sorted(f"{n} ({NO_RANDOM_ACCESS})" for n in ("AVIF", "JXL", "WebP"))
    assert len(list(out.glob("rd_*.png"))) == 1


def test_cli_default_methods_are_every_method():
    from texgs.commands import compare as command
    from texgs.compare.run import METHOD_NAMES

    assert command.METHODS.split(",") == list(METHOD_NAMES)


def test_an_encoder_error_fails_that_material_with_one_clear_line(tmp_path, monkeypatch, capsys):
    have(image_codecs.avif())
    import imagecodecs

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory in the encoder")

    monkeypatch.setattr(imagecodecs, "avif_encode", broken)
    folder = write_material_folder(tmp_path, synthetic_material())
    rc = main(
        ["compare", str(folder), "--methods", "AVIF", "--bppc", "0.5", "--no-extended", "-o", str(tmp_path / "r")]
    )
    out = capsys.readouterr().out
    assert rc == 2
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "AVIF encoder failed at quality" in failed[0] and "out of memory" in failed[0]
