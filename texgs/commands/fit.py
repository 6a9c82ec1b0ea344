"""`texgs fit PATH --bppc 0.06 -o OUT`: fit one material and write
OUT/<name>.texgs, OUT/<name>.json (metrics and settings) and preview PNGs."""

from __future__ import annotations

HELP = "fit one material to a bit budget and write its packed .texgs file"
DESCRIPTION = """\
Fit n-channel 2D Gaussians (Image-GS) to one material and pack them.

PATH is a material folder (maps detected by name, see `texgs inspect`).
Exactly one budget: --bppc (bits per pixel per channel of the written file),
--gaussians, or --target-psnr (dB over all channels).

Writes OUT/<name>.texgs, OUT/<name>.json and OUT/<name>_<group>.png previews
(decoded from the packed bytes) beside OUT/<name>_<group>_ref.png.
"""


def add_arguments(parser):
    from ..fit.config import BACKENDS, PRESETS, QUANT_PRESETS

    parser.add_argument("path", help="material folder")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--bppc", type=float, help="bits per pixel per channel (default 0.06)")
    budget.add_argument("--gaussians", type=int, help="number of Gaussians")
    budget.add_argument("--target-psnr", type=float, help="smallest rate reaching this PSNR (dB)")
    parser.add_argument("-o", "--out", default="fit_out", help="output folder (default fit_out)")
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="default",
        help="step schedule: default, fast (previews), thorough (4x the steps, near a "
        "10K-step run's quality) or paper (Image-GS, 5K full-res steps)",
    )
    parser.add_argument("--steps", type=int, help="override the preset's step count")
    parser.add_argument("--quant", choices=list(QUANT_PRESETS), help="bit allocation of the packed records")
    parser.add_argument("--no-qat", action="store_true", help="no quantisation-aware training")
    parser.add_argument("--no-coarse-to-fine", action="store_true", help="train at full resolution only")
    parser.add_argument(
        "--wrap",
        choices=["auto", "none", "x", "y", "both"],
        default="auto",
        help="addressing: auto (wrap the axes where the maps tile, the default), none (clamp), x, y or both",
    )
    parser.add_argument("--k", type=int, help="Gaussians blended per texel (default 10)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="renderer backend, which also sets where the fit runs: auto (cuda when it can "
        "run, else cpu; `texgs info` shows the choice), reference, cpu or cuda (GPU)",
    )
    parser.add_argument("--threads", type=int, help="renderer threads (0 = all)")
    parser.add_argument("--progress", choices=["auto", "bar", "lines", "off"], default="auto")
    parser.add_argument("--no-previews", action="store_true", help="skip the preview PNGs")


def config_from_args(args):
    """FitConfig from the preset and the explicit overrides."""
    from ..fit.config import PRESETS

    changes = {}
    for arg, key in (
        ("steps", "steps"),
        ("quant", "quant"),
        ("k", "k"),
        ("seed", "seed"),
        ("backend", "backend"),
        ("threads", "threads"),
    ):
        if getattr(args, arg) is not None:
            changes[key] = getattr(args, arg)
    if args.no_qat:
        changes["qat_fraction"] = 0.0
    if args.no_coarse_to_fine:
        changes["pyramid"], changes["pyramid_steps"] = (1,), (1.0,)
    return PRESETS[args.preset](**changes)


def budget_from_args(args):
    from ..fit.config import Budget

    if args.gaussians is not None:
        return Budget(gaussians=args.gaussians)
    if args.target_psnr is not None:
        return Budget(target_psnr=args.target_psnr)
    return Budget(bppc=0.06 if args.bppc is None else args.bppc)


def write_previews(out_dir, name, result, target):
    """One PNG per channel group (up to 3 channels, 8-bit): decoded and reference, each
    channel shown over its range (metres, nits: 0 = lo, 255 = hi; docs/METRICS.md)."""
    import numpy as np

    from ..metrics import group_slices, linear_ranges, to_range_units
    from ..writers import write_png

    lo, hi = linear_ranges(result.input_ranges, [c.colour_space for c in result.channels])
    rec = np.clip(to_range_units(result.render(), lo, hi), 0.0, 1.0)
    target = np.clip(to_range_units(target, lo, hi), 0.0, 1.0)
    written = []
    for group, idx in group_slices([c.group for c in result.channels]).items():
        for suffix, img in (("", rec), ("_ref", target)):
            sel = img[..., idx[:3]]
            if sel.shape[2] == 2:
                sel = np.concatenate([sel, np.zeros_like(sel[..., :1])], axis=2)
            path = out_dir / f"{name}_{group}{suffix}.png"
            write_png(path, sel)
            written.append(path)
    return written


def run(args) -> int:
    import json
    from pathlib import Path

    from .. import ingest
    from ..errors import ConfigError, InputError
    from ..fit import memory
    from ..fit.api import fit_material

    src = Path(args.path)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    cfg = config_from_args(args)
    budget = budget_from_args(args)
    try:  # from the image headers, before any map is decoded
        memory.check_maps(src, cfg.k, cfg.backend)
    except ConfigError as e:
        raise ConfigError(f"{src}: {e}") from None
    material = ingest.load(src)
    name, stack = material.name, material.pixels
    if args.wrap == "auto":
        from ..ingest import tiles_seamlessly

        wrap = tiles_seamlessly(stack)
    else:
        wrap = {"none": (False, False), "x": (True, False), "y": (False, True), "both": (True, True)}[args.wrap]
    result = fit_material(material, budget, cfg, wrap=wrap, progress=args.progress, label=name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texgs_path = out / f"{name}.texgs"
    tmp = texgs_path.with_suffix(".texgs.tmp")
    tmp.write_bytes(result.data)
    tmp.replace(texgs_path)  # never leave a partial file under the final name
    summary = result.summary()
    summary["source"] = str(src)
    (out / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not args.no_previews:
        write_previews(out, name, result, stack)
    m = result.metrics
    groups = ", ".join(f"{g} {p:.2f}" for g, p in m["psnr_by_group"].items())
    print(
        f"{texgs_path}: {m['bytes']} bytes, {m['bppc']:.4f} bppc, {m['gaussians']} Gaussians, "
        f"PSNR {m['psnr']:.2f} dB ({groups}), {result.seconds:.1f} s, {result.steps} steps, "
        f"backend {result.backend}"
    )
    return 0
