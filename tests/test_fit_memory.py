"""A fit too large for the machine's memory is refused before it starts, with a
message that says how much it needs and what to do."""

import dataclasses

import numpy as np
import pytest

from texgs import metrics
from texgs.errors import ConfigError, InputError
from texgs.fit import memory
from texgs.fit.api import fit
from texgs.fit.config import Budget, FitConfig


def test_estimate_grows_with_texels_channels_and_k():
    base = memory.peak_bytes(1024, 1024, 9, 10)
    step_2k = memory.peak_bytes(2048, 2048, 9, 10) - base
    step_4k = memory.peak_bytes(4096, 4096, 9, 10) - memory.peak_bytes(2048, 2048, 9, 10)
    assert step_4k == pytest.approx(4 * step_2k, rel=1e-6)  # linear in texels beyond the fixed part
    assert memory.peak_bytes(1024, 1024, 3, 10) < base
    assert memory.peak_bytes(1024, 1024, 9, 4) < base


def test_estimate_covers_the_measured_bakes():
    """benchmarks/size_cost.py's peaks (docs/benchmarks.md): the estimate is above
    each, and within 1.5x of it, so a material that bakes is not refused."""
    # GiB at K = 10; 512 x 9 and 1024 x 3 were measured with the whole-image measurement
    # (higher peaks than today's banded one), the others with the banded one.
    measured = {(512, 9): 0.41, (1024, 9): 0.69, (2048, 9): 1.78, (4096, 9): 6.17, (1024, 3): 0.50}
    for (side, channels), gib in measured.items():
        est = memory.peak_bytes(side, side, channels, 10) / 2**30
        assert gib <= est <= 1.5 * gib, (side, channels, est)


def test_a_fit_larger_than_available_memory_is_refused_up_front(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 100 << 20)
    stack = np.full((64, 64, 3), 0.5, np.float32)
    with pytest.raises(ConfigError, match=r"^a 64x64 x 3-channel fit needs about .* GiB, more than"):
        fit(stack, Budget(bppc=0.5), FitConfig.fast(steps=5), label="crate", progress="off")


def test_the_message_names_a_size_that_fits(monkeypatch):
    have = memory.peak_bytes(4096, 4096, 9, 10) + 1
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": have)
    memory.check(4096, 4096, 9, 10)  # fits: no error
    with pytest.raises(ConfigError, match="at 4096 texels a side or less"):
        memory.check(8192, 8192, 9, 10)


def test_when_no_size_fits_the_message_says_to_free_memory(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": memory.BASE_BYTES // 2)
    with pytest.raises(ConfigError, match="fit needs about .*; free some memory") as e:
        memory.check(1024, 1024, 9, 10)
    assert "texels a side" not in str(e.value)


def test_unknown_available_memory_checks_nothing(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": None)
    memory.check(16384, 16384, 32, 10)


def test_bake_refuses_an_oversized_material_before_fitting(tmp_path, monkeypatch, capsys):
    """`texgs bake` on a material the machine cannot hold: exit 2, one line naming
    the material, what it needs and the side that would fit; no fit step runs
    and nothing is written for the material."""
    import cv2

    from texgs.cli import main
    from texgs.fit import api

    folder = tmp_path / "materials" / "huge"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for suffix in ("Color", "NormalGL", "Roughness"):
        img = rng.integers(0, 256, (64, 64, 1 if suffix == "Roughness" else 3), dtype=np.uint8)
        assert cv2.imwrite(str(folder / f"huge_{suffix}.png"), img)
    # as much memory as a 32^2 fit of it needs: a 64^2 one does not fit
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": memory.peak_bytes(32, 32, 7, 10) + 1)

    def no_fit(*args, **kwargs):
        raise AssertionError("the fit started")

    monkeypatch.setattr(api, "_fit_on", no_fit)
    monkeypatch.setattr(api, "to_unit", no_fit)  # nor the unit-space copy of the maps
    out = tmp_path / "out"
    assert main(["bake", str(tmp_path / "materials"), "-o", str(out), "--bppc", "0.06", "--progress", "off"]) == 2
    cap = capsys.readouterr()
    err = cap.out + cap.err  # the summary table and its error line
    assert "Traceback" not in err and "the fit started" not in err
    line = next(ln for ln in err.splitlines() if "needs about" in ln)
    assert "huge" in line and "a 64x64 x 7-channel fit needs about" in line
    assert "bake its maps at 32 texels a side or less here" in line
    assert not (out / "huge").exists()


def _evaluate_whole_image(result, target) -> dict:
    """evaluate()'s figures computed over whole-image float64 copies (metrics.psnr and co.)."""
    rec = result.render()
    chans = result.channels
    groups = [c.group for c in chans]
    lo, hi = metrics.linear_ranges(result.input_ranges, [c.colour_space for c in chans])
    ref_u, rec_u = metrics.to_range_units(target, lo, hi), metrics.to_range_units(rec, lo, hi)
    out = {"psnr": metrics.psnr(ref_u, rec_u), "psnr_by_group": metrics.psnr_by_group(ref_u, rec_u, groups)}
    out["normal_angle_deg"] = metrics.normal_angle_stats(target[..., 3:6], rec[..., 3:6])
    out["psnr_log_luminance_emissive"] = metrics.log_luminance_psnr(target[..., 6:9], rec[..., 6:9])
    levels = sorted(set(result.gaussians.levels.tolist()))
    out["psnr_by_level"] = {
        str(lv): metrics.psnr(ref_u, metrics.to_range_units(result.render(max_level=lv), lo, hi)) for lv in levels
    }
    return out


def test_banded_evaluation_gives_the_whole_image_figures(monkeypatch):
    """The post-fit measurement sums errors a band of rows at a time: its PSNRs (overall,
    per group, per level, log-luminance) equal those of whole-image float64 copies, and
    the normal angles are the same numbers; bands of 7 rows of 37 texels, the last one short."""
    from texgs.channels import Channel
    from texgs.fit.api import evaluate

    rng = np.random.default_rng(3)
    h, w = 45, 37
    stack = rng.random((h, w, 9)).astype(np.float32)
    stack[..., 6:9] *= 40.0  # float emissive in nits: ranges from the data, log-luminance PSNR
    chans = [Channel(f"a{i}", "albedo", "srgb") for i in range(3)]
    chans += [Channel(f"n{i}", "normal") for i in range(3)] + [Channel(f"e{i}", "emissive") for i in range(3)]
    cfg = dataclasses.replace(FitConfig.fast(steps=30), lod_levels=0)  # one LOD level per stage: per-level figures
    result = fit(stack, Budget(bppc=0.5), cfg, channels=chans, progress="off")
    whole = _evaluate_whole_image(result, stack)
    monkeypatch.setattr(metrics, "BAND_TEXELS", 7 * w)
    assert len(list(metrics.row_bands(h, w))) == 7
    banded = evaluate(result, stack)
    assert len(banded["psnr_by_level"]) > 1 and banded["ranges"]
    assert banded["normal_angle_deg"] == whole["normal_angle_deg"]
    for key in ("psnr", "psnr_log_luminance_emissive"):
        assert banded[key] == pytest.approx(whole[key], abs=1e-9), key
    for key in ("psnr_by_group", "psnr_by_level"):
        assert banded[key].keys() == whole[key].keys()
        for k in whole[key]:
            assert banded[key][k] == pytest.approx(whole[key][k], abs=1e-9), (key, k)
    assert result.metrics["psnr"] == pytest.approx(whole["psnr"], abs=1e-9)


def _declared_png(path, width: int, height: int) -> None:
    """A PNG whose header declares width x height RGB 8-bit and holds no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def _no_decoding(monkeypatch):
    import sys

    from texgs.ingest import content, readers

    def decoded(*args, **kwargs):
        raise AssertionError("a map was decoded")

    for module in (sys.modules["texgs.ingest.load"], readers):  # texgs.ingest.load is also a function
        monkeypatch.setattr(module, "read_image", decoded)
    monkeypatch.setattr(content, "_sample", decoded)


def test_header_size_is_read_without_decoding(tmp_path, monkeypatch):
    from texgs import ingest

    folder = tmp_path / "huge"
    folder.mkdir()
    _declared_png(folder / "huge_Color.png", 16000, 12000)
    _declared_png(folder / "huge_NormalGL.png", 8000, 6000)  # resampled to the largest
    _no_decoding(monkeypatch)
    assert ingest.probe(folder) == (16000, 12000, 6)


def test_a_huge_declared_material_is_refused_before_any_map_is_decoded(tmp_path, monkeypatch, capsys):
    """`texgs bake` and `texgs fit` on maps whose headers declare 16000 x 12000: refused
    from the headers (the decoder fails the test if called), one line, exit 2, nothing written."""
    from texgs.cli import main

    folder = tmp_path / "materials" / "huge"
    folder.mkdir(parents=True)
    _declared_png(folder / "huge_Color.png", 16000, 12000)
    _declared_png(folder / "huge_NormalGL.png", 16000, 12000)
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 8 << 30)
    _no_decoding(monkeypatch)
    out = tmp_path / "out"
    assert main(["bake", str(tmp_path / "materials"), "-o", str(out), "--bppc", "0.06", "--progress", "off"]) == 2
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert "Traceback" not in text and "decoded" not in text
    line = next(ln for ln in text.splitlines() if "needs about" in ln)
    assert "huge" in line and "a 16000x12000 x 6-channel fit needs about" in line
    assert "(8.0 GiB); bake its maps at" in line
    assert not (out / "huge").exists()
    fit_out = tmp_path / "fit_out"
    assert main(["fit", str(folder), "-o", str(fit_out), "--progress", "off"]) == 2
    cap = capsys.readouterr()
    lines = [ln for ln in (cap.out + cap.err).splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert str(folder) in lines[0] and "a 16000x12000 x 6-channel fit needs about" in lines[0]
    assert not fit_out.exists() or not any(fit_out.iterdir())


def _declare(path, width: int, height: int) -> None:
    """Rewrite a small image's header in place to declare width x height (its pixel data
    stays that of the small image: decoding it would fail)."""
    import struct

    data = bytearray(path.read_bytes())
    if path.suffix == ".jpg":  # SOF0: length, precision, then height and width
        at = data.index(b"\xff\xc0") + 5
        data[at : at + 4] = struct.pack(">HH", height, width)
    elif path.suffix == ".tga":
        data[12:16] = struct.pack("<HH", width, height)
        del data[18 + 64 :]
    else:  # EXR: the dataWindow box2i attribute, (xMin, yMin, xMax, yMax)
        at = data.index(b"dataWindow\x00box2i\x00") + len(b"dataWindow\x00box2i\x00") + 4
        data[at : at + 16] = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    path.write_bytes(bytes(data))


def test_jpeg_tga_and_exr_sizes_come_from_their_headers(tmp_path, monkeypatch):
    """JPEG (SOF), TGA and EXR (dataWindow) headers declaring 16000 x 12000 over a
    few bytes of data: probed without decoding (the decoders fail the test if called)."""
    from ingest_images import colour, grey
    from test_ingest_formats import write_exr

    from texgs import ingest

    folder = tmp_path / "crate"
    colour(folder / "crate_albedo.jpg")
    grey(folder / "crate_roughness.tga")
    write_exr(folder / "crate_height.exr", {"Y": np.zeros((16, 16), np.float32)})
    for f in folder.iterdir():
        _declare(f, 16000, 12000)
    _no_decoding(monkeypatch)
    assert ingest.probe(folder) == (16000, 12000, 5)
    _declare(folder / "crate_roughness.tga", 8000, 20000)  # over MAX_INPUT_SIDE: refused from the header
    with pytest.raises(InputError, match=r"crate_roughness.tga: image is 8000x20000, larger than the limit"):
        ingest.probe(folder)
