"""Per-material settings by measurement (FitConfig.search(), `texgs fit --preset search`).

The defaults were chosen on the mean of the benchmark set; a material's own
best settings can differ (a noise-like texture wants more, coarser Gaussians, a
small file a smaller index). With a bppc budget and cfg.search_trials = T > 0:

1. short fits (cfg.search_trial_fraction of the schedule) of the first T
   candidate settings: cfg itself, then the single changes of candidates(),
   each at the same rate (bytes counted as always), and, when two changes of
   different settings both beat cfg, one more of the two together;
2. a full fit of cfg and, when another candidate scored a higher PSNR in its
   short fit, a full fit of that one; the higher PSNR of the two is kept.

So the result is never below a plain fit with cfg (same seed, same bytes if
cfg wins), and it costs at most 2 + (T + 1) * search_trial_fraction plain fits. The
trial count, not wall-clock time, bounds the work, so the written bytes depend
only on the input, the settings, the seed and the backend. metrics["search"]
records every trial and the choice.
"""

from __future__ import annotations

import time

from ..errors import ConfigError
from . import packing
from .config import Budget, FitConfig

#: Trials never run shorter than this many steps.
MIN_TRIAL_STEPS = 20
#: Gaussians per texel of the default fit of a 1024^2 x 9 material at 0.06 bppc (8,606):
#: the decode work a radius bound of 24 costs there is the search's reference.
REFERENCE_DENSITY = 8606 / 1024**2
#: Largest radius bound the equal-work rule proposes, and the least gain worth a trial.
MAX_EQUAL_WORK_RADIUS = 64.0
MIN_RADIUS_STEP = 1.2
#: The palette cut: every palette but the one with the largest share of the error gets
#: this many index bits fewer than the automatic size, and at least PALETTE_CUT_MIN_BITS.
PALETTE_CUT_BITS = 4
PALETTE_CUT_MIN_BITS = 2


def equal_work_radius(cfg: FitConfig, gaussians: int, texels: int) -> float:
    """The radius bound whose decode window holds as many records per texel as cfg.max_radius
    does at REFERENCE_DENSITY: the window is about (2R)^2 texels, so R scales with
    1 / sqrt(Gaussians per texel). A small file's sparse Gaussians can be wider at no
    more work per texel than a 1024^2 file costs by default."""
    density = max(gaussians, 1) / max(texels, 1)
    return min(MAX_EQUAL_WORK_RADIUS, cfg.max_radius * (REFERENCE_DENSITY / density) ** 0.5)


def all_in_palettes(cfg: FitConfig, groups: list[str] | None) -> bool:
    """Whether every channel's value is a palette entry (then cfg.value_bits changes nothing)."""
    if groups is None or cfg.palettes == "off" or cfg.quant != "fixed":
        return False
    from ..channels import Channel

    chans = [Channel(f"c{i}", g) for i, g in enumerate(groups)]
    covered = {c for g in packing.palette_groups(chans, scalars=cfg.palettes == "groups+scalars") for c in g}
    return len(covered) == len(groups)


def palette_cut(cfg: FitConfig, gaussians: int, groups: list[str] | None, group_psnr: dict | None) -> dict | None:
    """The palette sizes that spend the index bits where the error is: from cfg's own fit
    (its Gaussian count and PSNR of each channel group, metrics["psnr_by_group"]), the
    palette holding the largest share of the squared error keeps the automatic size and the
    others are cut by PALETTE_CUT_BITS. Maps whose detail the Gaussians do not resolve at
    the rate (a fabric's woven normal and roughness) then cost few bits per record, which
    buy more Gaussians for the group that needs them. None when there is nothing to cut."""
    if groups is None or not group_psnr or cfg.palettes == "off" or cfg.quant != "fixed":
        return None
    from ..channels import Channel

    chans = [Channel(f"c{i}", g) for i, g in enumerate(groups)]
    palettes = packing.palette_groups(chans, scalars=cfg.palettes == "groups+scalars")
    if len(palettes) < 2 or any(chans[i].group not in group_psnr for p in palettes for i in p):
        return None

    def error(p):  # its channels' share of the summed squared error (PSNR peak 1)
        return sum(10.0 ** (-group_psnr[chans[i].group] / 10.0) for i in p)

    auto = cfg.palette_bits or packing.palette_bits_for(gaussians)
    named = dict(cfg.palette_bits_by_group)
    keep = max(palettes, key=error)
    cut = {}
    for p in palettes:
        name = packing.palette_name(chans, p)
        bits = max(PALETTE_CUT_MIN_BITS, auto - PALETTE_CUT_BITS)
        if p != keep and bits < named.get(name, auto):
            cut[name] = bits
    return {"palette_bits_by_group": tuple(sorted({**named, **cut}.items()))} if cut else None


def candidates(
    cfg: FitConfig,
    gaussians: int,
    groups: list[str] | None = None,
    texels: int = 0,
    group_psnr: dict | None = None,
) -> list[dict]:
    """Single-setting changes of cfg the search tries after cfg itself, in order. `gaussians`
    is the count of cfg's own fit (it sets the automatic palette size), `group_psnr` its PSNR
    per channel group (palette_cut); `groups`, the channel groups, tell whether any value is
    stored outside a palette (else the palette entries' bits are tried instead of the
    records' value bits). The radius bound, the decode cost's main term, is raised only to
    cfg.search_max_radius or, when that is 0, to the equal-work radius of a file of
    `texels` texels (equal_work_radius)."""
    r_cap = cfg.search_max_radius or cfg.max_radius
    if not cfg.search_max_radius and texels:
        wide = round(equal_work_radius(cfg, gaussians, texels))
        r_cap = float(wide) if wide >= MIN_RADIUS_STEP * cfg.max_radius else cfg.max_radius
    auto_bits = cfg.palette_bits or packing.palette_bits_for(gaussians)
    vb = "palette_value_bits" if all_in_palettes(cfg, groups) else "value_bits"
    cut = palette_cut(cfg, gaussians, groups, group_psnr)
    out = [cut] if cut else []  # first: the largest gains measured (docs/benchmarks.md)
    out += [
        {vb: getattr(cfg, vb) - 1},  # more, coarser Gaussians
        {vb: getattr(cfg, vb) + 1},  # fewer, finer ones
        {"palette_bits": min(12, auto_bits + 1)},  # a palette twice the automatic size
        {"palette_bits": max(1, auto_bits - 1)},  # half the automatic size
        {"strip_height": min(256, cfg.strip_height * 2)},  # half the index, 1 more bit of y per record
    ]
    if r_cap > cfg.max_radius:  # wider Gaussians where they are sparse
        out.append({"max_radius": float(r_cap)})
    out.append({"max_radius": round(cfg.max_radius * 2 / 3, 3)})  # finer inverse-scale steps, cheaper decode
    seen, kept = set(), []
    for c in out:
        key = tuple(sorted(c.items()))
        if key in seen or all(getattr(cfg, k) == v for k, v in c.items()):
            continue
        try:
            cfg.replace(**c)
        except ConfigError:  # outside a setting's range (e.g. value_bits 0)
            continue
        seen.add(key)
        kept.append(c)
    return kept


def trial_config(cfg: FitConfig) -> FitConfig:
    """cfg's schedule shortened to cfg.search_trial_fraction (additions, checks and palette
    refinement scaled with it, as FitConfig.fast() does). cfg.steps is the fit's resolved
    step budget (schedule.fit_steps), not 0."""
    if cfg.steps < 1:
        raise ValueError("trial_config needs the fit's step budget (schedule.fit_steps), not steps = 0")
    f = cfg.search_trial_fraction

    def scaled(v: int, lo: int = 1) -> int:
        return max(lo, int(round(v * f)))

    return cfg.replace(
        steps=scaled(cfg.steps, MIN_TRIAL_STEPS),
        add_every=scaled(cfg.add_every),
        eval_every=scaled(cfg.eval_every),
        plateau_steps=scaled(cfg.plateau_steps),
        palette_refine_steps=scaled(cfg.palette_refine_steps, 0) if cfg.palette_refine_steps else 0,
        search_trials=0,
    )


def combined(trials: list[dict]) -> dict | None:
    """The two best single changes together, when they change different settings and each
    beat the configured trial (trials[0]); None otherwise."""
    better = sorted(
        (t for t in trials[1:] if t["psnr"] > trials[0]["psnr"] and len(t["changes"]) == 1),
        key=lambda t: -t["psnr"],
    )
    if len(better) < 2 or set(better[0]["changes"]) == set(better[1]["changes"]):
        return None
    return {**better[0]["changes"], **better[1]["changes"]}


def fit_searched(fit_with, budget: Budget, cfg: FitConfig, groups: list[str] | None = None, log=lambda msg: None):
    """The search of the module docstring. fit_with(config, budget) runs one plain fit and
    returns its FitResult; groups: the channel groups (see candidates)."""
    if budget.bppc is None:
        raise ConfigError("the per-material search (search_trials > 0) needs a bppc budget")
    t0 = time.monotonic()
    plain = cfg.replace(search_trials=0)
    short = trial_config(plain)
    trials = []

    def trial(changes: dict):
        r = fit_with(short.replace(**changes), budget)
        trials.append({"changes": changes, "psnr": r.metrics["psnr"], "gaussians": r.n, "seconds": round(r.seconds, 2)})
        log(f"search trial {changes or 'as configured'}: {r.metrics['psnr']:.2f} dB, {r.n} Gaussians")
        return r

    first = trial({})
    texels = first.height * first.width
    group_psnr = first.metrics.get("psnr_by_group")
    for changes in candidates(plain, first.n, groups, texels, group_psnr)[: max(0, cfg.search_trials - 1)]:
        trial(changes)
    both = combined(trials)
    if both:
        trial(both)
    best = max(trials, key=lambda t: (t["psnr"], -trials.index(t)))
    final = {"changes": {}, "result": fit_with(plain, budget)}
    finals = [{"changes": {}, "psnr": final["result"].metrics["psnr"]}]
    if best["changes"]:
        challenger = fit_with(plain.replace(**best["changes"]), budget)
        finals.append({"changes": best["changes"], "psnr": challenger.metrics["psnr"]})
        if challenger.metrics["psnr"] > final["result"].metrics["psnr"]:
            final = {"changes": best["changes"], "result": challenger}
    result = final["result"]
    result.metrics["search"] = {
        "trials": trials,
        "trial_steps": short.steps,
        "full_fits": finals,
        "chosen": final["changes"],
        "psnr_gain_db": result.metrics["psnr"] - finals[0]["psnr"],
    }
    result.seconds = time.monotonic() - t0
    return result
