"""`fit(stack, budget, config) -> FitResult`: the library entry point the CLI
and the bake pipeline call.

A fit: choose the Gaussian count from real bytes (rate.py), optimise
(optimize.py, coarse-to-fine, QAT at the end), pack, and measure the packed
file decoded exactly as the runtime sees it. All of it runs on the device of
the renderer backend (device.py): a CUDA fit keeps every tensor on the GPU
and copies to the host only what the packer writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import metrics
from ..channels import Channel
from ..constants import MAX_CHANNELS
from ..errors import ConfigError, InputError
from ..gaussians import Gaussians
from ..render import resolve_backend
from . import device, memory, packing, rate, refine
from .config import Budget, FitConfig
from .optimize import Limits, run
from .progress import Progress
from .schedule import make_plan


@dataclass
class FitResult:
    """A fitted, packed material: the file's bytes (`data`) and the Gaussians
    the runtime decodes from them (numpy, file order, levels int32; units in
    texgs.gaussians.Gaussians); channel c's stored value is
    channels[c].range[0] + (range[1] - range[0]) * unit value."""

    data: bytes
    gaussians: Gaussians
    height: int
    width: int
    wrap: tuple[bool, bool]
    k: int
    channels: list[Channel]
    metrics: dict  # psnr, psnr_by_group, psnr_by_level, bppc, bytes, gaussians, ...
    seconds: float
    backend: str
    steps: int
    config: FitConfig
    budget: Budget
    history: list[dict] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.gaussians.n

    def render(self, max_level: int | None = None) -> np.ndarray:
        """[H, W, C] decoded stored values (levels <= max_level only, if given), unclipped,
        rendered on the fit's backend."""
        g = self.gaussians if max_level is None else self.gaussians.select(self.gaussians.levels <= max_level)
        g = g.as_torch(device.fit_device(self.backend))
        out = _render(g, self.height, self.width, self.k, self.wrap, self.backend, self.config.threads).cpu().numpy()
        lo, hi = _ranges(self.channels)
        return lo + (hi - lo) * out

    def summary(self) -> dict:
        """JSON-ready description: metrics plus the settings that produced them."""
        return {
            "height": self.height,
            "width": self.width,
            "channels": [c.name for c in self.channels],
            "groups": [c.group for c in self.channels],
            "wrap": list(self.wrap),
            "k": self.k,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
            "backend": self.backend,
            "steps": self.steps,
            "budget": {k: v for k, v in vars(self.budget).items() if v is not None},
            "config": self.config.to_dict(),
        }


def _render(g: Gaussians, height, width, k, wrap, backend, threads) -> torch.Tensor:
    from ..render import render_gaussians

    with torch.no_grad():
        return render_gaussians(g, height, width, k=k, wrap=tuple(wrap), backend=backend, threads=threads)


def _ranges(channels: list[Channel]) -> tuple[np.ndarray, np.ndarray]:
    """([C] lo, [C] hi) float32 channel ranges."""
    return (np.array([c.range[0] for c in channels], np.float32), np.array([c.range[1] for c in channels], np.float32))


def channel_ranges(target: torch.Tensor, metas: list[Channel], mode: str) -> list[Channel]:
    """Give each channel its packed value range: the target's min..max ("auto",
    widened to at least 1/1024 so a constant channel still has a range) or [0, 1] ("unit")."""
    if mode == "unit":
        return [dataclasses.replace(m, range=(0.0, 1.0)) for m in metas]
    lo = target.amin(dim=(0, 1))
    hi = torch.maximum(target.amax(dim=(0, 1)), lo + 1.0 / 1024)
    return [
        dataclasses.replace(m, range=(float(np.float32(a)), float(np.float32(b))))
        for m, a, b in zip(metas, lo.cpu().tolist(), hi.cpu().tolist())
    ]


def check_stack(stack, source: str = "stack") -> torch.Tensor:
    """The stack as a float32 [H, W, C] tensor; InputError naming `source` if unusable."""
    a = stack.detach().cpu().numpy() if torch.is_tensor(stack) else np.asarray(stack)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise InputError(f"{source}: expected an [H, W, C] array, got shape {a.shape}")
    h, w, c = a.shape
    if h < 1 or w < 1:
        raise InputError(f"{source}: image is empty ({w}x{h})")
    if not 1 <= c <= MAX_CHANNELS:
        raise InputError(f"{source}: {c} channels; texgs takes 1..{MAX_CHANNELS}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{source}: expected float values scaled to [0, 1], got dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise InputError(f"{source}: contains NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise InputError(f"{source}: values must be in [0, 1] (stored encoding scaled), found [{lo:.4g}, {hi:.4g}]")
    return torch.from_numpy(np.clip(a, 0.0, 1.0))


def _channels(c: int, channels, groups, names) -> list[Channel]:
    if channels is not None:
        if len(channels) != c:
            raise ConfigError(f"{len(channels)} channel descriptions for a {c}-channel stack")
        return list(channels)
    names = list(names) if names is not None else [f"c{i}" for i in range(c)]
    groups = list(groups) if groups is not None else list(names)
    if len(names) != c or len(groups) != c:
        raise ConfigError(f"need one channel name and group per channel ({c}), got {len(names)} and {len(groups)}")
    return [Channel(n, g) for n, g in zip(names, groups)]


def _weights(c: int, weights) -> torch.Tensor:
    if weights is None:
        return torch.ones(c)
    w = torch.as_tensor(np.asarray(weights, dtype=np.float32))
    if w.shape != (c,):
        raise ConfigError(f"need one loss weight per channel ({c}), got shape {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ConfigError("loss weights must be finite, >= 0, and not all zero")
    return w


def fit(
    stack,
    budget: Budget | None = None,
    config: FitConfig | None = None,
    *,
    channels: list[Channel] | None = None,
    groups: list[str] | None = None,
    names: list[str] | None = None,
    weights=None,
    wrap=(False, False),
    progress: str = "auto",
    label: str = "fit",
) -> FitResult:
    """Fit Gaussians to stack [H, W, C] (float, each channel in its stored
    encoding scaled to [0, 1]) within `budget` (default 0.06 bppc).

    channels: a Channel per channel (or give names / groups: one per
    channel); weights: [C] loss weight per channel (default 1); wrap: (x, y)
    addressing, True = tileable; progress: "auto" | "bar" | "lines" | "off".
    The fit runs on the device of cfg.backend (texgs.fit.device.fit_device).
    """
    with torch_threads(1):
        return _fit(stack, budget, config, channels, groups, names, weights, wrap, progress, label)


def fit_material(
    material,
    budget: Budget | None = None,
    config: FitConfig | None = None,
    *,
    weights=None,
    wrap=(False, False),
    progress: str = "auto",
    label: str | None = None,
) -> FitResult:
    """fit() of an ingested material (texgs.ingest.Material): its pixels, its
    channels as a file describes them (packing.file_channel) and its loss
    weights (material.yaml), times `weights` [C] when given; label defaults
    to the material's key."""
    w = material.weights if weights is None else material.weights * np.asarray(weights, dtype=np.float32)
    return fit(
        material.pixels,
        budget,
        config,
        channels=[packing.file_channel(c) for c in material.channels],
        weights=w,
        wrap=wrap,
        progress=progress,
        label=material.key if label is None else label,
    )


@contextlib.contextmanager
def torch_threads(n: int):
    """Run torch's own CPU ops on n threads, restoring the setting after.

    A fit runs them single-threaded: the per-step tensors are small, so extra
    threads mostly contend with the renderer's, and torch's parallel
    reductions would make results depend on the thread count (the native
    renderer is deterministic for any count and keeps cfg.threads)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _fit(stack, budget, config, channels, groups, names, weights, wrap, progress, label) -> FitResult:
    t_start = time.monotonic()
    budget = budget or Budget(bppc=0.06)
    cfg = (config or FitConfig()).validate()
    host_target = check_stack(stack)
    backend = resolve_backend(cfg.backend, must_run=True)
    dev = device.fit_device(backend)
    h, w, c = host_target.shape
    memory.check(h, w, c, cfg.k, "cpu" if dev.type == "cpu" else "cuda")
    with device.deterministic(dev):
        return _fit_on(
            host_target, backend, dev, budget, cfg, channels, groups, names, weights, wrap, progress, label, t_start
        )


def _fit_on(
    host_target, backend, dev, budget, cfg, channels, groups, names, weights, wrap, progress, label, t_start
) -> FitResult:
    target = host_target.to(dev)
    height, width, c = target.shape
    metas = channel_ranges(target, _channels(c, channels, groups, names), cfg.channel_range)
    lo, hi = (torch.from_numpy(a).to(dev) for a in _ranges(metas))
    w = _weights(c, weights).to(dev)
    wrap = (bool(wrap[0]), bool(wrap[1]))
    qcfg = packing.quant_config(cfg, height, width, [m.range for m in metas])
    lim = packing.limits(height, width, qcfg)

    if budget.target_psnr is not None:
        smallest = metrics.bppc(
            packing.size_bound(rate.SEARCH_MIN_GAUSSIANS, metas, height, width, qcfg, 1), height, width, c
        )
        if smallest > budget.max_bppc:
            raise ConfigError(
                f"max_bppc {budget.max_bppc} is below the smallest useful file for a "
                f"{width}x{height}x{c} stack ({smallest:.4g} bppc)"
            )
        return rate.fit_to_psnr(
            lambda b: _fit(host_target.numpy(), b, cfg, metas, None, None, w.cpu().numpy(), wrap, progress, label),
            budget,
            t_start,
            smallest,
        )

    plan = make_plan(cfg, height, width, progressive=True)
    lod_levels = 1 + len(plan.add_steps)
    if budget.bppc is not None:
        budget_bytes = rate.budget_bytes(budget.bppc, height, width, c)
        tail = packing.mip_tail(host_target, metas, budget_bytes, cfg.mip_tail)
        if tail is not None:  # every byte counts: the tail's come out of the Gaussians' budget
            budget_bytes -= packing.mip_tail_bytes(tail, height, width)
        n_total = packing.max_gaussians(budget_bytes, metas, height, width, qcfg, lod_levels)
        pcfg, n_pal = qcfg, n_total
        for _ in range(2):  # palette size follows the count, which follows the palette size
            pcfg = packing.with_palettes(cfg, qcfg, metas, n_pal)
            n_pal = packing.max_gaussians(budget_bytes, metas, height, width, pcfg, lod_levels)
        if n_pal > n_total:  # on a small file the palettes can cost more than they save
            qcfg, n_total = pcfg, n_pal
        if n_total < 1:
            floor = packing.size_bound(1, metas, height, width, qcfg, lod_levels)
            raise ConfigError(
                f"a budget of {budget.bppc} bppc ({budget_bytes} bytes) cannot hold even one "
                f"Gaussian for a {width}x{height}x{c} stack (needs {floor} bytes, "
                f"{metrics.bppc(floor, height, width, c):.4g} bppc)"
            )
    else:
        budget_bytes, tail = None, None
        n_total = int(budget.gaussians)
        qcfg = packing.with_palettes(cfg, qcfg, metas, n_total)
    n_total = min(n_total, rate.useful_gaussians(height, width))

    prog = Progress(cfg.steps, label=label, mode=progress)
    prog.message(f"{width}x{height}x{c}, {n_total} Gaussians, backend {backend}, quant {cfg.quant}")
    background = (target.mean(dim=(0, 1)) - lo) / (hi - lo)
    entries = None  # palette entries; None = the writer chooses them
    refined = None  # (PSNR with the k-means entries, after refinement)
    try:
        loop = run(
            target,
            w,
            n_total,
            cfg,
            plan,
            wrap,
            backend,
            lim,
            quantizer=packing.quantizer(qcfg, height, width, wrap) if cfg.qat_fraction > 0 else None,
            progress=prog,
            value_range=(lo, hi - lo),
        )
        g = loop.gaussians
        if qcfg.palettes and cfg.palette_refine_steps > 0:
            pal = refine.choose(g.values, qcfg)
            g, pal, before, after = refine.refine(
                g,
                pal,
                qcfg,
                target,
                w,
                lo,
                hi - lo,
                background,
                cfg,
                wrap,
                backend,
                lim,
                cfg.palette_refine_steps,
                height,
                width,
            )
            entries, refined = pal.entries, (before, after)
            prog.message(f"palette refinement: {before:.2f} -> {after:.2f} dB")
    finally:
        prog.close()
    data, keep = rate.pack_within(
        g.gaussians(height, width, background),
        metas,
        height,
        width,
        wrap,
        cfg.k,
        qcfg,
        lod_levels,
        budget_bytes,
        backend,
        cfg.threads,
        entries,
    )
    data = packing.with_mip_tail(data, tail)
    result = FitResult(
        data=data,
        gaussians=packing.unpack(data),
        height=height,
        width=width,
        wrap=wrap,
        k=cfg.k,
        channels=metas,
        metrics={},
        seconds=0.0,
        backend=backend,
        steps=loop.steps,
        config=cfg,
        budget=budget,
        history=loop.history,
    )
    result.metrics = evaluate(result, host_target.numpy())
    result.metrics["stopped_early"] = loop.stopped_early
    result.metrics["trimmed"] = int(g.n - keep)
    if refined:
        result.metrics["palette_refinement"] = {"psnr_before": refined[0], "psnr_after": refined[1]}
    result.seconds = time.monotonic() - t_start
    return result


def evaluate(result: FitResult, target: np.ndarray) -> dict:
    """Metrics of the packed result against target [H, W, C] (docs/METRICS.md)."""
    rec = result.render()
    groups = [c.group for c in result.channels]
    out = {
        "psnr": metrics.psnr(target, rec),
        "psnr_by_group": metrics.psnr_by_group(target, rec, groups),
        "bytes": len(result.data),
        "bppc": metrics.bppc(len(result.data), result.height, result.width, len(groups)),
        "gaussians": result.n,
    }
    normal = metrics.group_slices(groups).get("normal")
    if normal is not None and len(normal) == 3:
        out["normal_angle_deg"] = metrics.normal_angle_stats(target[..., normal], rec[..., normal])
    levels = sorted(set(result.gaussians.levels.tolist()))
    if len(levels) > 1:
        out["psnr_by_level"] = {
            str(lv): (out["psnr"] if lv == levels[-1] else metrics.psnr(target, result.render(max_level=lv)))
            for lv in levels
        }
    for k, v in list(out.items()):
        if isinstance(v, float) and math.isinf(v):
            out[k] = 999.0
    return out


__all__ = ["fit", "fit_material", "FitResult", "Budget", "FitConfig", "evaluate", "Limits"]
