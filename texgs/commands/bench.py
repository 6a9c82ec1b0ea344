"""`texgs bench render`: time the renderer backends and print JSON."""

from __future__ import annotations

import json

HELP = "benchmark the renderer backends (forward and forward+backward time)"
DESCRIPTION = """Benchmark the renderer backends and print JSON.

  texgs bench render [--sizes 512,1024,2048] [--channels 9] [--k 10]
                     [--bppc 0.06] [--repeat 3] [--backends reference,cpu,cuda]

The Gaussian count at each size is what the --bppc budget buys (see
texgs.bench.gaussian_count); positions and sizes mimic a real fit
(docs/benchmarks.md). Timings depend on the machine and its load."""

BACKENDS = ("reference", "cpu", "cuda")


def add_arguments(parser):
    parser.add_argument("what", choices=["render"], help="what to benchmark")
    parser.add_argument(
        "--sizes", default="512,1024,2048", help="comma-separated square image sizes in texels (default 512,1024,2048)"
    )
    parser.add_argument("--channels", type=int, default=9, help="channels C (default 9)")
    parser.add_argument("--k", type=int, default=10, help="top-K (default 10)")
    parser.add_argument(
        "--bppc", type=float, default=0.06, help="bits per texel per channel that set the Gaussian count (default 0.06)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per backend and size; the median is reported (default 3)"
    )
    parser.add_argument(
        "--backends", default=None, help="comma-separated subset of reference,cpu,cuda (default: all runnable)"
    )
    parser.add_argument(
        "--gaussians", type=int, default=None, help="a fixed Gaussian count instead of what --bppc buys"
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads, 0 = all (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic Gaussians")
    parser.add_argument(
        "--reference-max-pairs",
        type=float,
        default=None,
        help="skip the reference above this many texel x Gaussian pairs (default 6e9)",
    )


def _parse(args):
    from ..constants import MAX_CHANNELS, MAX_K
    from ..errors import ConfigError

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--sizes must be comma-separated integers, got {args.sizes!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise ConfigError(f"--sizes must list positive sizes, got {args.sizes!r}")
    if not 1 <= args.channels <= MAX_CHANNELS:
        raise ConfigError(f"--channels must be in 1..{MAX_CHANNELS}, got {args.channels}")
    if not 1 <= args.k <= MAX_K:
        raise ConfigError(f"--k must be in 1..{MAX_K}, got {args.k}")
    if not args.bppc > 0:
        raise ConfigError(f"--bppc must be positive, got {args.bppc}")
    if args.repeat < 1:
        raise ConfigError(f"--repeat must be at least 1, got {args.repeat}")
    if args.gaussians is not None and args.gaussians < 0:
        raise ConfigError(f"--gaussians must be >= 0, got {args.gaussians}")
    if args.threads < 0:
        raise ConfigError(f"--threads must be >= 0, got {args.threads}")
    backends = None
    if args.backends:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in backends if b not in BACKENDS]
        if unknown or not backends:
            raise ConfigError(
                f"--backends: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(BACKENDS)}"
            )
    return sizes, backends


def run(args) -> int:
    sizes, backends = _parse(args)
    from .. import bench

    options = {}
    if args.reference_max_pairs is not None:
        options["reference_max_pairs"] = args.reference_max_pairs
    result = bench.bench_render(
        sizes=sizes,
        channels=args.channels,
        k=args.k,
        bppc=args.bppc,
        repeat=args.repeat,
        backends=backends,
        threads=args.threads,
        seed=args.seed,
        gaussians=args.gaussians,
        **options,
    )
    print(json.dumps(result, indent=2))
    return 0
