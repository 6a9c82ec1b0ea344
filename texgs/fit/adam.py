"""Adam for the fitter's few parameter tensors, without torch.optim.

The update is torch.optim.Adam's single-tensor algorithm, operation for
operation (defaults: betas 0.9 / 0.999, eps 1e-8, no weight decay), so a fit
gives the same numbers. What it avoids: torch.optim imports torch._dynamo
when the first optimiser is built, about 2 s of CPU time per process, more
than a 512^2 fit's steps spend in the optimiser altogether.

The interface is the part of torch.optim.Adam the fitter uses: param_groups
(dicts with "params" and "lr", plus any keys the caller adds), state[param]
with "exp_avg" and "exp_avg_sq" once a step has touched it, zero_grad() and
step().
"""

from __future__ import annotations

import torch

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


class Adam:
    def __init__(self, groups: list[dict]):
        self.param_groups = [dict(g, params=list(g["params"])) for g in groups]
        self.state: dict[torch.Tensor, dict] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if not state:
                    state = self.state[p] = {
                        "step": 0,
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                    }
                grad, exp_avg, exp_avg_sq = p.grad, state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                step = float(state["step"])
                exp_avg.lerp_(grad, 1 - BETA1)
                exp_avg_sq.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
                bias_correction1 = 1 - BETA1**step
                bias_correction2 = 1 - BETA2**step
                step_size = lr / bias_correction1
                denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(EPS)
                p.addcdiv_(exp_avg, denom, value=-step_size)
