"""Markdown table of per-material searches from benchmarks/config_ab.py --preset search JSON lines:
the default's PSNR (the search's own full fit of it), the search's, the choice, and how the palette
cut's short fit (texgs.fit.search.palette_cut) scored against the configured settings' short fit.

    python benchmarks/search_table.py docs/results/search_cut_512.jsonl [more.jsonl ...]
"""

from __future__ import annotations

import json
import sys


def describe(changes: dict) -> str:
    if not changes:
        return "as configured"
    out = []
    for key, value in changes.items():
        if key == "palette_bits_by_group":
            out.append("cut " + ", ".join(f"{name} {bits}" for name, bits in value))
        else:
            out.append(f"{key} {value}")
    return "; ".join(out)


def main(paths: list[str]) -> int:
    rows = [json.loads(line) for path in paths for line in open(path) if line.strip()]
    print("| material | size x C | default | search | search - default | chosen | cut trial - configured trial |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        trials = r["search"]["trials"]
        cut = [t for t in trials if list(t["changes"]) == ["palette_bits_by_group"]]
        cut_gain = f"{cut[0]['psnr'] - trials[0]['psnr']:+.2f}" if cut else "not tried"
        print(
            f"| {r['material']} | {r['size']} x {r['C']} | {r['default_psnr']:.2f} | {r['psnr']:.2f} | "
            f"{r['psnr'] - r['default_psnr']:+.2f} | {describe(r['chosen'])} | {cut_gain} |"
        )
    n = len(rows)
    chosen = sum("palette_bits_by_group" in r["chosen"] for r in rows)
    print()
    print(
        f"mean over {n}: default {sum(r['default_psnr'] for r in rows) / n:.2f} dB, "
        f"search {sum(r['psnr'] for r in rows) / n:.2f} dB; the cut is in the choice of {chosen}; "
        f"mean search seconds {sum(r['seconds'] for r in rows) / n:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
