"""Markdown tables of `texgs compare` runs on the benchmark set, beside the reference.

    python -m texgs compare <materials...> --bppc 0.03,0.06,0.12 --methods texgs,BC1,BC7,ASTC -o REPORT
    python benchmarks/compare_table.py REPORT/results.csv [MORE.csv ...] [--csv OUT.csv] [--plot OUT.png]
    python benchmarks/compare_table.py RUNS.csv ... --metrics [--bppc 0.06] [--csv OUT.csv]

Default table: per material and rate, PSNR over all channels for texgs, BC1, BC7
and ASTC as measured by the runs, the ASTC figure of ../shared/reference/
block_codecs_bench.csv (the cross-check), and texgs minus the run's ASTC and
minus the reference ASTC; when the runs have the whole-image references (AVIF,
JXL, WebP: "no random access"), their PSNR and texgs minus each too. Then the
means over the materials present. When several CSVs give the same (material,
method, rate), the later one wins (e.g. a texgs-only rerun after a full run).
--csv writes the same rows as CSV; --plot draws the mean PSNR of each method
against bppc (materials every method has at every rate).

--metrics: the perceptual figures instead (FLIP on albedo, SSIM over all
channels, mean normal angular error) of texgs, the best ASTC, BC7 and AVIF, per
material and rate and their means, and the materials where texgs is worse than
ASTC on albedo FLIP or mean normal angular error.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections import defaultdict
from pathlib import Path

from texgs.compare.image_codecs import IMAGE_CODECS, labelled

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("TEXGS_SHARED", REPO.parent / "shared")) / "reference" / "block_codecs_bench.csv"
METHODS = ("texgs", "BC1", "BC7", "ASTC")
WHOLE_IMAGE = tuple(IMAGE_CODECS)  # AVIF, JXL, WebP: no random access
#: --metrics: figure key -> (column title, lower is better)
METRICS = {
    "flip_albedo": ("FLIP albedo", True),
    "ssim": ("SSIM", False),
    "normal_err_mean_deg": ("normal error (deg)", True),
}
METRIC_METHODS = ("texgs", "ASTC", "BC7", "AVIF")


def load(results_csvs: list[Path]) -> tuple[list[str], list[float], dict]:
    """(materials in run order, rates, {(material, method, rate): {figure: value}}) of one or more runs."""
    figures, materials, rates = {}, [], []
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
                figures[(r["material"], r["method"], rate)] = {
                    k: float(r[k]) for k in ("psnr", *METRICS) if r.get(k) not in (None, "")
                }
    return materials, sorted(rates), figures


def psnr_of(figures: dict) -> dict:
    return {k: v["psnr"] for k, v in figures.items()}


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


def whole_image_present(psnr: dict) -> list[str]:
    return [k for k in WHOLE_IMAGE if any(key[1] == k for key in psnr)]


def psnr_columns(psnr: dict) -> list[str]:
    extra = whole_image_present(psnr)
    return [
        *METHODS,
        *(labelled(k, False) for k in extra),
        "ASTC (reference)",
        "texgs - ASTC",
        "texgs - ASTC (reference)",
        *(f"texgs - {k}" for k in extra),
    ]


def rows(materials, rates, psnr, ref):
    extra = whole_image_present(psnr)
    for m in materials:
        for rate in rates:
            row = {
                "material": m,
                "bppc": rate,
                **{k: psnr.get((m, k, rate)) for k in METHODS},
                **{labelled(k, False): psnr.get((m, k, rate)) for k in extra},
                "ASTC (reference)": ref.get((m, rate)),
            }
            t = row["texgs"]
            for other, col in [("ASTC", "texgs - ASTC"), ("ASTC (reference)", "texgs - ASTC (reference)")] + [
                (labelled(k, False), f"texgs - {k}") for k in extra
            ]:
                o = row[other]
                row[col] = None if t is None or o is None else t - o
            yield row


def fmt(v, signed: bool = False, digits: int = 2) -> str:
    return "" if v is None else (f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}")


def plot(path: Path, materials, rates, psnr, table) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [*METHODS, *whole_image_present(psnr)]
    full = [m for m in materials if all((m, k, r) in psnr for k in shown for r in rates)]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for k in shown:
        ax.plot(
            rates,
            [sum(psnr[(m, k, r)] for m in full) / len(full) for r in rates],
            marker="o",
            linestyle=":" if k in WHOLE_IMAGE else "-",
            label=labelled(k, k not in WHOLE_IMAGE),
        )
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
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def print_table(cols: list[str], table: list[dict], signed=lambda c: False, digits=lambda c: 2) -> None:
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in table:
        cells = [r["material"], f"{r['bppc']:g}"] + [fmt(r[c], signed(c), digits(c)) for c in cols[2:]]
        print("| " + " | ".join(cells) + " |")
    by_rate = defaultdict(list)
    for r in table:
        by_rate[r["bppc"]].append(r)
    for rate, rs in sorted(by_rate.items()):
        means = []
        for c in cols[2:]:
            vals = [r[c] for r in rs if r[c] is not None]
            means.append(fmt(sum(vals) / len(vals), signed(c), digits(c)) if len(vals) == len(rs) else "")
        print(f"| **mean of {len(rs)}** | {rate:g} | " + " | ".join(means) + " |")


def metric_rows(materials, rates, figures):
    """Per material and rate: each METRICS figure of each METRIC_METHODS method."""
    for m in materials:
        for rate in rates:
            row = {"material": m, "bppc": rate}
            for key, (title, _) in METRICS.items():
                for meth in METRIC_METHODS:
                    row[f"{title} {labelled(meth, meth not in WHOLE_IMAGE)}"] = figures.get((m, meth, rate), {}).get(
                        key
                    )
            yield row


def texgs_worse_than_astc(materials, rates, figures) -> list[str]:
    """'material @ rate: FLIP albedo texgs 0.123 vs ASTC 0.110' for every lower-is-better figure."""
    out = []
    for key, (title, lower_better) in METRICS.items():
        if not lower_better:
            continue
        for m in materials:
            for rate in rates:
                t = figures.get((m, "texgs", rate), {}).get(key)
                a = figures.get((m, "ASTC", rate), {}).get(key)
                if t is not None and a is not None and t > a:
                    out.append(f"{m} @ {rate:g}: {title} texgs {t:.4g} vs ASTC {a:.4g}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="+", help="results.csv of one or more texgs compare runs")
    ap.add_argument("--csv", type=Path, help="also write the table as CSV here")
    ap.add_argument("--plot", type=Path, help="also draw the mean rate-distortion curves here (PNG)")
    ap.add_argument("--metrics", action="store_true", help="FLIP, SSIM and normal error instead of PSNR")
    ap.add_argument("--bppc", help="only these comma-separated rates (default: every rate of the runs)")
    args = ap.parse_args()
    materials, rates, figures = load(args.results)
    if args.bppc:
        rates = [r for r in rates if r in {float(v) for v in args.bppc.split(",")}]
    if args.metrics:
        table = list(metric_rows(materials, rates, figures))
        cols = list(table[0]) if table else ["material", "bppc"]
        print_table(cols, table, digits=lambda c: 2 if "normal" in c else 4)
        worse = texgs_worse_than_astc(materials, rates, figures)
        print(f"\ntexgs worse than ASTC ({len(worse)}):" + "".join(f"\n- {w}" for w in worse))
    else:
        psnr = psnr_of(figures)
        table = list(rows(materials, rates, psnr, reference_astc()))
        cols = ["material", "bppc", *psnr_columns(psnr)]
        print_table(cols, table, signed=lambda c: c.startswith("texgs - "))
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
