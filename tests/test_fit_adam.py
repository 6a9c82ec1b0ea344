"""texgs.fit.adam against torch.optim.Adam: the same numbers, step for step."""

from __future__ import annotations

import torch

from texgs.fit.adam import Adam


def test_adam_matches_torch_optim_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    start = [torch.rand(7, 2, generator=g), torch.rand(7, generator=g), torch.rand(5, 3, generator=g)]
    ours = [t.clone().requires_grad_(True) for t in start]
    ref = [t.clone().requires_grad_(True) for t in start]
    lrs = [5e-4, 8e-3, 5e-3]
    opt = Adam([{"params": [p], "lr": lr, "base_lr": lr} for p, lr in zip(ours, lrs)])
    opt_ref = torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(ref, lrs)])
    for step in range(30):
        factor = 1.0 if step < 10 else 0.3  # learning rates changed between steps, as the fitter does
        for group, ref_group, lr in zip(opt.param_groups, opt_ref.param_groups, lrs):
            group["lr"] = ref_group["lr"] = lr * factor
        for params, o in ((ours, opt), (ref, opt_ref)):
            o.zero_grad(set_to_none=True)
            loss = sum(((p - 0.3) ** 2 * (i + 1)).sum() for i, p in enumerate(params[: 2 if step % 3 == 0 else 3]))
            loss.backward()  # every third step the last tensor has no gradient and must not move
            o.step()
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)
    assert torch.equal(opt.state[ours[0]]["exp_avg_sq"], opt_ref.state[ref[0]]["exp_avg_sq"])
