"""`texgs bake`: the batch pipeline and CI asset-build step."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "bake every material under a folder into packed runtime files (the CI asset-build step)"
DESCRIPTION = """\
Find every material under PATH, fit it to the target rate or quality, and write
per material OUT/<material>/: <name>.texgs (the runtime file), manifest.json and
preview PNGs; per run: OUT/report.json, OUT/junit.xml and a summary table.

Unchanged materials (same inputs, settings, backend and texgs version, and
outputs that still match their recorded digests) are skipped. Outputs are
replaced atomically; an interrupted bake leaves no partial file and the next
run resumes. --shard K/N bakes one part of a CI matrix (merge the reports with
`texgs report merge`); --cache DIR shares baked materials between runs,
shards and machines; --executor ray runs materials as tasks on a Ray cluster.

exit status:
  0    every material baked (or was unchanged) and passed its quality gates
  1    some material missed a quality gate (the others were still baked)
  2    some material could not be baked (bad input), a bad setting, or an
       output that cannot be written (full, read-only, not a folder)
  130  interrupted (report.json says what was written)
"""


def _group_floor(text: str) -> tuple[str, float]:
    group, sep, value = text.partition("=")
    try:
        if not sep or not group:
            raise ValueError
        return group, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected GROUP=DB such as albedo=30, got {text!r}") from None


def add_arguments(p):
    from ..fit.config import BACKENDS

    p.add_argument("path", type=Path, help="a folder of materials, one material folder, or an image")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--bppc", type=float, help="target bits per pixel per channel (from file bytes)")
    target.add_argument("--target-psnr", type=float, metavar="DB", help="target PSNR over all channels instead")
    p.add_argument("-o", "--out", type=Path, default=Path("texgs-out"), help="output folder (default: texgs-out)")
    p.add_argument(
        "--pipeline", default="default", help="pipeline YAML file, or a bundled name: default, ci-preview, high-quality"
    )
    p.add_argument("--jobs", type=int, default=1, help="materials baked in parallel (default 1)")
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="bake only the K-th of N parts (by a hash of each material's key), for CI matrices",
    )
    p.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="shared build cache: copy materials already baked with the same build key "
        "(default: the pipeline's 'cache')",
    )
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: this machine (--jobs); ray: one Ray task per material (pip install texgs[ray])",
    )
    p.add_argument(
        "--ray-address", metavar="ADDR", help="Ray cluster to use (default: $RAY_ADDRESS, else a local instance)"
    )
    p.add_argument(
        "--task-cpus", type=int, default=1, metavar="N", help="CPUs each Ray task declares and fits with (default 1)"
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="Ray: times a task whose worker died is retried before it fails (default 2)",
    )
    p.add_argument(
        "--backend", choices=BACKENDS, help="renderer backend of the fits (default: the pipeline's; see texgs info)"
    )
    p.add_argument("--seed", type=int, help="random seed (default: pipeline's)")
    p.add_argument("--addressing", choices=("auto", "wrap", "clamp"), help="texture addressing (default: pipeline's)")
    p.add_argument(
        "--supercompress",
        choices=("none", "zstd"),
        help="also write <name>.texgs.zst, the exact .texgs bytes in one zstd frame, the distribution "
        "form (docs/FORMAT.md); the manifest records both sizes (default: pipeline's outputs.supercompress)",
    )
    p.add_argument("--force", action="store_true", help="rebuild materials even when unchanged")
    p.add_argument("--dry-run", action="store_true", help="list what would be baked or skipped; write nothing")
    p.add_argument(
        "--resample",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="resize maps of different sizes to the largest (default: the pipeline's 'resample', on)",
    )
    g = p.add_argument_group("quality gates (add to the pipeline's)")
    g.add_argument("--min-psnr", type=float, metavar="DB", help="fail a material below this PSNR over all channels")
    g.add_argument(
        "--min-group-psnr",
        type=_group_floor,
        action="append",
        default=[],
        metavar="GROUP=DB",
        help="fail a material whose channel group is below DB (repeatable), e.g. albedo=30",
    )
    g.add_argument("--max-normal-error", type=float, metavar="DEG", help="fail above this mean normal error")
    p.add_argument("--report", type=Path, help="report JSON path (default OUT/report.json)")
    p.add_argument("--junit", type=Path, help="JUnit XML path (default OUT/junit.xml)")
    p.add_argument("--json", action="store_true", help="print the report JSON instead of the table")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "off"),
        default="auto",
        help="progress display (auto: a bar on a terminal, timestamped lines otherwise)",
    )


def run(args) -> int:
    from ..bake import BakeOptions, bake, load_pipeline, summary_table
    from ..bake.shard import parse as parse_shard
    from ..errors import ConfigError

    pipe = load_pipeline(args.pipeline)
    changes = {
        "target.bppc": args.bppc,
        "target.target_psnr": args.target_psnr,
        "backend": args.backend,
        "seed": args.seed,
        "addressing": args.addressing,
        "gates.psnr_min": args.min_psnr,
        "gates.normal_error_mean_max_deg": args.max_normal_error,
        "outputs.supercompress": args.supercompress,
    }
    if args.min_group_psnr:
        changes["gates.group_psnr_min"] = {**pipe.gates.group_psnr_min, **dict(args.min_group_psnr)}
    pipe = pipe.override(**changes)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    if args.task_cpus < 1 or args.retries < 0:
        raise ConfigError("--task-cpus must be at least 1 and --retries at least 0")
    if args.executor == "local" and args.ray_address:
        raise ConfigError("--ray-address needs --executor ray")
    if args.executor == "ray":
        from ..bake.executors import import_ray

        import_ray()  # says how to install it before any work
    cache = args.cache if args.cache is not None else (Path(pipe.cache) if pipe.cache else None)
    opts = BakeOptions(
        out=args.out,
        pipeline=pipe,
        jobs=args.jobs,
        force=args.force,
        dry_run=args.dry_run,
        resample=args.resample,
        progress=args.progress,
        report=args.report,
        junit=args.junit,
        shard=parse_shard(args.shard) if args.shard else None,
        cache=cache,
        executor=args.executor,
        ray_address=args.ray_address,
        task_cpus=args.task_cpus,
        retries=args.retries,
    )
    status, report = bake(args.path, opts)
    from ..writers import json_safe

    print(json.dumps(json_safe(report), indent=2) if args.json else summary_table(report))
    return status
