"""Filtered sampling against the truth at mip levels: for each baked material and
each level L, PSNR over all channels (stored values, METRICS.md) against the
source box-filtered to level L (the mip an engine builds from the source) of

  filtered   texgs filtered sampling at the level-L texel centres, footprint 2^L texels
             (texgs.format.filtered.decode_level; what texgs_sample_level returns)
  point      texgs point-sampled at the same centres (what texgs_sample returns)
  ideal      texgs decoded at level 0, then box-filtered to L (the best the Gaussians allow)
  gaussians  filtered sampling ignoring the file's mip tail (only where the tail takes part)
  BC7, ASTC  the block codec's mip chain at the same VRAM bytes as the .texgs file

Block-codec chains (texgs compare's machinery: texture packing, encoders, decoders):
a chain stores mip levels M..top of every RGB texture (rgb_textures), each level
the 8-bit box-filtered source compressed. Per family, the chain is the one with
the finest top level M whose bytes (all levels, all textures) fit in the .texgs
file; among variants fitting there, the one with the most bytes. Below M the
chain has no level: level L < M shows level M upsampled bilinearly to level L's
size, as a GPU does when the finer mips are not resident.

    python benchmarks/filtered_quality.py --baked OUT [--materials polyhaven/wooden_crate_01 ...]
    python benchmarks/filtered_quality.py --rows rows.jsonl    # the means of earlier JSON lines
    python benchmarks/filtered_quality.py --baked OUT --mip-tail 0.1   # files baked without a tail:
        # attach one (the source's box mips from the finest level within 0.1 of the file's bytes)

OUT is a `texgs bake` output folder of the materials (OUT/<material>/<name>.texgs);
the sources come from the corpus (../shared/corpus or $TEXGS_CORPUS). Prints one
JSON line per material, then the means as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_bench  # noqa: E402  (corpus root and the material lists)


def block_chain(material, top: int, budget: int, family: str, preset: str):
    """(label, bytes, {level: [h, w, C] float32}) of the family's chain at the budget, or None."""
    from texgs.compare import codecs, mips
    from texgs.compare.material import rgb_textures
    from texgs.compare.methods import _slot_image

    variants = [codecs.bc7()] if family == "BC7" else [codecs.astc(b, preset) for b in codecs.ASTC_REFERENCE_BLOCKS]
    slots = rgb_textures(material)
    chain = mips.mip_chain(material.data, top)
    for m in range(0, top + 1):
        fits = []
        for codec in variants:
            n = sum(codec.payload_bytes(*chain[lv].shape[:2]) for lv in range(m, top + 1)) * len(slots)
            if n <= budget:
                fits.append((n, codec))
        if not fits:
            continue
        n, codec = max(fits, key=lambda t: t[0])
        levels = {}
        for lv in range(m, top + 1):
            img8 = mips.to_uint8(chain[lv])
            h, w = img8.shape[:2]
            out = np.zeros((h, w, material.channels), np.float32)
            for s in slots:
                tex = _slot_image(img8, s.channels, codec.channels)
                dec = codec.decode(codec.encode(tex), h, w)
                out[..., list(s.channels)] = dec[..., : len(s.channels)].astype(np.float32) / 255.0
            levels[lv] = out
        return f"{codec.format} from mip {m}", n, levels
    return None


def measure(material_name: str, baked: Path, levels: list[int], preset: str, tail_fraction: float = 0.0) -> dict:
    from texgs.compare import mips
    from texgs.compare.material import load_materials
    from texgs.format import decode, unpack
    from texgs.format.decoder import apply_channel_ranges, decode_points
    from texgs.format.filtered import decode_level, level_points
    from texgs.metrics import psnr

    leaf = material_name.split("/")[-1]
    path = baked / material_name / f"{leaf}.texgs"
    data = path.read_bytes()
    packed = unpack(data, name=str(path))
    (material,) = load_materials(fit_bench.corpus_root() / material_name)
    if tail_fraction > 0 and packed.mip_tail is None:
        data = with_source_tail(packed, data, material.data, tail_fraction)
        packed = unpack(data, name=str(path))
    top = max(levels)
    ref = mips.mip_chain(material.data, top)
    ideal = mips.mip_chain(decode(packed, apply_range=True), top)
    row = {
        "material": material_name,
        "size": f"{packed.width}x{packed.height}x{material.channels}",
        "bytes": len(data),
        "bppc": round(8 * len(data) / (packed.width * packed.height * material.channels), 4),
        "psnr_level0": round(psnr(ref[0], ideal[0]), 2),
        "mip_tail_first_level": None if packed.mip_tail is None else packed.mip_tail.first_level,
        "levels": {},
    }
    chains = {}
    for fam in ("BC7", "ASTC"):
        got = block_chain(material, top, len(data), fam, preset)
        if got:
            chains[fam] = got
            row[f"{fam}_chain"] = f"{got[0]}, {got[1]} B"
    for lv in levels:
        r = ref[lv]
        h, w = r.shape[:2]
        filt = apply_channel_ranges(packed, decode_level(packed, lv))
        point = apply_channel_ranges(packed, decode_points(packed, level_points(packed, lv)).reshape(h, w, -1))
        fig = {"filtered": psnr(r, filt), "point": psnr(r, point), "ideal": psnr(r, ideal[lv])}
        if packed.mip_tail is not None and lv > packed.mip_tail.first_level - 1:  # the tail takes part
            fig["gaussians"] = psnr(r, apply_channel_ranges(packed, decode_level(packed, lv, use_tail=False)))
        for fam, (_, _, lvls) in chains.items():
            have = lvls[lv] if lv in lvls else mips.upsample_bilinear(lvls[min(lvls)], h, w)
            fig[fam] = psnr(r, have)
        row["levels"][str(lv)] = {k: round(v, 2) for k, v in fig.items()}
    return row


def with_source_tail(packed, data: bytes, source: np.ndarray, fraction: float) -> bytes:
    """The file with a mip tail of the source (stored values; unit values through the
    file's channel ranges) from the finest level within `fraction` of its bytes."""
    from texgs.format import mip_tail
    from texgs.format.writer import attach_mip_tail

    first = mip_tail.choose_first_level(packed.height, packed.width, source.shape[2], len(data), fraction)
    if first is None:
        return data
    lo = np.array([c.range[0] for c in packed.channels], np.float64)
    hi = np.array([c.range[1] for c in packed.channels], np.float64)
    unit = ((source.astype(np.float64) - lo) / (hi - lo)).astype(np.float32)
    return attach_mip_tail(data, mip_tail.build(unit, first))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baked", type=Path, help="texgs bake output folder")
    ap.add_argument("--materials", nargs="*", default=fit_bench.BENCHMARK_SET)
    ap.add_argument("--levels", default="1,2,3,4,5,6")
    ap.add_argument("--astc-preset", default="-thorough")
    ap.add_argument("--mip-tail", type=float, default=0.0, help="attach a mip tail of this share to files without one")
    ap.add_argument("--rows", type=Path, help="summarise these JSON lines (earlier runs) instead of measuring")
    args = ap.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    rows = []
    if args.rows:
        rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.startswith("{")]
        rows = [r for r in rows if "levels" in r]
    for name in [] if args.rows else args.materials:
        t0 = time.perf_counter()
        row = measure(name, args.baked, levels, args.astc_preset, args.mip_tail)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = sorted({k for r in rows for lv in r["levels"].values() for k in lv})
    means = {
        lv: {
            k: round(float(np.mean([r["levels"][str(lv)][k] for r in rows if k in r["levels"][str(lv)]])), 2)
            for k in keys
            if any(k in r["levels"][str(lv)] for r in rows)
        }
        for lv in levels
    }
    print(json.dumps({"materials": len(rows), "mean_psnr_by_level": means}))
    print()
    print("| level | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for lv in levels:
        print(f"| {lv} | " + " | ".join(f"{means[lv][k]:.2f}" if k in means[lv] else "-" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
