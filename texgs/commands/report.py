"""`texgs report merge`: one run report from the shards of a bake."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "merge the report.json/junit.xml of a sharded bake (texgs bake --shard K/N) into one"
DESCRIPTION = """\
texgs report merge OUT... [-o DIR]

Read each shard's report (an output folder or its report.json), check that they
are the shards of one bake (same settings, backend and texgs version; every
shard 1..N exactly once; no material twice), and write one report.json and
junit.xml covering every material. Exit status follows the bake's rules over
all materials: 0 all good, 1 some material missed a gate, 2 some could not be
baked (or a shard stopped on an error, or the reports do not fit together),
130 some shard was interrupted.
"""


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = sub.add_parser(
        "merge",
        help="merge shard reports",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("reports", type=Path, nargs="+", metavar="OUT", help="a shard's output folder or its report.json")
    m.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("texgs-report"),
        help="folder for the merged report.json and junit.xml (default: texgs-report)",
    )
    m.add_argument("--report", type=Path, help="merged report JSON path (default OUT/report.json)")
    m.add_argument("--junit", type=Path, help="merged JUnit XML path (default OUT/junit.xml)")
    m.add_argument("--json", action="store_true", help="print the merged report JSON instead of the table")


def run(args) -> int:
    from ..bake import atomic, summary_table
    from ..bake import report as report_mod
    from ..bake.junit import junit_xml
    from ..writers import json_safe

    merged = report_mod.merge([report_mod.load(p) for p in args.reports])
    report_path = args.report or args.out / "report.json"
    junit_path = args.junit or args.out / "junit.xml"
    for folder in {report_path.parent, junit_path.parent}:
        atomic.prepare_dir(folder, "report folder")
    atomic.write_bytes_atomic(report_path, json.dumps(json_safe(merged), indent=2).encode())
    atomic.write_bytes_atomic(junit_path, junit_xml(merged["materials"], seconds=merged["seconds"]))
    print(json.dumps(json_safe(merged), indent=2) if args.json else summary_table(merged))
    return merged["exit_status"]
