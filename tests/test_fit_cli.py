"""`texgs fit` end to end, the fitter's parts (loss, schedule, init), and the
quick-set materials of the corpus (skipped when the corpus is absent)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from texgs import metrics, native
from texgs.cli import main
from texgs.fit import init as fit_init
from texgs.fit.config import Budget, FitConfig
from texgs.fit.loss import image_loss, ssim_per_channel
from texgs.fit.schedule import Plateau, make_plan


def write_material(folder, size=32):
    import imageio.v3 as iio

    folder.mkdir()
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    albedo = np.stack([xx * 255 // size, yy * 255 // size, (xx + yy) * 127 // size], -1).astype(np.uint8)
    rough = (128 + 100 * np.sin(xx / 4.0)).astype(np.uint8)
    iio.imwrite(folder / "crate_albedo.png", albedo)
    iio.imwrite(folder / "crate_roughness.png", rough)


def test_cli_fit_writes_texgs_json_and_previews(tmp_path, capsys):
    write_material(tmp_path / "crate")
    out = tmp_path / "out"
    rc = main(
        [
            "fit",
            str(tmp_path / "crate"),
            "--gaussians",
            "24",
            "--steps",
            "40",
            "-o",
            str(out),
            "--progress",
            "off",
            "--wrap",
            "both",
        ]
    )
    assert rc == 0
    texgs_file = out / "crate.texgs"
    summary = json.loads((out / "crate.json").read_text())
    data = texgs_file.read_bytes()
    assert summary["metrics"]["bytes"] == len(data)
    assert summary["metrics"]["bppc"] == pytest.approx(8 * len(data) / (32 * 32 * 4))
    assert summary["metrics"]["gaussians"] == 24
    assert summary["groups"] == ["albedo"] * 3 + ["roughness"]
    assert summary["wrap"] == [True, True]
    assert set(summary["metrics"]["psnr_by_group"]) == {"albedo", "roughness"}
    for name in ("crate_albedo.png", "crate_albedo_ref.png", "crate_roughness.png"):
        assert (out / name).stat().st_size > 0
    assert "crate.texgs" in capsys.readouterr().out
    assert not list(out.glob("*.tmp"))


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    rc = main(["fit", str(tmp_path / "missing"), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "missing" in err and err.count("\n") == 1 and "Traceback" not in err
    write_material(tmp_path / "crate")
    rc = main(["fit", str(tmp_path / "crate"), "--bppc", "0.001", "-o", str(tmp_path / "o"), "--progress", "off"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot hold even one" in err and not (tmp_path / "o" / "crate.texgs").exists()


def test_ssim_matches_pytorch_msssim():
    from pytorch_msssim import ssim

    g = torch.Generator().manual_seed(0)
    a = torch.rand(40, 36, 3, generator=g)
    b = (a + 0.1 * torch.randn(40, 36, 3, generator=g)).clamp(0, 1)
    ours = ssim_per_channel(b, a).mean()
    ref = ssim(b.permute(2, 0, 1)[None], a.permute(2, 0, 1)[None], data_range=1.0)
    assert float(ours) == pytest.approx(float(ref), abs=1e-4)
    assert ssim_per_channel(a, a) == pytest.approx(torch.ones(3), abs=1e-5)


def test_loss_weights_select_channels():
    t = torch.zeros(16, 16, 2)
    p = t.clone()
    p[..., 1] = 0.5
    w_first = image_loss(p, t, torch.tensor([1.0, 0.0]))
    w_second = image_loss(p, t, torch.tensor([0.0, 1.0]))
    assert float(w_first) == pytest.approx(0.0, abs=1e-6)
    assert float(w_second) > 0.5


def test_plan_covers_every_step_once_and_skips_tiny_levels():
    cfg = FitConfig(steps=1000)
    plan = make_plan(cfg, 256, 128)
    assert plan.stages[0].start == 0 and plan.stages[-1].end == 1000
    assert all(a.end == b.start for a, b in zip(plan.stages, plan.stages[1:]))
    assert [s.factor for s in plan.stages] == [4, 2, 1]
    assert (plan.stages[0].height, plan.stages[0].width) == (64, 32)
    assert max(plan.add_steps) <= 0.6 * 1000
    tiny = make_plan(cfg, 20, 20)  # 1/4 would be 5x5: skipped
    assert [s.factor for s in tiny.stages] == [2, 1]
    assert tiny.stages[-1].end == 1000
    assert make_plan(cfg.replace(qat_fraction=0.0), 64, 64).qat_start == 1000


def test_plateau_decays_then_stops():
    p = Plateau(patience=100, db=0.1, max_decays=1)
    assert p.update(20.0, 50) == "continue"
    assert p.update(20.05, 50) == "continue"
    assert p.update(20.05, 50) == "decay"
    assert p.update(21.0, 50) == "continue"  # improvement resets the count
    assert p.update(21.0, 50) == "continue"
    assert p.update(21.0, 50) == "stop"


def test_gradient_guided_init_follows_edges():
    t = torch.full((32, 32, 1), 0.5)
    t[:, 20:] = torch.rand(32, 12, 1, generator=torch.Generator().manual_seed(0))  # busy right part
    grad = fit_init.gradient_magnitude(t, torch.ones(1))
    gen = torch.Generator().manual_seed(0)
    texels = fit_init.sample_texels(fit_init.init_probability(grad, 0.0), 100, gen)
    cols = texels % 32
    assert bool((cols >= 19).all())
    assert texels.unique().numel() == 100  # without replacement
    uniform = fit_init.sample_texels(fit_init.init_probability(grad, 1.0), 300, gen) % 32
    assert float((uniform < 19).float().mean()) > 0.45


QUICK_SET = ["gltf-samples/FlightHelmet_LeatherPartsMat", "godot-decals/decal_scifi_1"]


@pytest.mark.corpus
@pytest.mark.parametrize("material", QUICK_SET)
def test_quick_set_material_fits_within_budget(corpus_dir, material):
    from dataclasses import replace

    from texgs import ingest
    from texgs.fit import fit_material

    m = ingest.load(corpus_dir / material)
    x = torch.from_numpy(m.pixels).permute(2, 0, 1)[None]
    small = F.interpolate(x, size=(128, 128), mode="area")[0].permute(1, 2, 0).numpy()
    m = replace(m, pixels=small, width=128, height=128)
    r = fit_material(m, Budget(bppc=0.5), FitConfig.fast(steps=120, add_every=20), progress="off")
    assert 0.98 * 0.5 <= r.metrics["bppc"] <= 0.5
    # Measured 25-27 dB at this size, rate and step count.
    assert r.metrics["psnr"] > 21.0
    assert "normal_angle_deg" in r.metrics
    assert metrics.psnr(small, r.render()) == pytest.approx(r.metrics["psnr"])


def test_progress_lines_when_not_a_terminal():
    import io
    import re

    from texgs.fit.progress import Progress

    buf = io.StringIO()  # not a TTY: plain timestamped lines
    p = Progress(10, label="mat", mode="auto", every_s=1e9, stream=buf)
    p.update(1, float("nan"), 5)
    p.update(5, 20.0, 5)  # throttled: no line
    p.update(10, 21.5, 8, "level 1/1")  # the last step always prints
    p.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert re.match(r"\[\d\d:\d\d:\d\d \+\s*\d+\.\ds\] mat: step 1/10 PSNR -- dB", lines[0])
    assert lines[1].endswith("step 10/10 PSNR 21.50 dB, 8 Gaussians level 1/1")
    quiet = io.StringIO()
    Progress(3, mode="off", stream=quiet).update(3, 1.0, 1)
    assert quiet.getvalue() == ""


def test_cli_presets_build_their_configs(tmp_path):
    import argparse

    from texgs.commands import fit as fit_cmd
    from texgs.fit.config import PRESETS

    parser = argparse.ArgumentParser()
    fit_cmd.add_arguments(parser)
    assert set(parser._option_string_actions["--preset"].choices) == set(PRESETS)
    thorough = PRESETS["thorough"]()
    assert thorough.steps > FitConfig().steps and thorough.plateau_steps > FitConfig().plateau_steps
    write_material(tmp_path / "crate")
    rc = main(
        [
            "fit",
            str(tmp_path / "crate"),
            "--gaussians",
            "12",
            "--preset",
            "thorough",
            "--steps",
            "30",
            "-o",
            str(tmp_path / "out"),
            "--progress",
            "off",
        ]
    )
    assert rc == 0
    summary = json.loads((tmp_path / "out" / "crate.json").read_text())
    assert summary["metrics"]["gaussians"] == 12


@pytest.mark.skipif(native.cuda_runnable(), reason="CUDA can run here")
def test_cli_fit_on_cuda_without_a_gpu_is_one_line_exit_2(tmp_path, capsys):
    write_material(tmp_path / "crate")
    rc = main(["fit", str(tmp_path / "crate"), "--backend", "cuda", "-o", str(tmp_path / "o"), "--progress", "off"])
    err = capsys.readouterr().err
    assert rc == 2 and "'cuda' cannot run here" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()
