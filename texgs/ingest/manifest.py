"""``material.yaml``: the manifest a user puts beside a material's files when
names alone do not say enough. Schema documented in docs/ingest.md.

Validated strictly: an unknown key, a wrong type or an unknown role is a
ConfigError naming the key and the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .roles import GROUPS, MAP_KINDS, VECTOR_GROUPS

MANIFEST_NAME = "material.yaml"
SCHEMA_VERSION = 1

CONVENTIONS = ("gl", "dx")
COLOUR_SPACES = ("srgb", "linear")


@dataclass(frozen=True)
class FileOptions:
    """Overrides for one file of the material (``files:`` entry).

    channels: explicit packing, ((source channels, group or "skip"), ...),
        e.g. ((("R", "G", "B"), "normal"), (("A",), "roughness")); replaces the
        packing the role implies.
    """

    role: str | None = None
    colour_space: str | None = None
    normal_convention: str | None = None
    channels: tuple[tuple[tuple[str, ...], str], ...] | None = None
    convert: str | None = None  # "roughness": gloss/smoothness stored as 1 - x
    skip: bool = False
    range: tuple[float, float] | None = None  # declared value range of the file's channels (float data)
    transfer: str | None = None  # "log2": fit and store the channels log2-encoded (HDR, values >= 0)


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str | None = None
    require_albedo: bool = True
    resample: bool | None = None  # None: the caller's setting (resampling by default)
    normal_convention: str | None = None  # default for normal maps whose name does not say
    grey_albedo: str = "rgb"  # "rgb": a grey albedo is sampled as RGB (3 channels); "single": 1
    weights: dict[str, float] = field(default_factory=dict)  # group or channel role -> loss weight
    skip: tuple[str, ...] = ()  # file names or channel groups
    files: dict[str, FileOptions] = field(default_factory=dict)


_TOP_KEYS = (
    "schema_version",
    "name",
    "require_albedo",
    "resample",
    "normal_convention",
    "grey_albedo",
    "weights",
    "skip",
    "files",
)
_FILE_KEYS = ("role", "colour_space", "normal_convention", "channels", "convert", "skip", "range", "transfer")
TRANSFERS = ("linear", "log2")
_ROLES = {r for roles in GROUPS.values() for r in roles}


def _err(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {problem}")


def _check_keys(path: Path, where: str, data: dict, allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise _err(path, where, f"unknown key '{key}' (allowed: {', '.join(allowed)})")


def _choice(path: Path, where: str, value, allowed) -> str:
    if value not in allowed:
        raise _err(path, where, f"'{value}' is not one of {', '.join(map(str, allowed))}")
    return value


def _bool(path: Path, where: str, value) -> bool:
    if not isinstance(value, bool):
        raise _err(path, where, f"expected true or false, got {value!r}")
    return value


def split_channel_key(key: str) -> tuple[str, ...]:
    """ "RGB" -> ("R", "G", "B"); "R,G,B" or "diffuse.R, Z" -> names; "A" -> ("A",)."""
    if "," in key:
        return tuple(part.strip() for part in key.split(","))
    if len(key) > 1 and set(key) <= set("RGBAY"):
        return tuple(key)
    return (key,)


def _channels(path: Path, where: str, value) -> tuple[tuple[tuple[str, ...], str], ...]:
    if not isinstance(value, dict) or not value:
        raise _err(path, where, "expected a mapping of source channels to groups, e.g. {RGB: normal, A: roughness}")
    out = []
    groups = [g for g in GROUPS if g != "extra"]
    for key, group in value.items():
        src = split_channel_key(str(key))
        _choice(path, f"{where}.{key}", group, groups + ["skip"])
        need = 3 if group in VECTOR_GROUPS else 1
        if group != "skip" and len(src) != need and not (group == "albedo" and len(src) == 1):
            raise _err(path, f"{where}.{key}", f"group {group} takes {need} source channel(s), got {len(src)}")
        out.append((src, group))
    return tuple(out)


def _file_options(path: Path, name: str, data) -> FileOptions:
    where = f"files.{name}"
    if not isinstance(data, dict):
        raise _err(path, where, f"expected a mapping ({', '.join(_FILE_KEYS)})")
    _check_keys(path, where, data, _FILE_KEYS)
    opts = {}
    if "role" in data:
        opts["role"] = _choice(path, f"{where}.role", data["role"], list(MAP_KINDS))
    if "colour_space" in data:
        opts["colour_space"] = _choice(path, f"{where}.colour_space", data["colour_space"], COLOUR_SPACES)
    if "normal_convention" in data:
        opts["normal_convention"] = _choice(path, f"{where}.normal_convention", data["normal_convention"], CONVENTIONS)
    if "channels" in data:
        opts["channels"] = _channels(path, f"{where}.channels", data["channels"])
    if "convert" in data:
        opts["convert"] = _choice(path, f"{where}.convert", data["convert"], ("roughness",))
    if "skip" in data:
        opts["skip"] = _bool(path, f"{where}.skip", data["skip"])
    if "range" in data:
        opts["range"] = _range(path, f"{where}.range", data["range"])
    if "transfer" in data:
        opts["transfer"] = _choice(path, f"{where}.transfer", data["transfer"], TRANSFERS)
    if opts.get("transfer") == "log2" and opts.get("range") and opts["range"][0] != 0.0:
        raise _err(path, f"{where}.range", "a log2 channel spans [0, peak]: give range: [0, peak]")
    return FileOptions(**opts)


def _range(path: Path, where: str, value) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or not (math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] < value[1]):
        raise _err(path, where, f"expected [lo, hi], two finite numbers with lo < hi, got {value!r}")
    if max(abs(value[0]), abs(value[1])) > 2.0**64:
        raise _err(path, where, f"values beyond +-2^64 cannot be stored, got {value!r}")
    return (float(value[0]), float(value[1]))


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a material.yaml. Raises ConfigError naming the file and key."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    _check_keys(path, "top level", data, _TOP_KEYS)
    if "schema_version" not in data:
        raise _err(path, "top level", f"missing schema_version (this texgs reads schema_version: {SCHEMA_VERSION})")
    if data["schema_version"] != SCHEMA_VERSION:
        raise _err(path, "schema_version", f"{data['schema_version']!r} is not supported (expected {SCHEMA_VERSION})")
    out: dict = {}
    if "name" in data:
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise _err(path, "name", "expected a non-empty string")
        out["name"] = data["name"].strip()
    for key in ("require_albedo", "resample"):
        if key in data:
            out[key] = _bool(path, key, data[key])
    if "normal_convention" in data:
        out["normal_convention"] = _choice(path, "normal_convention", data["normal_convention"], CONVENTIONS)
    if "grey_albedo" in data:
        out["grey_albedo"] = _choice(path, "grey_albedo", data["grey_albedo"], ("rgb", "single"))
    if "weights" in data:
        weights = data["weights"]
        if not isinstance(weights, dict):
            raise _err(path, "weights", "expected a mapping of group or channel role to a number")
        for key, w in weights.items():
            _choice(path, "weights", key, [g for g in GROUPS if g != "extra"] + sorted(_ROLES))
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 or w == float("inf"):
                raise _err(path, f"weights.{key}", f"expected a finite number >= 0, got {w!r}")
        out["weights"] = {str(k): float(v) for k, v in weights.items()}
    if "skip" in data:
        skip = data["skip"]
        if not isinstance(skip, list) or not all(isinstance(s, str) for s in skip):
            raise _err(path, "skip", "expected a list of file names or channel groups")
        out["skip"] = tuple(skip)
    if "files" in data:
        files = data["files"]
        if not isinstance(files, dict):
            raise _err(path, "files", "expected a mapping of file name to options")
        out["files"] = {str(name): _file_options(path, str(name), opts) for name, opts in files.items()}
    return Manifest(path=path, **out)
