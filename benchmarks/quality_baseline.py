"""Quality baseline: PSNR of a short, real fit per material, committed as
tests/data/quality_baseline.csv and checked by tests/test_quality_baseline.py
(a drop beyond its tolerance fails, in the style of astc-encoder's image tests).

    python benchmarks/quality_baseline.py            # rewrite the CSV (corpus rows need the corpus)
    python benchmarks/quality_baseline.py --check    # print fresh PSNRs beside the committed ones

Rows: the corpus quick set (read from $TEXGS_CORPUS or ../shared/corpus),
each map area-downsampled to SIDE^2 (exact box means), and one synthetic
material generated here, so the check runs without the corpus. Every row is
fitted with the default FitConfig (seed 0) at BPPC on the native CPU
renderer: the fit is deterministic for a backend, so a rerun on the same
build gives the same PSNR to the bit. Regenerate the CSV, and say why in the
commit, when a change is meant to move quality.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CSV_PATH = REPO / "tests" / "data" / "quality_baseline.csv"
QUICK_SET = ("gltf-samples/FlightHelmet_LeatherPartsMat", "godot-decals/decal_scifi_1")
SYNTHETIC = "synthetic"
SIDE = 256  # texels per side after downsampling
BPPC = 0.06
SEED = 0
BACKEND = "cpu"
#: The PSNR drop (dB) tests/test_quality_baseline.py fails at, per row: about twice
#: the spread that float-level changes gave each row (figures in that test's docstring).
FAIL_DB = {SYNTHETIC: 0.8}
DEFAULT_FAIL_DB = 0.3
FIELDS = ("material", "side", "bppc", "seed", "backend", "gaussians", "psnr", "fail_db")


def corpus_dir() -> Path:
    return Path(os.environ.get("TEXGS_CORPUS", REPO.parent / "shared" / "corpus"))


def area_downsample(pixels: np.ndarray, side: int) -> np.ndarray:
    """[H, W, C] -> [side, side, C] by box means (H and W multiples of side)."""
    h, w, c = pixels.shape
    if h % side or w % side:
        raise ValueError(f"{w}x{h} is not a multiple of {side}")
    blocks = pixels.reshape(side, h // side, side, w // side, c)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def corpus_material(key: str, side: int = SIDE):
    """(stack [side, side, C], groups, names, weights) of a corpus material."""
    from texgs import ingest

    m = ingest.load(corpus_dir() / key)
    return area_downsample(m.pixels, side), [c.group for c in m.channels], m.roles, m.weights


def synthetic_material(side: int = SIDE, seed: int = 2026):
    """(stack, groups, names, weights): an albedo of oriented waves, a smooth roughness
    and a height ramp, all in [0, 1]. Smooth on purpose: with hard-edged discs
    added, float-level changes moved this fit's PSNR over a 0.6 dB range."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side].astype(np.float64) / side
    waves = np.zeros((side, side, 3))
    for _ in range(6):
        angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(2, 9), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
        waves += wave[..., None] * rng.uniform(0.2, 1.0, 3)
    albedo = 0.5 + 0.5 * waves / np.abs(waves).max()
    roughness = 0.5 + 0.4 * np.sin(3 * np.pi * x) * np.cos(2 * np.pi * y)
    height = 0.3 + 0.4 * y
    stack = np.concatenate([albedo, roughness[..., None], height[..., None]], axis=2).astype(np.float32)
    groups = ["albedo"] * 3 + ["roughness", "height"]
    names = ["albedo.r", "albedo.g", "albedo.b", "roughness", "height"]
    return np.clip(stack, 0.0, 1.0), groups, names, np.ones(5, np.float32)


def fit_row(material: str, side: int = SIDE, bppc: float = BPPC, seed: int = SEED, backend: str = BACKEND) -> dict:
    """Fit one material with the baseline recipe; the CSV row it gives."""
    from texgs.fit import Budget, FitConfig, fit

    if material == SYNTHETIC:
        stack, groups, names, weights = synthetic_material(side)
    else:
        stack, groups, names, weights = corpus_material(material, side)
    result = fit(
        stack,
        Budget(bppc=bppc),
        FitConfig(seed=seed, backend=backend),
        groups=groups,
        names=names,
        weights=weights,
        progress="off",
    )
    return {
        "material": material,
        "side": side,
        "bppc": bppc,
        "seed": seed,
        "backend": backend,
        "gaussians": result.n,
        "psnr": f"{result.metrics['psnr']:.4f}",
        "fail_db": FAIL_DB.get(material, DEFAULT_FAIL_DB),
    }


def read_baseline(path: Path = CSV_PATH) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed CSV, write nothing")
    args = parser.parse_args(argv)
    materials = [SYNTHETIC] + [k for k in QUICK_SET if (corpus_dir() / k).is_dir()]
    missing = [k for k in QUICK_SET if k not in materials]
    if missing and not args.check:
        print(f"corpus materials not found under {corpus_dir()}: {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = [fit_row(m) for m in materials]
    if args.check:
        committed = {r["material"]: r for r in read_baseline()}
        for r in rows:
            old = committed.get(r["material"], {}).get("psnr", "-")
            print(f"{r['material']}: {r['psnr']} dB (committed {old})")
        return 0
    with open(CSV_PATH, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {CSV_PATH.relative_to(REPO)} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
