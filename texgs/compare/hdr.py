"""ASTC on float data at equal bitrate: the HDR baseline for EXR materials.

HDR colour (emissive in nits, exposed albedo) goes through ARM astcenc's HDR
profile (`-ch`: HDR RGB, LDR alpha; `-cH` would add an HDR alpha, unused for
RGB maps); data that may be negative (height in metres) is stored as an engine
stores it, UNORM with a scale and bias: `(x - lo) / (hi - lo)` through the LDR
profile (`-cl`), mapped back after decoding. Each texture is one RGB image (a
scalar map replicated to R, G, B); decoding is astcenc's own (`-dh` / `-dl`,
half-float EXR), since texture2ddecoder returns 8 bits. As for the LDR block
codecs (docs/METRICS.md, "Equal bitrate"), mip levels 1..5 are compressed,
upsampled bilinearly and measured at full size; a point's rate counts the
block payload only (the 16-byte .astc header is not stored by an engine).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TexgsError
from .methods import Method
from .methods import Point as MethodPoint
from .mips import mip_chain, upsample_bilinear
from .ratecurve import value_at

BLOCKS = ("4x4", "6x6", "8x8", "10x10", "12x12")
ASTC_HEADER_BYTES = 16


@dataclass
class Point:
    label: str  # "8x8 mip 2"
    n_bytes: int  # block payload
    bppc: float  # 8 n_bytes / (H W C) of the map passed
    recon: np.ndarray  # [H, W, C] full size, stored units


def _write_exr(path: Path, rgb: np.ndarray) -> None:
    import OpenEXR

    chans = {k: np.ascontiguousarray(rgb[..., i], np.float32) for i, k in enumerate("RGB")}
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, chans).write(str(path))


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    chans = OpenEXR.File(str(path), separate_channels=True).channels()
    return np.stack([chans[k].pixels.astype(np.float32) for k in "RGB"], -1)


def astcenc() -> str:
    path = shutil.which("astcenc")
    if path is None:
        raise TexgsError("astcenc not found: install it with apt-get install astcenc")
    return path


def version() -> str:
    r = subprocess.run([astcenc(), "-version"], capture_output=True, text=True)
    return (r.stdout or r.stderr).splitlines()[0].strip()


def astc_points(image: np.ndarray, hdr: bool, blocks=BLOCKS, levels=(1, 2, 3, 4, 5), quality="-thorough"):
    """Rate points of one map [H, W, C] (C = 1 or 3) in stored units: hdr=True through
    `-ch` (values >= 0), else UNORM `-cl` with scale/bias over the map's min..max."""
    h, w, c = image.shape
    if c not in (1, 3):
        raise ValueError(f"one ASTC texture holds 1 or 3 channels here, got {c}")
    if hdr and float(image.min()) < 0:
        raise ValueError("the ASTC HDR profile holds no negative values")
    lo, hi = (0.0, 1.0) if hdr else (float(image.min()), float(image.max()))
    data = image if hdr else (image - lo) / max(hi - lo, 1e-30)
    rgb = np.repeat(data, 3, axis=2) if c == 1 else data
    chain = mip_chain(rgb, max(levels))
    tool = astcenc()
    points = []
    with tempfile.TemporaryDirectory(prefix="texgs-astc-hdr-") as tmp:
        t = Path(tmp)
        for lv in levels:
            _write_exr(t / "in.exr", chain[lv])
            for block in blocks:
                enc = [tool, "-ch" if hdr else "-cl", str(t / "in.exr"), str(t / "b.astc"), block, quality, "-silent"]
                subprocess.run(enc, check=True, capture_output=True)
                dec = [tool, "-dh" if hdr else "-dl", str(t / "b.astc"), str(t / "out.exr"), "-silent"]
                subprocess.run(dec, check=True, capture_output=True)
                payload = (t / "b.astc").stat().st_size - ASTC_HEADER_BYTES
                out = upsample_bilinear(_read_exr(t / "out.exr"), h, w)[..., :c]
                recon = out if hdr else lo + (hi - lo) * out
                points.append(Point(f"{block} mip {lv}", payload, 8.0 * payload / (h * w * c), recon))
    return points


def at_rate(points: list[Point], scores: list[float], bppc: float) -> float | None:
    """The family's score at `bppc`: its Pareto frontier (of this score) interpolated in
    log-rate; above the frontier's last point, while still within the measured rates, that
    point's score (a denser point scoring lower on this figure is never the one to use);
    None below the lowest measured rate or above the highest."""
    ok = [(p.bppc, s) for p, s in zip(points, scores) if s is not None and math.isfinite(s)]
    rates = [r for r, _ in ok]
    got = value_at(rates, [s for _, s in ok], bppc)
    if got is None and rates and min(rates) <= bppc <= max(rates):
        got = max(s for r, s in ok if r <= bppc)
    return got


# -- the `texgs compare` hook: float materials measured relative to their ranges --


def unit_data(pixels: np.ndarray, channels) -> tuple[np.ndarray, list[tuple[float, float]] | None]:
    """(data in [0, 1], ranges): an ingested material's pixels mapped to each channel's
    linear range (texgs.transfer.input_ranges; a log2 channel over [0, peak]), so every
    compared method and figure works relative to the range (docs/METRICS.md); ranges is
    None when every channel already lies in [0, 1]."""
    from .. import metrics, transfer

    pix = np.ascontiguousarray(pixels, dtype=np.float32)
    enc = transfer.input_ranges(pix, list(channels))
    lo, hi = metrics.linear_ranges(enc, [c.colour_space for c in channels])
    if np.all(lo == 0.0) and np.all(hi == 1.0):
        return pix, None
    unit = np.clip(metrics.to_range_units(pix, lo, hi), 0.0, 1.0).astype(np.float32)
    return unit, [(float(a), float(b)) for a, b in zip(lo, hi)]


class AstcHdr(Method):
    """`texgs compare --methods ASTC-HDR`: ASTC on the material's real values (astc_points per
    RGB texture: the HDR profile for colour textures whose values are >= 0, UNORM with the
    channel ranges as scale and bias otherwise), measured in range units like every method."""

    name = "ASTC-HDR"
    interpolated = True
    random_access = True

    def __init__(self, blocks=BLOCKS, quality: str = "-thorough"):
        self.blocks, self.quality, self.problems = tuple(blocks), quality, []

    def encoder(self) -> str:
        from .tools import MissingTool

        try:
            return f"ARM {version()} {self.quality} (-ch HDR / -cl with scale and bias)"
        except TexgsError as e:
            raise MissingTool("astcenc", str(e)) from None

    def points(self, material, rates):
        from .material import rgb_textures

        self.problems = []
        if material.ranges is None:
            self.problems.append(f"ASTC-HDR: {material.name} holds no data outside [0, 1]; no points")
            return []
        lo = np.array([r[0] for r in material.ranges], np.float32)
        hi = np.array([r[1] for r in material.ranges], np.float32)
        per_slot = []
        for s in rgb_textures(material):
            idx = list(s.channels)
            unit = material.data[..., idx]
            real = lo[idx] + (hi[idx] - lo[idx]) * unit
            use_hdr = s.kind == "color" and float(real.min()) >= 0.0
            img = real if use_hdr else unit  # UNORM: the unit data is the range's scale and bias
            if img.shape[2] == 2:
                img = np.concatenate([img, np.zeros_like(img[..., :1])], 2)
            pts = astc_points(img, use_hdr, self.blocks, quality=self.quality)
            back = []
            for p in pts:
                r = p.recon[..., : len(idx)]
                back.append((p.label, p.n_bytes, (r - lo[idx]) / (hi[idx] - lo[idx]) if use_hdr else r))
            per_slot.append((idx, back))
        h, w, c = material.data.shape
        out = []
        for k, (label, _, _) in enumerate(per_slot[0][1]):
            recon = np.zeros((h, w, c), np.float32)
            for idx, back in per_slot:
                recon[..., idx] = back[k][2]
            n_bytes = sum(back[k][1] for _, back in per_slot)
            recon = np.clip(recon, 0.0, 1.0)
            out.append(MethodPoint(f"ASTC-HDR {label}", n_bytes, 0.0, lambda u=recon: u, extra={"format": label}))
        return out
