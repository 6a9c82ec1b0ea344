"""Markdown table of a `texgs compare` run on the benchmark set, beside the reference.

    python -m texgs compare <materials...> --bppc 0.03,0.06,0.12 --methods texgs,BC1,BC7,ASTC -o REPORT
    python benchmarks/compare_table.py REPORT/results.csv [MORE.csv ...] [--csv OUT.csv] [--plot OUT.png]

Prints, per material and rate, PSNR over all channels for texgs, BC1, BC7 and
ASTC as measured by the run, the ASTC figure of ../shared/reference/
block_codecs_bench.csv (the cross-check), and texgs minus the run's ASTC and
minus the reference ASTC; then the means over the materials present. When
several CSVs give the same (material, method, rate), the later one wins (e.g.
a texgs-only rerun after a full run). --csv writes the same rows as CSV;
--plot draws the mean PSNR of each method against bppc (materials every method
has at every rate).
"""

from __future__ import annotations

import argparse
import csv
import os
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("TEXGS_SHARED", REPO.parent / "shared")) / "reference" / "block_codecs_bench.csv"
METHODS = ("texgs", "BC1", "BC7", "ASTC")


def load(results_csvs: list[Path]) -> tuple[list[str], list[float], dict]:
    """(materials in run order, rates, {(material, method, rate): psnr}) of one or more runs."""
    psnr, materials, rates = {}, [], []
    for path in results_csvs:
        with open(path, newline="") as f:
            records = list(csv.DictReader(f))
        for r in records:
            rate = float(r["requested_bppc"])
            if r["material"] not in materials:
                materials.append(r["material"])
            if rate not in rates:
                rates.append(rate)
            if r["psnr"]:
                psnr[(r["material"], r["method"], rate)] = float(r["psnr"])
    return materials, sorted(rates), psnr


def reference_astc() -> dict:
    if not REFERENCE.is_file():
        return {}
    out = {}
    with open(REFERENCE, newline="") as f:
        for r in csv.DictReader(f):
            if r["family"] == "ASTC":
                for key, value in r.items():
                    if key.startswith("psnr@") and value:
                        out[(r["material"], float(key[5:]))] = float(value)
    return out


def rows(materials, rates, psnr, ref):
    for m in materials:
        for rate in rates:
            row = {
                "material": m,
                "bppc": rate,
                **{k: psnr.get((m, k, rate)) for k in METHODS},
                "ASTC (reference)": ref.get((m, rate)),
            }
            t, a = row["texgs"], row["ASTC"]
            row["texgs - ASTC"] = None if t is None or a is None else t - a
            r_ = row["ASTC (reference)"]
            row["texgs - ASTC (reference)"] = None if t is None or r_ is None else t - r_
            yield row


def fmt(v, signed: bool = False) -> str:
    return "" if v is None else (f"{v:+.2f}" if signed else f"{v:.2f}")


def plot(path: Path, materials, rates, psnr, table) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = [m for m in materials if all((m, k, r) in psnr for k in METHODS for r in rates)]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for k in METHODS:
        ax.plot(rates, [sum(psnr[(m, k, r)] for m in full) / len(full) for r in rates], marker="o", label=k)
    ref = [r["ASTC (reference)"] for r in table if r["material"] in full]
    if ref and None not in ref:
        means = [
            sum(r["ASTC (reference)"] for r in table if r["material"] in full and r["bppc"] == rate) / len(full)
            for rate in rates
        ]
        ax.plot(rates, means, linestyle="--", color="grey", label="ASTC (reference table)")
    ax.set_xscale("log")
    ax.set_xticks(rates, [f"{r:g}" for r in rates])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("bits per pixel per channel (from file bytes)")
    ax.set_ylabel("PSNR over all channels (dB)")
    ax.set_title(f"Mean of {len(full)} benchmark materials")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="+", help="results.csv of one or more texgs compare runs")
    ap.add_argument("--csv", type=Path, help="also write the table as CSV here")
    ap.add_argument("--plot", type=Path, help="also draw the mean rate-distortion curves here (PNG)")
    args = ap.parse_args()
    materials, rates, psnr = load(args.results)
    table = list(rows(materials, rates, psnr, reference_astc()))
    cols = ["material", "bppc", *METHODS, "ASTC (reference)", "texgs - ASTC", "texgs - ASTC (reference)"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in table:
        print(
            "| "
            + " | ".join([r["material"], f"{r['bppc']:g}"] + [fmt(r[c], c.startswith("texgs - ")) for c in cols[2:]])
            + " |"
        )
    by_rate = defaultdict(list)
    for r in table:
        by_rate[r["bppc"]].append(r)
    for rate, rs in sorted(by_rate.items()):
        means = []
        for c in cols[2:]:
            vals = [r[c] for r in rs if r[c] is not None]
            means.append(fmt(sum(vals) / len(vals), c.startswith("texgs - ")) if len(vals) == len(rs) else "")
        print(f"| **mean of {len(rs)}** | {rate:g} | " + " | ".join(means) + " |")
    if args.plot:
        plot(args.plot, materials, rates, psnr, table)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            for r in table:
                w.writerow({c: (f"{r[c]:.4f}" if isinstance(r[c], float) else r[c]) for c in cols})


if __name__ == "__main__":
    main()
