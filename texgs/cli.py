"""The ``texgs`` command line: a thin layer over the library API."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import TexgsError

# Sub-command name -> module in texgs.commands, in the order --help lists them.
COMMANDS = ["bake", "report", "fit", "compare", "inspect", "decode", "transcode", "bench", "info"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="texgs",
        description="Compress PBR material stacks into n-channel 2D Gaussians (Image-GS).",
    )
    parser.add_argument("--version", action="version", version=f"texgs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"texgs.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"texgs.commands.{name}":
                continue  # command not part of this build
            raise
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except TexgsError as e:
        print(f"texgs {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"texgs {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `texgs inspect F | head`): stop quietly,
        # and point stdout at devnull so the interpreter's final flush does not fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
