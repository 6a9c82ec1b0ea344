"""What fitting channel groups with their own Gaussians would buy, measured with
today's format: a material's channels split into two materials (file A: the
named channel groups; file B: the rest), each fitted and packed on its own,
the two files together holding the bytes of the one file the default fit
writes at --bppc. Both are decoded and PSNR is computed over all channels of
the union against the source (texgs.metrics, relative to each channel's input
range, as `texgs fit` and `texgs compare` measure it).

    python benchmarks/channel_groups.py --materials polyhaven/fabric_pattern_07 --first albedo
    python benchmarks/channel_groups.py --materials gltf-samples/BoomBox --size 512 \\
        --first emissive --first albedo --shares 0.5,1,1.5

--first G1,G2 names the channel groups of file A (repeatable: one split of the
material each; a material lacking a named group is skipped for that split).
--shares are multipliers of file A's channel-proportional share of the bytes
(1 = bytes in proportion to channel counts). Materials are corpus-relative
folders (TEXGS_CORPUS) or paths; --size N area-downsamples to N x N first.

Prints one JSON line per fit set: "single" (the one file) and "split" (each
share), then a "best" line per split: the share of highest PSNR, chosen by
measuring. Decode cost is texgs.format.cost.shader_cost per texel, summed over
the two files (a sample of every channel reads both); "fixed" bytes are the
parts of a file that are not payload (header and section table, channel table,
index, names, padding: benchmarks/bytes_breakdown.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Parts of a file that are not payload (records, palettes and mip tail are payload).
FIXED_PARTS = ("header", "channels", "index", "names", "padding")


def split_indices(groups: list[str], first: list[str]) -> tuple[list[int], list[int]]:
    """(channel indices of file A: groups in `first`, those of file B: the rest), in storage order.
    Raises ValueError when a named group is absent or either file would be empty."""
    missing = [g for g in first if g not in groups]
    if missing:
        raise ValueError(f"no channel group {', '.join(missing)} (groups: {', '.join(dict.fromkeys(groups))})")
    a = [i for i, g in enumerate(groups) if g in first]
    b = [i for i, g in enumerate(groups) if g not in first]
    if not b:
        raise ValueError(f"groups {', '.join(first)} hold every channel: nothing left for a second file")
    return a, b


def sub_material(material, idx: list[int], suffix: str):
    """The material restricted to channels idx (pixels, channel table and weights follow)."""
    return replace(
        material,
        channels=tuple(material.channels[i] for i in idx),
        pixels=np.ascontiguousarray(material.pixels[..., idx]),
        key=f"{material.key}[{suffix}]",
    )


def merge_channels(parts: list[tuple[list[int], np.ndarray]], c: int) -> np.ndarray:
    """[H, W, c] from (indices, [H, W, len(indices)]) pieces covering every channel exactly once."""
    seen = sorted(i for idx, _ in parts for i in idx)
    if seen != list(range(c)):
        raise ValueError(f"pieces hold channels {seen}, not each of 0..{c - 1} once")
    h, w = parts[0][1].shape[:2]
    out = np.empty((h, w, c), dtype=np.float64)
    for idx, img in parts:
        out[..., idx] = img
    return out


def split_bytes(total: int, c_a: int, c: int, multiplier: float) -> tuple[int, int]:
    """(bytes of file A, bytes of file B) summing to total, A's share multiplier * c_a / c."""
    share = multiplier * c_a / c
    if not 0.0 < share < 1.0:
        raise ValueError(f"share multiplier {multiplier} gives file A {share:.3f} of the bytes (must be in (0, 1))")
    a = int(round(total * share))
    return a, total - a


def bppc_for_bytes(n_bytes: int, height: int, width: int, channels: int) -> float:
    """The bppc whose byte budget (texgs.fit.rate.budget_bytes) is exactly n_bytes."""
    from texgs.fit.rate import budget_bytes

    r = 8.0 * n_bytes / (height * width * channels)
    if budget_bytes(r, height, width, channels) != n_bytes:
        raise ValueError(f"no bppc gives exactly {n_bytes} bytes for {width}x{height}x{channels}")
    return r


def union_psnr(target: np.ndarray, rec: np.ndarray, ranges, channels) -> tuple[float, dict]:
    """PSNR over all channels and per group, relative to each channel's input range (docs/METRICS.md),
    exactly as texgs.fit.api.evaluate measures one file."""
    from texgs import metrics

    lo, hi = metrics.linear_ranges(ranges, [c.colour_space for c in channels])
    ref_u, rec_u = metrics.to_range_units(target, lo, hi), metrics.to_range_units(rec, lo, hi)
    return metrics.psnr(ref_u, rec_u), metrics.psnr_by_group(ref_u, rec_u, [c.group for c in channels])


def file_figures(data: bytes) -> dict:
    """Bytes, fixed bytes and decode cost per texel of one packed file."""
    from bytes_breakdown import breakdown

    from texgs.format.cost import shader_cost

    parts = breakdown(data)
    cost = shader_cost(data)
    return {
        "bytes": len(data),
        "fixed_bytes": sum(parts[p] for p in FIXED_PARTS),
        "index_bytes": parts["index"],
        "header_bytes": parts["header"],
        "strip_height": parts["strip_height"],
        "record_bits": parts["record_bits"],
        "evaluated_mean": float(cost["evaluated_mean"]),
        "blended_mean": float(cost["blended_mean"]),
        "macs_mean": float(cost["macs_mean"]),
    }


def _rounded(d: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}


def measure(material, name: str, firsts, multipliers, bppc: float, cfg, single: dict | None = None):
    """Yield the JSON rows of one material: the single file (or `single`, its row from an earlier
    run of the same settings: the fit is deterministic), each split and share, the best share."""
    from texgs.errors import ConfigError
    from texgs.fit.api import fit_material
    from texgs.fit.config import Budget
    from texgs.fit.rate import budget_bytes

    h, w, c = material.pixels.shape
    chans = list(material.channels)
    groups = [ch.group for ch in chans]
    total = budget_bytes(bppc, h, w, c)
    if single is None:
        single = _single(material, name, bppc, cfg)
    elif single["budget_bytes"] != total or single["size"] != f"{w}x{h}x{c}":
        raise ValueError(f"{name}: the earlier single-file row is of another size or budget")
    yield _rounded(single)
    for first in firsts:
        try:
            ia, ib = split_indices(groups, first)
        except ValueError as e:
            yield {"kind": "skipped", "material": name, "first": first, "why": str(e)}
            continue
        parts = (sub_material(material, ia, "A"), sub_material(material, ib, "B"))
        rows = []
        for m in multipliers:
            t = time.time()
            fits = []
            try:
                for part, n_bytes in zip(parts, split_bytes(total, len(ia), c, m)):
                    rate = bppc_for_bytes(n_bytes, h, w, part.pixels.shape[2])
                    fits.append(fit_material(part, Budget(bppc=rate), cfg, progress="off", label=part.key))
            except ConfigError as e:  # a file too small for its fixed part and one Gaussian
                yield {"kind": "infeasible", "material": name, "first": first, "share_multiplier": m, "why": str(e)}
                continue
            rec = merge_channels([(ia, fits[0].render()), (ib, fits[1].render())], c)
            ranges = [None] * c
            for idx, f in zip((ia, ib), fits):
                for i, r in zip(idx, f.input_ranges):
                    ranges[i] = r
            psnr, by_group = union_psnr(material.pixels, rec, ranges, chans)
            fa, fb = file_figures(fits[0].data), file_figures(fits[1].data)
            row = {
                "kind": "split",
                "material": name,
                "first": first,
                "channels_a": len(ia),
                "share_multiplier": m,
                "share_a": fa["bytes"] / (fa["bytes"] + fb["bytes"]),
                "bytes_a": fa["bytes"],
                "bytes_b": fb["bytes"],
                "bytes": fa["bytes"] + fb["bytes"],
                "budget_bytes": total,
                "gaussians_a": fits[0].n,
                "gaussians_b": fits[1].n,
                "psnr": psnr,
                "psnr_minus_single": psnr - single["psnr"],
                "psnr_a_file": fits[0].metrics["psnr"],
                "psnr_b_file": fits[1].metrics["psnr"],
                "psnr_by_group": _rounded(by_group),
                "fixed_bytes": fa["fixed_bytes"] + fb["fixed_bytes"],
                "fixed_bytes_added": fa["fixed_bytes"] + fb["fixed_bytes"] - single["fixed_bytes"],
                "header_bytes": fa["header_bytes"] + fb["header_bytes"],
                "index_bytes": fa["index_bytes"] + fb["index_bytes"],
                "strip_heights": [fa["strip_height"], fb["strip_height"]],
                "record_bits": [fa["record_bits"], fb["record_bits"]],
                "evaluated_mean": fa["evaluated_mean"] + fb["evaluated_mean"],
                "evaluated_mean_a": fa["evaluated_mean"],
                "evaluated_mean_b": fb["evaluated_mean"],
                "macs_mean": fa["macs_mean"] + fb["macs_mean"],
                "seconds_contended": time.time() - t,
            }
            rows.append(row)
            yield _rounded(row)
        if rows:
            best = max(rows, key=lambda r: r["psnr"])
            yield _rounded({**best, "kind": "best"})


def _single(material, name: str, bppc: float, cfg) -> dict:
    """The row of the one file the default fit writes at bppc."""
    from texgs.fit.api import fit_material
    from texgs.fit.config import Budget
    from texgs.fit.rate import budget_bytes

    h, w, c = material.pixels.shape
    t = time.time()
    one = fit_material(material, Budget(bppc=bppc), cfg, progress="off", label=name)
    psnr, by_group = union_psnr(material.pixels, one.render(), one.input_ranges, list(material.channels))
    return {
        "kind": "single",
        "material": name,
        "size": f"{w}x{h}x{c}",
        "budget_bytes": budget_bytes(bppc, h, w, c),
        "gaussians": one.n,
        "psnr": psnr,
        "psnr_fit": one.metrics["psnr"],  # the fit's own figure: must equal psnr
        "psnr_by_group": _rounded(by_group),
        "seconds_contended": time.time() - t,
        **file_figures(one.data),
    }


def load(material: str, size: int):
    """A corpus-relative folder (TEXGS_CORPUS) or a path, area-downsampled to size x size when size > 0."""
    import fit_bench

    return fit_bench.load(material, size)  # the corpus root joined with an absolute path is that path


def main(argv=None) -> int:
    from texgs.fit.config import FitConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--materials", nargs="+", required=True, help="corpus-relative material folders or paths")
    ap.add_argument("--first", action="append", required=True, help="channel groups of file A, comma-separated")
    ap.add_argument("--shares", default="1", help="multipliers of file A's channel-proportional byte share")
    ap.add_argument("--bppc", type=float, default=0.06)
    ap.add_argument("--size", type=int, default=0, help="downsample to SIZE x SIZE first (0 = full)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--single-from", help="JSON lines of an earlier run: reuse their single-file rows")
    args = ap.parse_args(argv)
    firsts = [[g.strip() for g in f.split(",") if g.strip()] for f in args.first]
    multipliers = [float(s) for s in args.shares.split(",")]
    cfg = FitConfig(seed=args.seed, threads=args.threads)
    print(
        f"# channel_groups: {args.bppc} bppc, size {args.size or 'full'}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    earlier = {}
    if args.single_from:
        for line in Path(args.single_from).read_text().splitlines():
            row = json.loads(line) if line.startswith("{") else {}
            if row.get("kind") == "single":
                earlier[row["material"]] = row
    for material in args.materials:
        m = load(material, args.size)
        name = Path(material).name if Path(material).is_absolute() else material
        for row in measure(m, name, firsts, multipliers, args.bppc, cfg, earlier.get(name)):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
