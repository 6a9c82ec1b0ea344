"""Pipeline configurations: typed, versioned YAML (pipelines/*.yaml).

A pipeline file loads into the frozen dataclass ``Pipeline``. Every key is
checked: an unknown key, a value of the wrong type or out of range is a
ConfigError naming the key, the file and what is allowed. Command-line flags
override fields through ``Pipeline.override``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ConfigError

SCHEMA_VERSION = 1


def _bundled_dir() -> Path:
    """The bundled pipelines: installed inside the package (a wheel: CMakeLists.txt
    copies pipelines/ to texgs/pipelines), or the source tree's pipelines/."""
    here = Path(__file__).resolve()
    installed = here.parents[1] / "pipelines"
    return installed if installed.is_dir() else here.parents[2] / "pipelines"


PIPELINES_DIR = _bundled_dir()


@dataclass(frozen=True)
class Target:
    """Exactly one of: a rate (bits per pixel per channel, from file bytes) or a quality."""

    bppc: float | None = 0.06
    target_psnr: float | None = None

    def check(self, where: str) -> None:
        if (self.bppc is None) == (self.target_psnr is None):
            raise ConfigError(f"{where}: target: set exactly one of 'bppc' or 'target_psnr'")
        if self.bppc is not None and not 0.001 <= self.bppc <= 8.0:
            raise ConfigError(f"{where}: target.bppc must be in 0.001..8, got {self.bppc}")
        if self.target_psnr is not None and not 10.0 <= self.target_psnr <= 80.0:
            raise ConfigError(f"{where}: target.target_psnr must be in 10..80 dB, got {self.target_psnr}")


@dataclass(frozen=True)
class Gates:
    """Quality gates. A material that misses one is reported with its figures (exit status 1)."""

    psnr_min: float | None = None  # dB, over all channels
    group_psnr_min: dict[str, float] = field(default_factory=dict)  # dB per channel group
    normal_error_mean_max_deg: float | None = None  # mean angular error
    normal_error_p99_max_deg: float | None = None  # 99th percentile
    bppc_max: float | None = None  # with --target-psnr
    cutout_wrong_side_max: float | None = None  # share of a mask channel's texels across the alpha-test cutoff


@dataclass(frozen=True)
class Outputs:
    previews: bool = True  # PNG previews of the reconstruction per channel group
    decoded_maps: bool = False  # full decoded maps (PNG / EXR) beside the packed file


@dataclass(frozen=True)
class Pipeline:
    schema_version: int
    description: str = ""
    target: Target = field(default_factory=Target)
    seed: int = 0
    backend: Literal["auto", "reference", "cpu", "cuda"] = "auto"  # renderer backend of the fit (texgs info)
    addressing: Literal["auto", "wrap", "clamp"] = "auto"  # auto: wrap when the maps tile
    quant: Literal["fixed", "fp16"] = "fixed"  # FitConfig.quant: per-attribute bits vs the paper's fp16
    weights: dict[str, float] = field(default_factory=dict)  # loss weight per channel group
    resample: bool = True  # maps of different sizes: to the largest (false: error)
    fit: dict[str, Any] = field(default_factory=dict)  # texgs.fit settings (validated there)
    gates: Gates = field(default_factory=Gates)
    outputs: Outputs = field(default_factory=Outputs)
    cache: str | None = None  # shared build cache folder (--cache)
    source: str = "<defaults>"  # the file this came from

    def override(self, **changes) -> Pipeline:
        """A copy with top-level fields (or 'target.bppc' style dotted keys) replaced."""
        data = dataclasses.asdict(self)
        for key, value in changes.items():
            if value is None:
                continue
            node = data
            parts = key.split(".")
            for p in parts[:-1]:
                node = node[p]
            node[parts[-1]] = value
            if key in ("target.bppc", "target.target_psnr"):  # one target replaces the other
                other = "target_psnr" if key == "target.bppc" else "bppc"
                data["target"][other] = None
        return from_dict(data, source=f"{self.source} + command line")

    def settings_for_hash(self) -> dict:
        """Everything that changes baked bytes (not gates, outputs, descriptions)."""
        d = dataclasses.asdict(self)
        for k in ("description", "gates", "outputs", "cache", "source"):
            d.pop(k)
        return d


def _check_value(value, typ, where: str):
    """Check/convert value against a type annotation; raise ConfigError naming where."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin is typing.Union or origin is types.UnionType:  # X | None
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(value, inner[0], where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; choose one of {', '.join(map(str, args))}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        kt, vt = args
        return {_check_value(k, kt, f"{where}.{k}"): _check_value(v, vt, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(typ):
        return _build(typ, value, where)
    if typ is Any:
        return value
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {typ!r}")  # a bug in this module, not user input


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        allowed = ", ".join(n for n in names if n != "source")
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {allowed})")
    kwargs = {k: _check_value(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def from_dict(data: dict, source: str = "<dict>") -> Pipeline:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a pipeline file must be a YAML mapping")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"{source}: schema_version must be {SCHEMA_VERSION}, got {version!r}")
    data = {k: v for k, v in data.items() if k != "source"}
    if "device" in data:
        raise ConfigError(
            f"{source}: unknown key 'device': the renderer is chosen by 'backend' (auto | reference | cpu | cuda)"
        )
    try:
        pipe = _build(Pipeline, data, "")
    except ConfigError as e:
        raise ConfigError(f"{source}: {str(e).lstrip('.: ')}") from None
    pipe = dataclasses.replace(pipe, source=source)
    pipe.target.check(source)
    for group, w in pipe.weights.items():
        if not w >= 0:
            raise ConfigError(f"{source}: weights.{group} must be >= 0, got {w}")
    _check_fit_section(pipe.fit, source)
    return pipe


def _check_fit_section(fit: dict, source: str) -> None:
    """The 'fit' section maps onto texgs.fit.FitConfig, whose validator names bad keys."""
    from ..fit import FitConfig

    FitConfig.from_dict(dict(fit), source=f"{source}: fit")


def load(path_or_name: str | Path) -> Pipeline:
    """Load a pipeline file, or a bundled one by name ('default', 'ci-preview', 'high-quality')."""
    path = Path(path_or_name)
    if not path.exists() and not path.suffix:
        path = PIPELINES_DIR / f"{path_or_name}.yaml"
    if not path.is_file():
        bundled = ", ".join(sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml")))
        raise ConfigError(f"{path_or_name}: no such pipeline file (bundled pipelines: {bundled})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return from_dict(data, source=str(path))


def default() -> Pipeline:
    return load("default")
