"""`texgs info`: version, limits, which renderer backends were built and can
run, and the one `--backend auto` picks (texgs fit, the fit settings)."""

from __future__ import annotations

import json

HELP = "show the version, limits and available renderer backends"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def info() -> dict:
    from .. import __version__, constants
    from ..fit.device import fit_device
    from ..render import available_backends, resolve_backend
    from . import __name__ as _  # noqa: F401  (keeps this module importable alone)

    auto = resolve_backend("auto")
    return {
        "version": __version__,
        "limits": {"max_k": constants.MAX_K, "max_channels": constants.MAX_CHANNELS, "tile_size": constants.TILE_SIZE},
        "backends": available_backends(),
        "auto": {"backend": auto, "device": str(fit_device(auto))},
    }


def run(args) -> int:
    data = info()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"texgs {data['version']}")
    print(f"limits: K <= {data['limits']['max_k']}, channels <= {data['limits']['max_channels']}")
    for name, st in data["backends"].items():
        state = "runnable" if st["runnable"] else ("built, cannot run here" if st["built"] else "not built")
        detail = f" ({st['detail']})" if st.get("detail") else ""
        print(f"backend {name:9s} {state}{detail}")
    print(f"backend auto      = {data['auto']['backend']} (fits run on the {data['auto']['device']} device)")
    return 0
