"""`texgs compare`: texgs and the block-codec baselines at equal bitrate, as a report."""

from __future__ import annotations

HELP = "compare texgs with BC1/BC7/ASTC, the engine texture set and AVIF/JPEG XL/WebP at equal bitrate"
DESCRIPTION = """\
Runs texgs and block-codec baselines on the same material channels and writes
REPORT_DIR/results.json, results.csv, rd_*.png and index.html.

Baselines use the real encoders: BC1 NVIDIA Texture Tools 2 (nvcompress), BC7
bc7enc (PyPI etcpak), ASTC ARM astcenc, and the engine set (BC7 albedo, BC5
normal, BC4 scalars); all decoded with texture2ddecoder. Block codecs are run
on mip levels 1-5, upsampled bilinearly and measured at full size; figures at
each requested rate are interpolated in log-rate on each family's Pareto
frontier (see docs/compare.md). AVIF, JPEG XL and WebP (PyPI imagecodecs) are
whole-image references labelled "no random access": one quality per material
and rate, the highest whose file bytes fit the rate. A missing encoder is named
with how to install it, and the other methods still run. A material that cannot be read is reported
as failed with its reason, the others are still measured, and the command then
exits with status 2.
"""


#: texgs.compare.run.METHOD_NAMES, spelled out so that building the parser does not import torch.
METHODS = "texgs,BC1,BC7,ASTC,engine-set,AVIF,JXL,WebP"


def add_arguments(parser):
    parser.add_argument(
        "inputs", nargs="+", metavar="MATERIAL_OR_DIR", help="a material folder, or a folder of material folders"
    )
    parser.add_argument(
        "--bppc",
        default="0.03,0.06,0.12",
        help="comma-separated rates in bits per pixel per channel (default 0.03,0.06,0.12)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="REPORT_DIR", help="folder for the report")
    parser.add_argument(
        "--methods",
        default=METHODS,
        help=f"comma-separated subset of {METHODS} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="astcenc -medium instead of -thorough, texgs quick fit (figures differ from the reference)",
    )
    parser.add_argument(
        "--astc-blocks",
        default="reference",
        help="'reference' (4x4,6x6,8x8,12x12), 'all' (every 2D footprint), or a list like 4x4,5x5",
    )
    parser.add_argument(
        "--no-extended", action="store_true", help="PSNR only: skip SSIM, MS-SSIM, normal angular error and FLIP"
    )
    parser.add_argument("--threads", type=int, default=1, help="astcenc threads (results do not depend on it)")
    parser.add_argument("--seed", type=int, default=0, help="texgs fitting seed")
    parser.add_argument(
        "--texgs-preset",
        default="default",
        help="texgs fit preset (texgs fit --preset): default, search (settings chosen per material "
        "by measurement, about 4x the time), thorough, ... (--quick: fast)",
    )


def _rates(text: str) -> tuple[float, ...]:
    from ..errors import ConfigError

    try:
        rates = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--bppc {text!r}: expected comma-separated numbers like 0.03,0.06") from None
    if not rates:
        raise ConfigError("--bppc: no rate given")
    return rates


def run(args) -> int:
    import sys

    from ..compare.api import compare
    from ..compare.codecs import ASTC_ALL_BLOCKS, ASTC_REFERENCE_BLOCKS
    from ..compare.run import Settings
    from ..errors import ConfigError

    blocks = {"reference": ASTC_REFERENCE_BLOCKS, "all": ASTC_ALL_BLOCKS}.get(
        args.astc_blocks, tuple(b.strip() for b in args.astc_blocks.split(",") if b.strip())
    )
    for b in blocks:
        if b not in ASTC_ALL_BLOCKS:
            raise ConfigError(f"--astc-blocks: {b!r} is not a 2D ASTC block size ({', '.join(ASTC_ALL_BLOCKS)})")
    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    settings = Settings(
        rates=_rates(args.bppc),
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        quick=args.quick,
        astc_blocks=blocks,
        threads=args.threads,
        extended_metrics=not args.no_extended,
        seed=args.seed,
        texgs_preset=args.texgs_preset,
    )
    results, files, failed = compare(
        args.inputs, settings, args.output, log=lambda m: print(m, file=sys.stderr, flush=True)
    )
    for r in results:
        for row in r.rows:
            psnr = row.get("psnr")
            fig = "n/a" if psnr is None else f"{psnr:6.2f} dB"
            print(f"{r.material:40s} {row['method']:10s} {row['requested_bppc']:<6g} {fig}")
    print(f"report: {files['html']}")
    for f in failed:
        print(f"FAILED {f.material}: {f.reason}")
    if failed:
        # Like `texgs bake`: every material that could be measured was; the run still failed.
        print(f"texgs compare: {len(failed)} material(s) failed, {len(results)} measured", file=sys.stderr)
        return 2
    return 0
