"""Reader fuzz: seeded mutations of small packed files through the reader and
the reference decoder. Every case must end in one of three outcomes:

- rejected by a checksum (the mutation was not repaired: header or section CRC),
- rejected by the parser with a FormatError (counted by error class: the
  message with its numbers replaced by '#'),
- accepted, with finite arrays and a finite decode (every texel, mapped to the
  channels' stored ranges, plus UV samples).

Anything else (another exception, a non-finite decode of an accepted file) is
a crash: the run stops and prints the case. The mutations: bit flips,
truncation, splices from another seed file, random u32 words and, for the
header's and channel table's float words, absurd or nearby floats; a share
of them (REPAIR_SHARE) get their checksums recomputed so the parser behind
the CRCs is reached. tests/test_format.py::test_reader_fuzz runs a short run
of the same cases.

    nice -n 10 python benchmarks/fuzz_reader.py --cases 250000 --seed 0
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import zlib
from collections import Counter

import numpy as np

from texgs.channels import Channel
from texgs.errors import FormatError
from texgs.format import QuantConfig, decode, decode_uv, gaussian_constraints, mip_tail, pack, unpack
from texgs.format import layout as L
from texgs.format.writer import attach_mip_tail
from texgs.gaussians import Gaussians

#: Share of mutations whose CRCs are recomputed (the rest mostly stop at a CRC).
REPAIR_SHARE = 0.65
#: Accepted files larger than this many values are sampled at UVs instead of decoded whole.
FULL_DECODE_VALUES = 1 << 16

_F32 = {name: word for name, word, kind in L.HEADER_FIELDS if kind == "f32"}
_CHANNEL_F32 = [word for _, word, kind in L.CHANNEL_FIELDS if kind == "f32"]
_ODD_FLOATS = [
    0.0,
    -0.0,
    1e-45,
    1e-38,
    1e-30,
    1e-7,
    0.5,
    1.0,
    1.0000001,
    2.0,
    3.0,
    3.1415927,
    4096.0,
    4097.0,
    65504.0,
    65536.0,
    2.0**64,
    2.0**65,
    1e30,
    1e38,
    3.4e38,
    3.4028235e38,
    float("inf"),
    float("nan"),
    -1.0,
    -1e38,
]
_ODD_WORDS = [0, 1, 2, 3, 4, 16, 31, 32, 255, 256, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def seed_files() -> list[bytes]:
    """Small files covering the format's variants: fixed with LOD levels and a mip
    tail, per-channel bits and a channel range, palettes, fp16 with wrapping, an empty material."""

    def make(h, w, c, n, seed, cfg, wrap=(False, False), levels=1, ranges=None):
        rng = np.random.default_rng(seed)
        lo = gaussian_constraints(h, w, cfg)["min_inv_scale"]
        ranges = ranges or [(0.0, 1.0)] * c
        return pack(
            Gaussians(
                means=(rng.random((n, 2)) * [w, h]).astype(np.float32),
                inv_scales=(lo * np.exp(rng.random((n, 2)) * 2.0)).astype(np.float32),
                rotations=(rng.random(n) * 6 - 3).astype(np.float32),
                values=rng.random((n, c)).astype(np.float32),
                background=rng.random(c).astype(np.float32),
                levels=rng.integers(0, levels, n),
            ),
            [Channel(f"ch{i}", "g", range=ranges[i]) for i in range(c)],
            h,
            w,
            k=4,
            wrap=wrap,
            cfg=cfg,
        )

    base = QuantConfig(max_radius=8.0, strip_height=4)
    ys, xs = np.mgrid[0:24, 0:32].astype(np.float32)
    tail = mip_tail.build(np.stack([0.5 + 0.4 * np.sin(xs * 0.3 + ys * (0.2 + 0.1 * c)) for c in range(3)], 2), 2)
    return [
        attach_mip_tail(make(24, 32, 3, 30, 1, base, levels=2), tail),
        make(
            20,
            28,
            2,
            25,
            2,
            QuantConfig(max_radius=6.0, strip_height=2, value_bits_per_channel=(4, 9)),
            wrap=(True, False),
            ranges=[(-1.0, 1.0), (0.0, 250.0)],
        ),
        make(24, 24, 5, 30, 3, QuantConfig(max_radius=8.0, strip_height=4, palettes=(((0, 1, 2), 3),))),
        make(16, 24, 2, 20, 4, QuantConfig.fp16(), wrap=(True, True)),
        make(16, 16, 1, 0, 5, base),
    ]


def repair_crcs(buf: bytearray) -> bytearray:
    """Recompute the header CRC and every section CRC the table can locate."""
    if len(buf) < L.HEADER_BYTES:
        return buf
    words = np.frombuffer(bytes(buf[: L.HEADER_BYTES]), "<u4")
    n, t0 = int(words[26]), int(words[27])
    for j in range(min(n, L.MAX_SECTIONS)):
        e = t0 + 16 * j
        if e + 16 > len(buf):
            break
        _, off, size, _ = np.frombuffer(bytes(buf[e : e + 16]), "<u4").tolist()
        if off + size <= len(buf):
            buf[e + 12 : e + 16] = np.uint32(zlib.crc32(bytes(buf[off : off + size]))).tobytes()
    buf[L.HEADER_CRC_SPAN : L.HEADER_BYTES] = np.uint32(zlib.crc32(bytes(buf[: L.HEADER_CRC_SPAN]))).tobytes()
    return buf


def _float_words(data: bytes) -> list[int]:
    """Word indices of the header's and the channel table's float fields."""
    out = list(_F32.values())
    try:
        p = unpack(data)
    except FormatError:
        return out
    ch = p.sections[0]
    for i in range(p.header["channels"]):
        out += [ch.offset // 4 + i * L.CHANNEL_WORDS + w for w in _CHANNEL_F32]
    return out


class Mutator:
    """Seeded mutations of the seed files (deterministic for a seed)."""

    def __init__(self, seeds: list[bytes], seed: int):
        self.seeds = seeds
        self.rng = np.random.default_rng(seed)
        self.floats = [_float_words(s) for s in seeds]
        # Header, table and channel/index words are where the parser's checks live.
        self.meta_words = [max(L.HEADER_WORDS, unpack(s).sections[2].offset // 4) for s in seeds]

    def case(self, i: int) -> tuple[bytes, bool]:
        """(mutated bytes, whether the CRCs were repaired) of case i."""
        rng = self.rng
        s = i % len(self.seeds)
        data = bytearray(self.seeds[s])
        kind = int(rng.integers(0, 6))
        if kind == 0:  # bit flips
            for _ in range(int(rng.integers(1, 4))):
                at = int(rng.integers(0, len(data)))
                data[at] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # truncation or extension
            cut = int(rng.integers(0, len(data)))
            data = data[:cut] if rng.random() < 0.8 else data + bytes(int(rng.integers(1, 64)))
        elif kind == 2:  # splice from another file
            other = self.seeds[int(rng.integers(0, len(self.seeds)))]
            a, b = sorted(int(x) for x in rng.integers(0, len(other), 2))
            at = int(rng.integers(0, len(data)))
            data = data[:at] + other[a:b] + data[at + (b - a) :]
        elif kind in (3, 4):  # one u32 word, mostly in the metadata
            top = self.meta_words[s] if rng.random() < 0.7 else len(data) // 4
            word = int(rng.integers(0, top))
            if rng.random() < 0.5:
                val = int(rng.choice(_ODD_WORDS))
            elif rng.random() < 0.5:
                old = int(np.frombuffer(bytes(data[4 * word : 4 * word + 4]), "<u4")[0])
                val = (old + int(rng.choice([-2, -1, 1, 2, 16, 1 << 16]))) & 0xFFFFFFFF
            else:
                val = int(rng.integers(0, 1 << 32))
            data[4 * word : 4 * word + 4] = np.uint32(val).tobytes()
        else:  # one float field: absurd or near its value
            word = int(rng.choice(self.floats[s]))
            old = float(np.frombuffer(bytes(data[4 * word : 4 * word + 4]), "<f4")[0])
            with np.errstate(over="ignore", invalid="ignore"):
                val = (
                    np.float32(rng.choice(_ODD_FLOATS))
                    if rng.random() < 0.6
                    else np.float32(old) * np.float32(rng.choice([-1.0, 0.5, 0.999, 1.0000001, 1.001, 2.0, 1e30]))
                )
            data[4 * word : 4 * word + 4] = np.float32(val).tobytes()
        repaired = bool(rng.random() < REPAIR_SHARE)
        if repaired:
            data = repair_crcs(data)
        return bytes(data), repaired


def error_class(message: str) -> str:
    """A FormatError message without the file name and with its numbers as '#'."""
    text = message.split(": ", 1)[1] if ": " in message else message
    text = re.sub(r"(?<![A-Za-z0-9])(\d+|#)x\d+\b", "#x#", text)  # sizes: "bad size 16x4294967295"
    return re.sub(r"'[^']*'|0x[0-9a-f]+|(?<![A-Za-z0-9])[-+]?\d+(\.\d+)?(e[-+]?\d+)?|\b(nan|inf)\b", "#", text)


class Crash(AssertionError):
    """A case that is neither rejected with FormatError nor accepted with a finite decode."""


def check_accepted(p, rng) -> None:
    """Raise Crash unless an accepted file's arrays and decode are consistent and finite."""
    n, c = p.header["gaussian_count"], p.header["channels"]
    g = p.gaussians
    if g.means.shape != (n, 2) or g.values.shape != (n, c) or g.background.shape != (c,):
        raise Crash(f"inconsistent arrays for N={n}, C={c}")
    for what, a in (
        ("means", g.means),
        ("inverse scales", g.inv_scales),
        ("rotations", g.rotations),
        ("values", g.values),
        ("background", g.background),
    ):
        if not np.isfinite(a).all():
            raise Crash(f"accepted file has non-finite {what}")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        if p.height * p.width * c <= FULL_DECODE_VALUES:
            img = decode(p, apply_range=True)
            if img.shape != (p.height, p.width, c):
                raise Crash(f"decode shape {img.shape}")
        else:
            img = decode_uv(p, rng.random((256, 2)).astype(np.float32))
        uv = decode_uv(p, (rng.random((64, 2)) * 3 - 1).astype(np.float32))
        if not (np.isfinite(img).all() and np.isfinite(uv).all()):
            raise Crash("accepted file decodes to non-finite values")
        if p.mip_tail is not None:  # the tail's levels, as filtered sampling reads them
            from texgs.format.filtered import sample_level

            wide = sample_level(p, (rng.random((16, 2)) * 3 - 1).astype(np.float32), p.mip_tail.first_level + 0.5)
            if not np.isfinite(wide).all():
                raise Crash("accepted file's mip tail samples to non-finite values")


def run_case(data: bytes, rng) -> str:
    """'crc', 'parser', or 'accepted' (raises Crash otherwise); FormatError classes via the caller."""
    try:
        p = unpack(data, name="case")
    except FormatError as e:
        raise _Rejected("crc" if "checksum mismatch" in str(e) else "parser", error_class(str(e))) from None
    check_accepted(p, rng)
    return "accepted"


class _Rejected(Exception):
    def __init__(self, outcome: str, cls: str):
        super().__init__(outcome)
        self.outcome, self.cls = outcome, cls


def fuzz(cases: int, seed: int = 0) -> dict:
    """Run `cases` mutations; returns the counts by outcome (see the module docstring)."""
    seeds = seed_files()
    mut = Mutator(seeds, seed)
    rng = np.random.default_rng(seed + 1)
    outcomes, classes = Counter(), Counter()
    repaired_n = past_crc_repaired = 0
    for i in range(cases):
        data, repaired = mut.case(i)
        repaired_n += repaired
        try:
            outcome = run_case(data, rng)
        except _Rejected as r:
            outcome = r.outcome
            if outcome == "parser":
                classes[r.cls] += 1
        except Exception as e:  # a crash: report the case so it can be replayed
            raise Crash(f"case {i} (seed {seed}, {len(data)} bytes): {type(e).__name__}: {e}") from e
        outcomes[outcome] += 1
        past_crc_repaired += repaired and outcome != "crc"
    return {
        "cases": cases,
        "seed": seed,
        "repaired": repaired_n,
        "rejected_by_crc": outcomes["crc"],
        "rejected_by_parser": outcomes["parser"],
        "accepted_and_finite": outcomes["accepted"],
        "crashes": 0,
        "past_crc_share": round((outcomes["parser"] + outcomes["accepted"]) / max(cases, 1), 4),
        "repaired_past_crc": past_crc_repaired,
        "parser_error_classes": dict(classes.most_common()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=250_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        result = fuzz(args.cases, args.seed)
    except Crash as e:
        print(json.dumps({"cases": args.cases, "seed": args.seed, "crash": str(e)}))
        return 1
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
