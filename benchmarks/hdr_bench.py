"""HDR and out-of-range data: texgs against ASTC (HDR profile, or UNORM with scale and
bias) at equal bitrate on EXR materials built from corpus content; prints JSON.

    python benchmarks/hdr_bench.py [--corpus ../shared/corpus] [--size 512] [--bppc 0.06,0.12] \
        [--preset default] [--materials emissive_nits,emissive_wide,height_metres,albedo_hdr]

Materials (written as float EXR files with a material.yaml, read by texgs.ingest):
- emissive_nits: gltf-samples/BoomBox emissive, linearised, scaled to 1e4 nits at its
  peak over a 1e-3 nit floor (7 decades; 99% of texels at the floor); texgs linear and
  `transfer: log2`;
- emissive_wide: godot-tps-demo/trim_emission_lights albedo, each stored value e mapped to
  10^(-3 + 7 e) nits: structure at every level from 1e-3 to 1e4; linear and log2;
- height_metres: ambientcg/Rock058 displacement as -2 cm .. +5 cm;
- albedo_hdr: polyhaven/wooden_crate_01 albedo, linearised and exposed +2 stops (0..4);
  texgs linear and log2.
Figures (docs/METRICS.md): PSNR relative to the map's range (its data min..max, peak
hi - lo) and, for RGB maps, log-luminance PSNR. ASTC: texgs.compare.hdr (-ch for RGB,
-cl with scale/bias for height; 4x4..12x12, mip levels 1-5, -thorough), each figure on
its own Pareto frontier interpolated in log-rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from texgs import ingest, metrics  # noqa: E402
from texgs.compare import hdr  # noqa: E402
from texgs.fit.api import fit_material  # noqa: E402
from texgs.fit.config import PRESETS, Budget  # noqa: E402


def _read(path: Path, size: int) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SystemExit(f"{path}: cannot read")
    if img.ndim == 3:
        img = img[..., [2, 1, 0]]  # BGR -> RGB (alpha dropped)
    img = img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img if img.ndim == 3 else img[..., None]


def srgb_to_linear(e: np.ndarray) -> np.ndarray:
    return np.where(e <= 0.04045, e / 12.92, ((e + 0.055) / 1.055) ** 2.4).astype(np.float32)


#: name -> (source file in the corpus, role, builder, log2 variant too)
MATERIALS = {
    "emissive_nits": (
        "gltf-samples/BoomBox/BoomBox_emissive.png",
        "emissive",
        lambda x: 1e-3 + 1e4 * srgb_to_linear(x[..., :3]) / max(float(srgb_to_linear(x[..., :3]).max()), 1e-6),
        True,
    ),
    "emissive_wide": (
        "godot-tps-demo/trim_emission_lights/trim_emission_lights_albedo.png",
        "emissive",
        lambda x: (10.0 ** (-3.0 + 7.0 * x[..., :3])).astype(np.float32),
        True,
    ),
    "height_metres": ("ambientcg/Rock058/displacement.jpg", "height", lambda x: -0.02 + 0.07 * x[..., :1], False),
    "albedo_hdr": (
        "polyhaven/wooden_crate_01/wooden_crate_01_diff_1k.jpg",
        "albedo",
        lambda x: 4.0 * srgb_to_linear(x[..., :3]),
        True,
    ),
}


def write_material(folder: Path, role: str, data: np.ndarray, transfer: str) -> Path:
    import OpenEXR

    folder.mkdir(parents=True, exist_ok=True)
    names = "RGB" if data.shape[2] == 3 else "Y"
    chans = {k: np.ascontiguousarray(data[..., i], np.float32) for i, k in enumerate(names)}
    name = f"map_{role}.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, chans).write(
        str(folder / name)
    )
    text = f"schema_version: 1\nrequire_albedo: false\nfiles:\n  {name}:\n    role: {role}\n"
    text += f"    transfer: {transfer}\n"  # stated, so ingest's automatic choice does not apply
    (folder / "material.yaml").write_text(text)
    return folder


def scores(ref: np.ndarray, rec: np.ndarray) -> dict:
    lo, hi = ref.min(axis=(0, 1)), ref.max(axis=(0, 1))
    out = {"psnr_range": metrics.psnr_in_range(ref, rec, lo, hi)}
    if ref.shape[2] == 3:
        out["psnr_log_luminance"] = metrics.log_luminance_psnr(ref, rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("TEXGS_CORPUS", str(ROOT.parent / "shared" / "corpus")))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--bppc", default="0.06,0.12")
    ap.add_argument("--preset", default="default", choices=list(PRESETS))
    ap.add_argument("--materials", default=",".join(MATERIALS))
    args = ap.parse_args()
    rates = [float(r) for r in args.bppc.split(",")]
    report = {
        "size": args.size,
        "preset": args.preset,
        "astcenc": hdr.version(),
        "astc": "-ch (HDR RGB) for RGB maps, -cl UNORM with scale/bias for height; -thorough; mips 1-5",
        "materials": {},
    }
    for name in args.materials.split(","):
        src, role, build, with_log2 = MATERIALS[name]
        ref = build(_read(Path(args.corpus) / src, args.size)).astype(np.float32)
        entry = {"source": src, "range": [float(ref.min()), float(ref.max())], "channels": ref.shape[2], "rows": []}
        pts = hdr.astc_points(ref, hdr=role != "height")
        point_scores = [scores(ref, p.recon) for p in pts]
        for rate in rates:
            row = {"method": "ASTC " + ("-ch" if role != "height" else "-cl scale/bias"), "bppc": rate}
            for key in point_scores[0]:
                row[key] = hdr.at_rate(pts, [s[key] for s in point_scores], rate)
            entry["rows"].append(row)
        for transfer in ["linear"] + (["log2"] if with_log2 else []):
            with tempfile.TemporaryDirectory(prefix="texgs-hdr-") as tmp:
                mat = ingest.load(write_material(Path(tmp) / name, role, ref, transfer))
                for rate in rates:
                    t0 = time.monotonic()
                    result = fit_material(mat, Budget(bppc=rate), PRESETS[args.preset](), progress="off")
                    row = {"method": f"texgs {transfer}", "bppc": rate, "bppc_written": result.metrics["bppc"]}
                    row.update(scores(ref, result.render()))
                    row["seconds_contended"] = round(time.monotonic() - t0, 1)
                    entry["rows"].append(row)
                    print(json.dumps({name: row}), file=sys.stderr, flush=True)
        report["materials"][name] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
