"""The runtime quantiser (texgs.format.quant): codes, exact dequantisation,
straight-through gradient, constraints and exact sizes."""

import math

import pytest
import torch

from texgs.errors import ConfigError, InputError
from texgs.format import QuantConfig, gaussian_constraints, max_gaussians, quant, quantize_ste, size_bound


def random_gaussians(n, c, h, w, seed=0, cfg=None):
    cfg = cfg or QuantConfig()
    g = torch.Generator().manual_seed(seed)
    lim = gaussian_constraints(h, w, cfg)
    means = torch.rand(n, 2, generator=g) * torch.tensor([w, h])
    inv = lim["min_inv_scale"] * torch.exp(torch.rand(n, 2, generator=g) * 2.5)
    rot = (torch.rand(n, generator=g) - 0.5) * 8
    values = torch.rand(n, c, generator=g)
    return means, inv, rot, values


@pytest.mark.parametrize(
    "cfg",
    [
        QuantConfig.fixed(),
        QuantConfig.fp16(),
        QuantConfig(
            position_bits=14,
            inv_scale_exp_bits=3,
            inv_scale_mant_bits=4,
            rotation_bits=8,
            value_bits=5,
            max_radius=20.0,
        ),
    ],
)
def test_quantisation_error_is_within_the_step(cfg):
    h, w = 48, 64
    m, s, r, v = random_gaussians(500, 5, h, w, cfg=cfg)
    qm, qs, qr, qv = quant.quantize(m, s, r, v, cfg, h, w)
    assert qm.dtype == torch.float32 and qv.shape == v.shape
    if cfg.encoding == "fixed":
        step = torch.tensor(quant.position_steps(cfg, h, w))
        assert step[0] == w / 2**cfg.position_bits and step[1] == cfg.strip_height / 2**cfg.strip_y_bits
        assert ((qm - m).abs() <= step / 2 + 1e-4).all()
        rel = ((qs - s) / s).abs()
        assert rel.max() <= 2.0 ** -(cfg.inv_scale_mant_bits + 1) + 1e-6
        dr = (qr - torch.remainder(r, math.pi)).abs()
        dr = torch.minimum(dr, math.pi - dr)
        assert dr.max() <= math.pi / 2**cfg.rotation_bits / 2 + 1e-5
        assert (qv - v).abs().max() <= 0.5 / (2**cfg.value_bits - 1) + 1e-6
    else:
        assert ((qm - m).abs() <= torch.tensor([w, h]) * 2**-11).all()
        assert ((qs - s) / s).abs().max() <= 2**-11
        assert (qv - v).abs().max() <= 2**-11
    # Idempotent: quantising a dequantised Gaussian returns it exactly.
    again = quant.quantize(qm, qs, qr, qv, cfg, h, w)
    for a, b in zip(again, (qm, qs, qr, qv)):
        assert torch.equal(a, b)


def test_constraints_are_enforced_and_radius_bound_holds():
    cfg = QuantConfig(max_radius=16.0)
    lim = gaussian_constraints(32, 32, cfg)
    assert 3.0 / lim["min_inv_scale"] <= 16.0
    s = torch.tensor([[1e-4, -0.01], [1e3, 0.5]])
    _, qs, _, _ = quant.quantize(torch.full((2, 2), 5.0), s, torch.zeros(2), torch.zeros(2, 1), cfg, 32, 32)
    assert (qs >= lim["min_inv_scale"]).all() and (qs <= lim["max_inv_scale"]).all()
    assert qs[1, 0] == lim["max_inv_scale"]


def test_wrap_and_clamp_positions():
    cfg = QuantConfig()
    m = torch.tensor([[-1.0, 70.0], [64.0, -0.25]])
    one = torch.ones(2, 2)
    qm, *_ = quant.quantize(m, one, torch.zeros(2), torch.zeros(2, 1), cfg, 48, 64, wrap=(True, False))
    assert 62.9 < qm[0, 0] < 63.1 and qm[0, 1] == 48.0 - 0.125  # x wrapped, y clamped (last quarter texel)
    assert qm[1, 0] < 0.1 and qm[1, 1] == 0.125  # x wrapped, y clamped (first quarter texel)


def test_straight_through_gradient_is_identity():
    h, w = 32, 40
    m, s, r, v = (t.double().requires_grad_() for t in random_gaussians(50, 3, h, w))
    out = quantize_ste(m, s, r, v, QuantConfig(), h, w)
    loss = sum((o * (i + 1)).sum() for i, o in enumerate(out))
    loss.backward()
    for i, t in enumerate((m, s, r, v)):
        assert torch.equal(t.grad, torch.full_like(t, i + 1.0))
    # Forward values equal the no-gradient quantiser, bit for bit.
    ref = quant.quantize(m.detach(), s.detach(), r.detach(), v.detach(), QuantConfig(), h, w)
    for a, b in zip(out, ref):
        assert torch.equal(a.detach(), b)


def test_codes_do_not_depend_on_input_dtype():
    m, s, r, v = random_gaussians(300, 4, 64, 64, seed=3)
    a = quant.encode(m, s, r, v, QuantConfig(), 64, 64)
    b = quant.encode(m.double().numpy(), s.double().numpy(), r.numpy(), v.numpy(), QuantConfig(), 64, 64)
    assert all(torch.equal(x, y) for x, y in zip((a.pos, a.inv, a.rot, a.val), (b.pos, b.inv, b.rot, b.val)))


def test_group_value_bits_and_record_bits():
    cfg = QuantConfig().with_group_value_bits(["albedo"] * 3 + ["normal"] * 3, {"normal": 8})
    assert cfg.channel_value_bits(6) == [6, 6, 6, 8, 8, 8]
    assert cfg.record_bits(6) == 12 + 5 + 2 * 7 + 7 + 18 + 24  # x, y within the strip, ...
    assert QuantConfig.fp16().record_bits(9) == 16 * 14
    with pytest.raises(ConfigError):
        cfg.channel_value_bits(5)
    with pytest.raises(ConfigError):
        QuantConfig(value_bits=0).validate()


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError, match="NaN"):
        quant.quantize(
            torch.tensor([[float("nan"), 0.0]]),
            torch.ones(1, 2),
            torch.zeros(1),
            torch.zeros(1, 1),
            QuantConfig(),
            8,
            8,
        )
    with pytest.raises(InputError):
        quant.quantize(torch.zeros(2, 3), torch.ones(2, 2), torch.zeros(2), torch.zeros(2, 1), QuantConfig(), 8, 8)


def test_size_bound_and_max_gaussians_are_consistent():
    cfg = QuantConfig()
    c, h, w = 9, 1024, 1024
    budget = round(0.06 * h * w * c / 8)
    n = max_gaussians(budget, c, h, w, cfg)
    assert size_bound(n, c, h, w, cfg) <= budget < size_bound(n + 1, c, h, w, cfg)
    # Header + channel table + index are under 5% of the file at 0.06 bppc.
    overhead = size_bound(0, c, h, w, cfg)
    assert overhead < 0.05 * budget
    assert max_gaussians(10, c, h, w, cfg) == 0
