"""texgs.metrics against hand-computed values (METRICS.md definitions)."""

import math

import numpy as np
import pytest
import torch

from texgs import metrics


def test_psnr_of_a_known_error():
    ref = np.zeros((4, 5, 3), np.float32)
    rec = np.full((4, 5, 3), 0.1, np.float32)
    assert metrics.mse(ref, rec) == pytest.approx(0.01)
    assert metrics.psnr(ref, rec) == pytest.approx(20.0)
    assert metrics.psnr(ref, ref) == math.inf


def test_psnr_clips_the_reconstruction_to_the_stored_range():
    ref = np.ones((2, 2, 1))
    rec = np.full((2, 2, 1), 1.5)
    assert metrics.psnr(ref, rec) == math.inf
    assert metrics.psnr(ref, rec, clip=False) == pytest.approx(10 * math.log10(1 / 0.25))


def test_psnr_by_group_is_psnr_over_each_groups_channels():
    rng = np.random.default_rng(0)
    ref = rng.random((6, 7, 4))
    rec = ref + rng.normal(0, [0.01, 0.01, 0.01, 0.2], ref.shape)
    groups = ["albedo", "albedo", "albedo", "roughness"]
    by = metrics.psnr_by_group(ref, rec, groups)
    assert list(by) == ["albedo", "roughness"]
    assert by["albedo"] == pytest.approx(metrics.psnr(ref[..., :3], rec[..., :3]))
    assert by["roughness"] == pytest.approx(metrics.psnr(ref[..., 3:], rec[..., 3:]))
    assert by["albedo"] > by["roughness"] + 10
    # Overall MSE is the channel-weighted mean of the groups' MSEs.
    overall = metrics.mse(ref, rec)
    parts = [metrics.mse(ref[..., :3], rec[..., :3]) * 3, metrics.mse(ref[..., 3:], rec[..., 3:])]
    assert overall == pytest.approx(sum(parts) / 4)


def test_accepts_torch_tensors():
    a = torch.zeros(3, 3, 2)
    assert metrics.psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-4)


def test_normal_angular_error_in_degrees():
    up = np.zeros((2, 2, 3))
    up[..., 2] = 1.0
    side = np.zeros((2, 2, 3))
    side[..., 0] = 1.0
    enc = lambda n: (n + 1) / 2  # noqa: E731
    assert metrics.normal_angular_error(enc(up), enc(up)) == pytest.approx(0.0, abs=1e-6)
    assert metrics.normal_angular_error(enc(up), enc(side)) == pytest.approx(90.0)
    # Length does not matter: renormalised first.
    assert metrics.normal_angular_error(enc(up), enc(up * 0.5)) == pytest.approx(0.0, abs=1e-6)


def test_bppc_from_bytes():
    assert metrics.bppc(1024, 64, 64, 4) == pytest.approx(0.5)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(np.zeros((2, 2, 3)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="group names"):
        metrics.psnr_by_group(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), ["a", "b"])


def test_normal_angle_stats_mean_and_p99():
    enc = lambda v: (np.asarray(v, np.float32) + 1) / 2
    up = np.zeros((10, 10, 3), np.float32)
    up[..., 2] = 1
    tilted = up.copy()
    tilted[5:] = (np.sin(np.radians(60)), 0, np.cos(np.radians(60)))  # half the texels at 60 degrees
    stats = metrics.normal_angle_stats(enc(up), enc(tilted))
    assert stats["mean"] == pytest.approx(30.0, abs=1e-3)
    assert stats["p99"] == pytest.approx(60.0, abs=1e-3)
    assert metrics.normal_angular_error(enc(up), enc(tilted)) == pytest.approx(stats["mean"])
    assert metrics.normal_angles(enc(up), enc(tilted)).shape == (100,)
