"""Exact cutouts (texgs/fit/cutout.py): which opacity channels are alpha-test
masks, the loss term that keeps their decoded values on the target's side of
the cutoff, and the wrong-side share the fit and the bake report."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from texgs.channels import Channel
from texgs.cli import main
from texgs.errors import ConfigError
from texgs.fit import Budget, FitConfig, fit
from texgs.fit import cutout as cut

ALBEDO = [Channel(f"albedo.{c}", "albedo") for c in "rgb"]
OPACITY = Channel("opacity", "opacity", semantic="opacity")


def checkerboard(n: int, square: int) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n]
    return (((x // square) + (y // square)) % 2).astype(np.float32)


def disc(n: int, radius: float) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n] + 0.5
    return ((x - n / 2) ** 2 + (y - n / 2) ** 2 <= radius * radius).astype(np.float32)


def with_albedo(alpha: np.ndarray) -> np.ndarray:
    n = alpha.shape[0]
    y, x = np.mgrid[0:n, 0:n] / n
    rgb = [0.5 + 0.3 * np.sin(6 * x), 0.5 + 0.3 * np.cos(5 * y), 0.4 + 0.2 * x * y]
    return np.stack([*rgb, alpha], -1).astype(np.float32)


def test_auto_takes_mostly_binary_opacity_only():
    binary = checkerboard(32, 8)
    soft = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)  # a gradient: alpha blending
    stack = torch.from_numpy(np.stack([binary, soft, binary, np.ones_like(binary)], -1))
    chans = [OPACITY, Channel("glass.alpha", "opacity"), Channel("metalness", "metalness"), OPACITY]
    auto = cut.select(stack, chans, "auto", 0.5, 1.0)
    assert auto.channels == (0,)  # not the soft one, not a binary non-opacity map, not a constant one
    assert auto.binary == (1.0,)
    assert cut.select(stack, chans, "on", 0.5, 1.0).channels == (0, 1)
    assert cut.select(stack, chans, "off", 0.5, 1.0) is None
    # The cutoff decides which side a texel is on: all of a [0, 0.3] channel is below 0.5.
    assert cut.select(stack * 0.3, chans, "on", 0.5, 1.0) is None
    assert cut.select(stack * 0.3, chans, "on", 0.2, 1.0).channels == (0, 1)


def test_loss_pushes_only_texels_short_of_the_margin():
    term = cut.Cutout((1,), (1.0,), 0.5, 2.0, "auto")
    unit = torch.tensor([[[0.2, 0.3], [0.2, 0.7], [0.2, 0.51], [0.2, 0.9]]], requires_grad=True)
    target = torch.tensor([[[0.0, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    loss = term.loss(unit, torch.zeros(2), torch.ones(2), target)
    loss.backward()
    # Short of the margin: 0.3 by 0.22, 0.7 by 0.22, 0.51 by 0.01; 0.9 is clear.
    assert float(loss.detach()) == pytest.approx(2.0 * (0.22 + 0.22 + 0.01) / 4)
    g = unit.grad[0, :, 1]
    assert g[0] < 0 and g[1] > 0 and g[2] < 0 and g[3] == 0  # descent moves each towards its side
    assert bool((unit.grad[0, :, 0] == 0).all())  # other channels untouched


def test_wrong_side_counts_texels_across_the_cutoff():
    target = np.array([0.0, 0.4, 0.5, 1.0])
    assert cut.wrong_side(np.array([0.1, 0.6, 0.49, 0.5]), target) == 0.5
    assert cut.wrong_side(np.array([0.1, 0.6, 0.49, 0.5]), target, cutoff=0.45) == 0.25


@pytest.mark.parametrize("name", ["alpha_test", "alpha_cutoff", "cutout_weight"])
def test_bad_settings_name_the_key(name):
    bad = {"alpha_test": "yes", "alpha_cutoff": 1.0, "cutout_weight": -1.0}[name]
    with pytest.raises(ConfigError, match=name):
        FitConfig(**{name: bad})


# Gaussian budgets with room for the shapes but not to spare; one full-resolution
# level so the term acts on every step. Wrong-side shares at seed 0 (cpu backend):
# checkerboard 7.2% without the term, 4.6% with; disc 0.78% and 0.31%.
CASES = {
    "checkerboard": (checkerboard(128, 16), 128, 0.055),
    "disc": (disc(96, 96 * 0.3), 24, 0.005),
}


@pytest.mark.parametrize("case", list(CASES))
def test_term_keeps_the_mask_on_its_side(case):
    alpha, gaussians, bound = CASES[case]
    stack = with_albedo(alpha)
    wrong = {}
    for weight in (0.0, 4.0):
        cfg = FitConfig.fast(cutout_weight=weight, pyramid=(1,), pyramid_steps=(1.0,))
        r = fit(stack, Budget(gaussians=gaussians), cfg, channels=ALBEDO + [OPACITY], progress="off")
        report = r.metrics["cutout"]
        (mask,) = report["channels"]
        assert report["rule"] == "auto" and mask["index"] == 3 and report["cutoff"] == 0.5
        decoded = r.render()[..., 3]
        assert mask["wrong_side"] == cut.wrong_side(decoded, alpha)  # measured on the packed file
        assert mask["wrong_texels"] == round(mask["wrong_side"] * alpha.size)
        wrong[weight] = mask["wrong_side"]
    assert wrong[4.0] <= bound
    assert wrong[0.0] > 1.4 * wrong[4.0]


def test_no_mask_no_report():
    soft = np.linspace(0.2, 0.8, 32 * 32, dtype=np.float32).reshape(32, 32)
    r = fit(with_albedo(soft)[:32, :32], Budget(gaussians=16), FitConfig.fast(steps=20), channels=ALBEDO + [OPACITY])
    assert "cutout" not in r.metrics


TINY_PIPELINE = """\
schema_version: 1
target:
  bppc: 2.0
fit:
  steps: 30
  pyramid: [1]
  pyramid_steps: [1.0]
  add_every: 10
  add_times: 1
  alpha_cutoff: 0.4
"""


def test_bake_manifest_and_report_carry_the_wrong_side_share(tmp_path):
    folder = tmp_path / "in" / "fence"
    folder.mkdir(parents=True)
    rgba = with_albedo(disc(40, 12))
    bgra = np.clip(np.rint(rgba * 255), 0, 255).astype(np.uint8)[..., [2, 1, 0, 3]]
    assert cv2.imwrite(str(folder / "fence_albedo.png"), bgra)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    out = tmp_path / "out"
    assert main(["bake", str(tmp_path / "in"), "-o", str(out), "--pipeline", str(pipe), "--progress", "off"]) == 0
    manifest = json.loads((out / "fence" / "manifest.json").read_text())
    assert manifest["quality"]["cutout"]["cutoff"] == 0.4  # the pipeline's setting
    (mask,) = manifest["quality"]["cutout"]["channels"]
    assert mask["channel"] == "opacity" and 0.0 <= mask["wrong_side"] < 0.05
    (entry,) = json.loads((out / "report.json").read_text())["materials"]
    assert entry["cutout"] == manifest["quality"]["cutout"]


def test_gate_on_the_wrong_side_share():
    from texgs.bake.gates import check_gates
    from texgs.bake.pipeline import Gates

    figures = {"psnr": 30.0, "psnr_by_group": {}, "bppc": 0.06}
    figures["cutout"] = {"channels": [{"channel": "opacity", "wrong_side": 0.008}]}
    assert check_gates(figures, Gates(cutout_wrong_side_max=0.01)) == []
    (msg,) = check_gates(figures, Gates(cutout_wrong_side_max=0.005))
    assert "opacity" in msg and "0.80%" in msg
    assert check_gates({"psnr": 30.0, "psnr_by_group": {}, "bppc": 0.06}, Gates(cutout_wrong_side_max=0.0)) == []
