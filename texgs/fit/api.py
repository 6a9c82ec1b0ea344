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

from .. import metrics, transfer
from ..channels import Channel
from ..constants import MAX_CHANNELS
from ..errors import ConfigError, InputError
from ..gaussians import Gaussians
from ..render import resolve_backend
from ..transfer import input_ranges, to_unit
from . import cutout, device, memory, packing, rate, refine
from .config import Budget, FitConfig
from .optimize import Limits, run
from .progress import Progress
from .schedule import fit_steps, make_plan


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
    #: Each channel's input range (fit.api.input_ranges, log2 channels encoded): the
    #: range relative to which metrics.psnr_in_range measures it.
    input_ranges: list[tuple[float, float]] = field(default_factory=list)

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
        return transfer.to_stored(out, lo, hi, [c.colour_space == "log2" for c in self.channels])

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
    """The stack as a float32 [H, W, C] tensor of finite values; InputError naming `source` if unusable.
    Values may lie outside [0, 1] (HDR, metres, nits): input_ranges maps them to unit space."""
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
        raise InputError(f"{source}: expected float values, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise InputError(f"{source}: contains NaN or infinite values")
    return torch.from_numpy(a)


def compose_ranges(metas: list[Channel], ranges) -> list[Channel]:
    """Channels whose packed unit range (a, b) was fitted inside input range (lo, hi):
    the file's range is lo + (hi - lo) * (a, b)."""
    out = []
    for m, (lo, hi) in zip(metas, ranges):
        a, b = m.range
        clo, chi = (float(np.float32(lo + (hi - lo) * t)) for t in (a, b))
        if not clo < chi:  # a sub-range narrower than float32 resolution of the input range
            clo, chi = float(np.float32(lo)), float(np.float32(hi))
        out.append(dataclasses.replace(m, range=(clo, chi)))
    return out


def _channels(c: int, channels, groups, names) -> list[Channel]:
    if channels is not None:
        if len(channels) != c:
            raise ConfigError(f"{len(channels)} channel descriptions for a {c}-channel stack")
        return list(channels)
    names = list(names) if names is not None else [f"c{i}" for i in range(c)]
    groups = list(groups) if groups is not None else list(names)
    if len(names) != c or len(groups) != c:
        raise ConfigError(f"need one channel name and group per channel ({c}), got {len(names)} and {len(groups)}")
    return [packing.file_channel(Channel(n, g)) for n, g in zip(names, groups)]


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
    encoding: 8/16-bit data scaled to [0, 1], float data with its real values)
    within `budget` (default 0.06 bppc). Each channel is fitted in unit space
    under its range (texgs.transfer.input_ranges: a Channel's declared range, or
    [0, 1], or the data's min..max; "log2" channels log2-encoded), and the file
    stores that range; metrics are relative to it (docs/METRICS.md).

    channels: a Channel per channel (or give names / groups: one per
    channel); weights: [C] loss weight per channel (default 1); wrap: (x, y)
    addressing, True = tileable; progress: "auto" | "bar" | "lines" | "off".
    The fit runs on the device of cfg.backend (texgs.fit.device.fit_device).
    """
    if config is not None and config.search_trials > 0:  # per-material settings (search.py)
        from .search import fit_searched

        def fit_with(cfg, b):
            return fit(
                stack,
                b,
                cfg,
                channels=channels,
                groups=groups,
                names=names,
                weights=weights,
                wrap=wrap,
                progress=progress,
                label=label,
            )

        groups_of = [ch.group for ch in channels] if channels is not None else (groups or names)
        h, w = np.shape(stack)[:2]  # the trials are a share of this size's step budget
        config = config.replace(steps=fit_steps(config, int(h), int(w)))
        return fit_searched(fit_with, budget or Budget(bppc=0.06), config, groups=groups_of)
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
    raw = check_stack(stack).numpy()
    backend = resolve_backend(cfg.backend, must_run=True)
    dev = device.fit_device(backend)
    h, w, c = raw.shape
    memory.check(h, w, c, cfg.k, "cpu" if dev.type == "cpu" else "cuda")  # before the unit-space copies
    chans = _channels(c, channels, groups, names)
    ranges = input_ranges(raw, chans)
    host_target = to_unit(raw, chans, ranges)
    if budget.target_psnr is not None:
        return _fit_to_psnr(raw, host_target, budget, cfg, chans, weights, wrap, progress, label, t_start)
    with device.deterministic(dev):
        result = _fit_on(host_target, backend, dev, budget, cfg, chans, weights, wrap, progress, label, t_start, ranges)
    # Measured in each channel's stored units, relative to its input range (docs/METRICS.md).
    result.metrics = {**evaluate(result, raw), **result.metrics}
    result.seconds = time.monotonic() - t_start
    return result


def _fit_to_psnr(raw, host_target, budget, cfg, chans, weights, wrap, progress, label, t_start) -> FitResult:
    h, w, c = host_target.shape
    qcfg = packing.quant_config(cfg, h, w, None)
    unit_metas = [dataclasses.replace(m, range=(0.0, 1.0)) for m in chans]
    smallest = metrics.bppc(packing.size_bound(rate.SEARCH_MIN_GAUSSIANS, unit_metas, h, w, qcfg, 1), h, w, c)
    if smallest > budget.max_bppc:
        raise ConfigError(
            f"max_bppc {budget.max_bppc} is below the smallest useful file for a "
            f"{w}x{h}x{c} stack ({smallest:.4g} bppc)"
        )
    return rate.fit_to_psnr(
        lambda b: _fit(raw, b, cfg, chans, None, None, weights, wrap, progress, label),
        budget,
        t_start,
        smallest,
    )


def _fit_on(
    host_target, backend, dev, budget, cfg, chans, weights, wrap, progress, label, t_start, ranges
) -> FitResult:
    """The fit of unit values host_target [H, W, C] (to_unit); the result's channels carry
    the packed ranges in stored units (compose_ranges of the input `ranges`)."""
    target = host_target.to(dev)
    height, width, c = target.shape
    unit_metas = [dataclasses.replace(m, range=(0.0, 1.0)) for m in chans]
    metas = channel_ranges(target, unit_metas, cfg.channel_range)
    # A log2 channel's lo is its transfer's offset (decoders subtract exp2(lo)): keep it.
    metas = [dataclasses.replace(m, range=(0.0, m.range[1])) if m.colour_space == "log2" else m for m in metas]
    lo, hi = (torch.from_numpy(a).to(dev) for a in _ranges(metas))
    w = _weights(c, weights).to(dev)
    wrap = (bool(wrap[0]), bool(wrap[1]))
    qcfg = packing.quant_config(cfg, height, width, [m.range for m in metas])
    lim = packing.limits(height, width, qcfg)

    plan = make_plan(cfg, height, width, progressive=True)
    lod_levels = packing.file_lod_levels(cfg, 1 + len(plan.add_steps))
    if budget.bppc is not None:
        full = rate.budget_bytes(budget.bppc, height, width, c)
        tail = packing.mip_tail(host_target, metas, full, cfg.mip_tail)
        reserved = 0 if tail is None else packing.mip_tail_bytes(tail, height, width)
        # every byte counts: the tail's come out of the Gaussians' budget
        budget_bytes, qcfg, n_total = rate.plan_file(
            budget.bppc, cfg, qcfg, metas, height, width, lod_levels, reserved=reserved
        )
    else:
        budget_bytes, tail = None, None
        n_total = int(budget.gaussians)
        qcfg = packing.with_palettes(cfg, qcfg, metas, n_total)
    n_total = min(n_total, rate.useful_gaussians(height, width))

    prog = Progress(plan.steps, label=label, mode=progress)
    prog.message(f"{width}x{height}x{c}, {n_total} Gaussians, backend {backend}, quant {cfg.quant}")
    background = (target.mean(dim=(0, 1)) - lo) / (hi - lo)
    masks = cutout.select(target, metas, cfg.alpha_test, cfg.alpha_cutoff, cfg.cutout_weight)
    term = masks if masks is not None and masks.weight > 0 else None  # weight 0: measured only
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
            cutout=term,
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
                term,
            )
            entries, refined = pal.entries, (before, after)
            prog.message(f"palette refinement: {before:.2f} -> {after:.2f} dB")
    finally:
        prog.close()
    stored_metas = compose_ranges(metas, ranges)
    data, keep = rate.pack_within(
        g.gaussians(height, width, background),
        stored_metas,
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
        channels=stored_metas,
        metrics={},
        seconds=0.0,
        backend=backend,
        steps=loop.steps,
        config=cfg,
        budget=budget,
        history=loop.history,
        input_ranges=list(ranges),
    )
    result.metrics = {"stopped_early": loop.stopped_early, "trimmed": int(g.n - keep)}
    if masks is not None:  # masks are [0, 1] data: their unit and stored values agree
        result.metrics["cutout"] = masks.report(result.render(), host_target.numpy(), metas)
    if refined:
        result.metrics["palette_refinement"] = {"psnr_before": refined[0], "psnr_after": refined[1]}
    return result


def evaluate(result: FitResult, target: np.ndarray) -> dict:
    """Metrics of the packed result against target [H, W, C] stored values (docs/METRICS.md):
    PSNR relative to each channel's input range (peak = hi - lo; [0, 1] for 8/16-bit data),
    and the log-luminance PSNR of an emissive RGB group held as float data.
    Errors are summed in float64 a band of rows at a time (metrics.squared_error_sums):
    beyond the decoded image, the measurement holds no full-size copy."""
    rec = result.render()
    chans = result.channels
    groups = [c.group for c in chans]
    lo, hi = metrics.linear_ranges(result.input_ranges or [(0.0, 1.0)] * len(chans), [c.colour_space for c in chans])
    unit = bool((lo == 0).all() and (hi == 1).all())  # 8/16-bit data: range units are the values
    texels = result.height * result.width
    slices = metrics.group_slices(groups)

    def sums(decoded):  # (a - 0) / (1 - 0) is a itself: skip two float64 passes per band
        return metrics.squared_error_sums(target, decoded, None if unit else lo, None if unit else hi)

    err = sums(rec)
    out = {
        "psnr": metrics.psnr_of_sums(err, texels),
        "psnr_by_group": {g: metrics.psnr_of_sums(err, texels, idx) for g, idx in slices.items()},
        "bytes": len(result.data),
        "bppc": metrics.bppc(len(result.data), result.height, result.width, len(groups)),
        "gaussians": result.n,
    }
    if any((a, b) != (0.0, 1.0) for a, b in zip(lo.tolist(), hi.tolist())):
        out["ranges"] = {c.name: [float(a), float(b)] for c, a, b in zip(chans, lo, hi)}

    def view(a, idx):  # adjacent channels (the usual case) as a view, not a copy
        return a[..., idx[0] : idx[-1] + 1] if idx == list(range(idx[0], idx[-1] + 1)) else a[..., idx]

    normal = slices.get("normal")
    if normal is not None and len(normal) == 3:
        out["normal_angle_deg"] = metrics.normal_angle_stats(view(target, normal), view(rec, normal))
    emissive = slices.get("emissive")
    if emissive is not None and len(emissive) == 3 and all(chans[i].colour_space != "srgb" for i in emissive):
        out["psnr_log_luminance_emissive"] = metrics.log_luminance_psnr(view(target, emissive), view(rec, emissive))
    levels = sorted(set(result.gaussians.levels.tolist()))
    if len(levels) > 1:
        out["psnr_by_level"] = {
            str(lv): (
                out["psnr"] if lv == levels[-1] else metrics.psnr_of_sums(sums(result.render(max_level=lv)), texels)
            )
            for lv in levels
        }
    for k, v in list(out.items()):
        if isinstance(v, float) and math.isinf(v):
            out[k] = 999.0
    return out


__all__ = ["fit", "fit_material", "FitResult", "Budget", "FitConfig", "evaluate", "Limits"]
