"""Run the compared methods on materials and turn their points into report rows.

One row per material x method x requested rate. For block-codec methods
(`interpolated`) every figure of the row is interpolated linearly in log-rate
between the two points of the method's PSNR Pareto frontier around the
requested rate; for texgs and the whole-image codecs (image_codecs.py, rows
labelled "no random access") the row is its measured point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..errors import ConfigError
from . import codecs, quality, ratecurve
from .engine_set import EngineSet
from .hdr import AstcHdr
from .image_codecs import IMAGE_CODECS, WholeImageMethod
from .material import Material
from .methods import BlockFamily, Method, MipCache, Point, TexgsMethod
from .tools import MissingTool

METHOD_NAMES = ("texgs", "BC1", "BC7", "ASTC", "engine-set", *IMAGE_CODECS)
#: Run only when named in --methods: ASTC on the real values of float (HDR) materials (hdr.py).
OPTIONAL_METHODS = ("ASTC-HDR",)
METRIC_KEYS = ("ssim", "ms_ssim", "normal_err_mean_deg", "normal_err_p99_deg", "flip_albedo")


@dataclass(frozen=True)
class Settings:
    rates: tuple[float, ...] = (0.03, 0.06, 0.12)
    methods: tuple[str, ...] = METHOD_NAMES
    quick: bool = False  # ASTC -medium instead of -thorough; texgs quick fit
    astc_blocks: tuple[str, ...] = codecs.ASTC_REFERENCE_BLOCKS
    bc7_perceptual: bool = True  # bc7enc's default weights (the reference method)
    threads: int = 1  # astcenc -j; the output does not depend on it
    extended_metrics: bool = True  # SSIM, MS-SSIM, normal error, FLIP
    seed: int = 0

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHOD_NAMES + OPTIONAL_METHODS]
        if unknown:
            raise ConfigError(
                f"unknown method {unknown[0]!r}; choose from {', '.join(METHOD_NAMES + OPTIONAL_METHODS)}"
            )
        if not self.rates or any(not (r > 0 and math.isfinite(r)) for r in self.rates):
            raise ConfigError(f"rates must be positive numbers, got {self.rates}")


def make_methods(s: Settings) -> list[Method]:
    preset = "-medium" if s.quick else "-thorough"
    build = {
        "texgs": lambda: TexgsMethod(seed=s.seed, quick=s.quick, threads=s.threads),
        "BC1": lambda: BlockFamily("BC1", [codecs.BC1], s.threads),
        "BC7": lambda: BlockFamily("BC7", [codecs.bc7(s.bc7_perceptual)], s.threads),
        "ASTC": lambda: BlockFamily("ASTC", [codecs.astc(b, preset) for b in s.astc_blocks], s.threads),
        "engine-set": lambda: EngineSet(s.threads),
        "ASTC-HDR": lambda: AstcHdr(quality=preset),
        **{name: (lambda make=make: WholeImageMethod(make())) for name, make in IMAGE_CODECS.items()},
    }
    return [build[m]() for m in s.methods]


@dataclass
class MaterialResult:
    material: str
    height: int
    width: int
    channels: int
    groups: list[str]
    sources: list[str]
    rows: list[dict] = field(default_factory=list)  # one per method x rate
    points: list[dict] = field(default_factory=list)  # every measured point
    notes: list[str] = field(default_factory=list)  # missing tools, out-of-range rates
    crops: dict = field(default_factory=dict)  # method -> {"label", "image" [h, w, C]}; "reference"
    packed: dict = field(default_factory=dict)  # requested bppc -> the texgs fit's .texgs bytes
    lit: object = None  # texgs.preview.compare.LitRenders (None without a Vulkan device)


def _point_record(method: Method, p: Point, material: Material, figures: dict, on_front: bool) -> dict:
    return {
        "material": material.name,
        "method": method.name,
        "label": p.label,
        "bppc": 8.0 * p.n_bytes / (material.height * material.width * material.channels),
        "bytes": p.n_bytes,
        "encode_s": p.encode_s,
        "decode_s": p.decode_s,
        "pareto": on_front,
        "random_access": method.random_access,
        **{k: v for k, v in p.extra.items() if not k.startswith("_")},
        **figures,
    }


def crop_box(height: int, width: int, size: int = 128) -> tuple[int, int, int]:
    """(y, x, side) of the central square crop shown in the report."""
    side = min(size, height, width)
    return (height - side) // 2, (width - side) // 2, side


def compare_material(material: Material, s: Settings, log=lambda msg: None) -> MaterialResult:
    res = MaterialResult(
        material.name, material.height, material.width, material.channels, list(material.groups), list(material.sources)
    )
    cy, cx, side = crop_box(material.height, material.width)
    res.crops["reference"] = {"label": "reference", "image": material.data[cy : cy + side, cx : cx + side].copy()}
    from ..preview.compare import LitRenders

    res.lit = LitRenders.start(material, log=log)
    cache = None
    crop_rate = sorted(s.rates)[len(s.rates) // 2]
    for method in make_methods(s):
        try:
            encoder = method.encoder()
        except MissingTool as e:
            msg = f"{method.name} skipped: {e}"
            res.notes.append(msg)
            log(msg)
            continue
        log(f"{material.name}: {method.name} ({encoder})")
        t0 = time.perf_counter()
        if isinstance(method, BlockFamily):
            cache = cache or MipCache(material)
            pts = method.points(material, s.rates, cache)
        else:
            pts = method.points(material, list(s.rates))
        res.notes.extend(getattr(method, "problems", []))
        for p in pts:
            if "_data" in p.extra:  # texgs: keep the file the row measured
                res.packed[p.extra["requested_bppc"]] = p.extra["_data"]
        cheap = []
        for p in pts:
            cheap.append(quality.cheap_metrics(material, p.reconstruct()))
        rates = [8.0 * p.n_bytes / (material.height * material.width * material.channels) for p in pts]
        psnrs = [c["psnr"] for c in cheap]
        front = ratecurve.pareto_frontier(rates, psnrs) if method.interpolated else list(range(len(pts)))
        full_cache: dict[int, dict] = {}

        def full(i: int) -> dict:
            if i not in full_cache:
                full_cache[i] = quality.full_metrics(material, pts[i].reconstruct(), s.extended_metrics)
            return full_cache[i]

        for r in s.rates:
            row = {
                "material": material.name,
                "method": method.name,
                "encoder": encoder,
                "requested_bppc": r,
                "H": material.height,
                "W": material.width,
                "C": material.channels,
                "random_access": method.random_access,
            }
            if method.interpolated:
                b = ratecurve.bracket([rates[i] for i in front], r)
                if b is None:
                    span = f"{rates[front[0]]:.4g}-{rates[front[-1]]:.4g} bppc" if front else "nothing"
                    res.notes.append(f"{method.name}: {r:g} bppc is outside its measured range ({span}); no figure")
                    row.update(bppc=None, interpolated=True, points="")
                    res.rows.append(row)
                    continue
                i, j = front[b.lo], front[b.hi]
                fi, fj = full(i), full(j)
                row.update(bppc=r, interpolated=True, points=f"{pts[i].label} .. {pts[j].label}", t=b.t)
                for key in fi:
                    row[key] = ratecurve.interpolate(fi[key], fj.get(key), b.t)
                row["encode_s"] = ratecurve.interpolate(pts[i].encode_s, pts[j].encode_s, b.t)
                row["decode_s"] = ratecurve.interpolate(pts[i].decode_s, pts[j].decode_s, b.t)
                nearest = i if b.t < 0.5 else j
            else:
                k = next((n for n, p in enumerate(pts) if p.extra.get("requested_bppc") == r), None)
                if k is None:
                    row.update(bppc=None, interpolated=False, points="")
                    res.rows.append(row)
                    continue
                fi = full(k)
                row.update(
                    bppc=rates[k],
                    interpolated=False,
                    points=pts[k].label,
                    t=0.0,
                    **fi,
                    encode_s=pts[k].encode_s,
                    decode_s=pts[k].decode_s,
                )
                nearest = k
            res.rows.append(row)
            if res.lit is not None:
                res.lit.add(method.name, r, pts[nearest])
            if r == crop_rate:
                img = pts[nearest].reconstruct()
                res.crops[method.name] = {
                    "label": pts[nearest].label,
                    "image": img[cy : cy + side, cx : cx + side].copy(),
                }
        on_front = set(front)
        for n, p in enumerate(pts):
            figures = full_cache.get(n, cheap[n])
            res.points.append(_point_record(method, p, material, figures, n in on_front))
        log(f"{material.name}: {method.name} done in {time.perf_counter() - t0:.1f} s")
    return res
