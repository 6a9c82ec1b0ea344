"""Writing a comparison: results.json, results.csv, RD plots (PNG) and index.html
with a table and side-by-side crops with per-group error maps."""

from __future__ import annotations

import csv
import html
import json
import math
import re
from pathlib import Path

import numpy as np

from ..writers import json_safe
from .image_codecs import NO_RANDOM_ACCESS, labelled
from .run import METRIC_KEYS, MaterialResult, Settings
from .tools import NVTT3_NOTE

METHOD_NOTES = [
    NVTT3_NOTE,
    "Equal bitrate (docs/METRICS.md, Image-GS sec. 4.5): block codecs compress mip levels 1-5 "
    "(2x2 box filter), decode with texture2ddecoder, upsample bilinearly to full size and are "
    "measured at full size against the full-size material.",
    "Rate of a block-codec point = 8 x payload bytes of all its textures / (W x H x C): albedo, "
    "normal and emissive are one RGB texture each, scalar maps are packed three to an RGB texture "
    "(a texture with fewer than three still costs a whole one); the engine set uses BC7 albedo/emissive, "
    "BC5 normal X,Y (Z rebuilt after filtering) and one BC4 texture per scalar channel. Container "
    "headers are not counted; texgs rows count every byte of the packed file.",
    "Each block-codec family's points form a Pareto frontier (no point at a lower rate with a higher "
    "PSNR); every figure of a row at a requested rate is interpolated linearly in log-rate between the "
    "two frontier points around it (column 'points'). A rate outside the measured range has no figure.",
    f"AVIF, JPEG XL and WebP ({NO_RANDOM_ACCESS}) are whole-image references: an engine cannot sample "
    "one texel without decoding the whole file, so they show the price of random access, not a GPU "
    "texture format. Same textures as the block codecs, each encoded at full size; one quality per "
    "material and rate (the highest whose total file bytes, containers included, fit the rate), "
    "found by bisection; their rows are measured points.",
    "PSNR is over all C channels in their stored encoding scaled to [0, 1]; group PSNR is the same over "
    "a group's channels. Encode/decode seconds are wall time on this machine (decode = texture2ddecoder "
    "plus bilinear upsampling in NumPy/PyTorch, not GPU sampling).",
]

FIXED_COLUMNS = ["material", "method", "encoder", "requested_bppc", "bppc", "H", "W", "C", "psnr"]
TAIL_COLUMNS = list(METRIC_KEYS) + [
    "download_bppc",
    "download_bytes",
    "encode_s",
    "decode_s",
    "interpolated",
    "random_access",
    "points",
]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def columns(results: list[MaterialResult]) -> list[str]:
    groups = []
    for r in results:
        for row in r.rows:
            for k in row:
                if k.startswith("psnr_") and k not in groups:
                    groups.append(k)
    return FIXED_COLUMNS + groups + TAIL_COLUMNS


def write_json(path: Path, results: list[MaterialResult], settings: Settings, notes: list[str], encoders: dict) -> None:
    from .. import __version__

    doc = {
        "texgs_version": __version__,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.__dict__.items()},
        "notes": METHOD_NOTES + notes,
        "encoders": encoders,
        "materials": [
            {
                "material": r.material,
                "H": r.height,
                "W": r.width,
                "C": r.channels,
                "groups": r.groups,
                "sources": r.sources,
                "notes": r.notes,
                "rows": r.rows,
                "points": r.points,
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(json_safe(doc), indent=1, allow_nan=False))


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def write_csv(path: Path, results: list[MaterialResult]) -> None:
    cols = columns(results)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in results:
            for row in r.rows:
                w.writerow([_fmt(row.get(c)) for c in cols])


def plot_rd(path: Path, result: MaterialResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    methods = list(dict.fromkeys(p["method"] for p in result.points))
    for k, m in enumerate(methods):
        color = f"C{k}"
        pts = [p for p in result.points if p["method"] == m and p.get("psnr") is not None and math.isfinite(p["psnr"])]
        front = sorted((p for p in pts if p["pareto"]), key=lambda p: p["bppc"])
        random_access = all(p.get("random_access", True) for p in pts)
        ax.scatter([p["bppc"] for p in pts], [p["psnr"] for p in pts], s=8, color=color, alpha=0.3)
        ax.plot(
            [p["bppc"] for p in front],
            [p["psnr"] for p in front],
            "-" if random_access else ":",
            color=color,
            label=labelled(m, random_access),
        )
        rows = [r for r in result.rows if r["method"] == m and r.get("psnr") is not None]
        ax.scatter(
            [r["bppc"] for r in rows],
            [r["psnr"] for r in rows],
            marker="D",
            s=28,
            color=color,
            edgecolor="black",
            zorder=3,
        )
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel per channel (bppc)")
    ax.set_ylabel("PSNR over all channels (dB)")
    ax.set_title(f"{result.material} ({result.width}x{result.height}, C={result.channels})", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _group_view(img: np.ndarray, idx: list[int]) -> np.ndarray:
    """[h, w, C] -> [h, w, 3] uint8 picture of one group (RGB groups as is, others first channel grey)."""
    x = img[..., idx] if len(idx) == 3 else np.repeat(img[..., idx[:1]], 3, axis=2)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def _error_view(ref: np.ndarray, rec: np.ndarray, idx: list[int], gain: float = 8.0) -> np.ndarray:
    """Mean absolute error over a group's channels, x gain, magma colour map, [h, w, 3] uint8."""
    from matplotlib import colormaps

    err = np.clip(np.abs(ref[..., idx] - np.clip(rec[..., idx], 0, 1)).mean(axis=2) * gain, 0, 1)
    return (colormaps["magma"](err)[..., :3] * 255 + 0.5).astype(np.uint8)


def write_crops(out_dir: Path, result: MaterialResult) -> dict:
    """Crop PNGs -> {method: {group: (image file, error file or None)}}; names relative to out_dir."""
    import imageio.v3 as iio

    groups: dict[str, list[int]] = {}
    for c, g in enumerate(result.groups):
        groups.setdefault(g, []).append(c)
    ref = result.crops["reference"]["image"]
    files: dict[str, dict] = {}
    base = slug(result.material)
    for method, crop in result.crops.items():
        files[method] = {}
        for g, idx in groups.items():
            name = f"crops/{base}_{slug(method)}_{slug(g)}.png"
            iio.imwrite(out_dir / name, _group_view(crop["image"], idx))
            err = None
            if method != "reference":
                err = f"crops/{base}_{slug(method)}_{slug(g)}_err.png"
                iio.imwrite(out_dir / err, _error_view(ref, crop["image"], idx))
            files[method][g] = (name, err)
    return files


def write_html(
    path: Path,
    results: list[MaterialResult],
    notes: list[str],
    encoders: dict,
    plots: dict,
    crops: dict,
    lit: dict | None = None,
) -> None:
    lit = lit or {}
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>texgs compare</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 5px;text-align:right}"
        "td.l,th.l{text-align:left}img.c{width:128px;image-rendering:pixelated}img.lit{width:256px}</style></head><body>",
        "<h1>texgs compare</h1><h2>Method</h2><ul>",
    ]
    out += [f"<li>{e(n)}</li>" for n in METHOD_NOTES]
    out.append("</ul><h2>Encoders</h2><ul>")
    out += [f"<li><b>{e(m)}</b>: {e(v)}</li>" for m, v in encoders.items()]
    out.append("</ul>")
    if notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    cols = columns(results)
    for r in results:
        out.append(
            f"<h2>{e(r.material)}</h2><p>{r.width}x{r.height}, C={r.channels} "
            f"({e(', '.join(dict.fromkeys(r.groups)))}); sources: "
            f"{e(', '.join(Path(s).name for s in r.sources))}</p>"
        )
        if r.notes:
            out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in r.notes) + "</ul>")
        out.append(f"<img src='{e(plots[r.material])}' alt='RD plot'>")
        show = [c for c in cols if c not in ("material", "H", "W", "C", "encoder")]
        out.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in show) + "</tr>")
        for row in r.rows:
            shown = {**row, "method": labelled(row["method"], row.get("random_access", True))}
            out.append(
                "<tr>"
                + "".join(
                    f"<td class='{'l' if c in ('method', 'points') else ''}'>{e(_fmt(shown.get(c)))}</td>" for c in show
                )
                + "</tr>"
            )
        out.append("</table>")
        files = crops[r.material]
        groups = list(dict.fromkeys(r.groups))
        out.append(
            "<h3>Central crop (rows: method and point; per group: reconstruction | |error| x8)</h3>"
            "<table><tr><th class='l'>method</th>" + "".join(f"<th>{e(g)}</th>" for g in groups) + "</tr>"
        )
        for method, per_group in files.items():
            label = r.crops[method]["label"]
            cells = []
            for g in groups:
                img, err = per_group[g]
                cell = f"<img class='c' src='{e(img)}'>"
                if err:
                    cell += f"<img class='c' src='{e(err)}'>"
                cells.append(f"<td>{cell}</td>")
            out.append(f"<tr><td class='l'>{e(method)}<br>{e(label)}</td>{''.join(cells)}</tr>")
        out.append("</table>")
        if lit.get(r.material):
            from ..preview.compare import html_table

            out.append(html_table(lit[r.material]))
    out.append("<p>Materials keep their authors' licences (see LICENSES.md in each corpus folder).</p>")
    out.append("</body></html>")
    path.write_text("\n".join(out))


def write_report(
    out_dir: str | Path, results: list[MaterialResult], settings: Settings, notes: list[str], encoders: dict
) -> dict:
    """Write every report file into out_dir; returns {kind: path}."""
    out = Path(out_dir)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results, settings, notes, encoders)
    write_csv(out / "results.csv", results)
    plots, crops = {}, {}
    for r in results:
        plots[r.material] = f"rd_{slug(r.material)}.png"
        plot_rd(out / plots[r.material], r)
        crops[r.material] = write_crops(out, r)
    lit = {r.material: r.lit.write(out, slug(r.material)) for r in results if r.lit is not None}
    write_html(out / "index.html", results, notes, encoders, plots, crops, lit)
    for r in results:  # the texgs files the rows measured, for `texgs inspect` / `texgs decode`
        for rate, data in r.packed.items():
            (out / "texgs").mkdir(exist_ok=True)
            (out / "texgs" / f"{slug(r.material)}@{rate:g}bppc.texgs").write_bytes(data)
    return {"json": out / "results.json", "csv": out / "results.csv", "html": out / "index.html"}
