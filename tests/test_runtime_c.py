"""The C runtime (runtime/texgs_runtime.h): its generated layout constants are current; it compiles as
C99 with -Wall -Wextra -Werror under gcc and clang (and as C++); it decodes the golden file and freshly
packed materials to the reference decoder's values (points, UVs, filtered samples, whole mip levels,
float and 8-bit, on several threads); it rejects every hostile buffer the Python reader rejects, with
the same message class, under AddressSanitizer + UndefinedBehaviorSanitizer; and a bounded libFuzzer
run finds no crash, no sanitizer report and no input the two readers judge differently."""

from __future__ import annotations

import functools
import json
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import REPO, load_script
from packed_materials import band_off, random_material

from texgs.channels import Channel
from texgs.errors import ConfigError
from texgs.format import (
    QuantConfig,
    decode,
    decode_uv,
    filtered,
    layout,
)

RUNTIME = REPO / "runtime"
HEADER = RUNTIME / "texgs_runtime.h"
GOLDEN = REPO / "tests" / "data" / "golden" / "material.texgs"
TOL = 1e-5


F = load_script(RUNTIME / "tests" / "fuzz_runtime.py")
fuzz_reader = F.fuzz_reader()


def test_runtime_header_layout_is_generated_from_layout_py():
    assert layout.runtime_header(HEADER.read_text()) == HEADER.read_text(), (
        "runtime/texgs_runtime.h's generated layout block is stale: run python -m texgs.format.layout"
    )


def _defines(text: str) -> dict:
    return {m[1]: m[2] for m in re.finditer(r"#define (TEXGS__\w+) (\S+)", text)}


def test_bit_depth_ranges_match_the_quantiser():
    """The runtime's hand-written bit-depth ranges are QuantConfig.validate's (probed at their edges)."""
    d = {k: int(v.rstrip("u")) for k, v in _defines(HEADER.read_text()).items() if v.rstrip("u").isdigit()}
    cases = {
        "position_bits": (d["TEXGS__POSITION_BITS_MIN"], d["TEXGS__FIELD_BITS_MAX"]),
        "inv_scale_exp_bits": (0, d["TEXGS__INV_EXP_BITS_MAX"]),
        "inv_scale_mant_bits": (d["TEXGS__INV_MANT_BITS_MIN"], d["TEXGS__INV_MANT_BITS_MAX"]),
        "rotation_bits": (d["TEXGS__ROTATION_BITS_MIN"], d["TEXGS__FIELD_BITS_MAX"]),
        "value_bits": (d["TEXGS__VALUE_BITS_MIN"], d["TEXGS__FIELD_BITS_MAX"]),
        "strip_y_bits": (3, d["TEXGS__FIELD_BITS_MAX"]),  # at strip height 8: log2(8)..16
    }

    def ok(**kw):
        try:
            QuantConfig(**kw).validate()
            return True
        except ConfigError:
            return False

    for field, (lo, hi) in cases.items():
        assert ok(**{field: lo}) and ok(**{field: hi}), field
        assert not ok(**{field: lo - 1}) and not ok(**{field: hi + 1}), field


def _cc(name):
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed (scripts/setup installs gcc and clang)")
    return path


class _Builds:
    """The test driver, built on first use per flavour: "gcc" and "clang" (-std=c99 -Wall -Wextra
    -Werror, -O2) and "asan" (clang with AddressSanitizer + UndefinedBehaviorSanitizer); a test whose
    compiler is missing skips, naming it."""

    def __init__(self, folder: pathlib.Path):
        self.folder, self.done = folder, {}

    def __getitem__(self, name: str) -> pathlib.Path:
        if name not in self.done:
            cc, flags = {"gcc": ("gcc", F.RELEASE), "clang": ("clang", F.RELEASE), "asan": ("clang", F.SANITIZE)}[name]
            self.done[name] = F.build(_cc(cc), flags, self.folder / f"driver_{name}")
        return self.done[name]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    return _Builds(tmp_path_factory.mktemp("runtime"))


def test_header_compiles_as_cpp(tmp_path):
    cxx = _cc("g++")
    cmd = [cxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-x", "c++", "-c"]
    r = subprocess.run([*cmd, str(RUNTIME / "tests" / "runtime_driver.c"), "-o", str(tmp_path / "d.o")], text=True)
    assert r.returncode == 0


def material(wrap, cfg, seed=0, h=40, w=48, c=4, n=140, levels=1, k=5, ranges=None, groups=None):
    ranges = ranges or [(0.0, 1.0)] * c
    channels = [Channel(f"c{i}", (groups or [f"g{i}"] * c)[i], range=ranges[i]) for i in range(c)]
    return random_material(h, w, channels, n, cfg, wrap=wrap, seed=seed, levels=levels, k=k)


@functools.lru_cache(maxsize=1)
def fitted() -> bytes:
    """A real fit (the fitter's quantisation, record order and LOD levels) of a small smooth stack."""
    from texgs.fit.api import fit
    from texgs.fit.config import Budget, FitConfig

    yy, xx = np.meshgrid(np.arange(40) + 0.5, np.arange(48) + 0.5, indexing="ij")
    stack = np.stack(
        [0.5 + 0.35 * np.sin(xx / 5) * np.cos(yy / 7), 0.5 + 0.4 * np.sin((xx + yy) / 6), 0.2 + 0.6 * (xx > yy)], -1
    ).astype(np.float32)
    cfg = FitConfig.fast(steps=60, add_every=20)
    return fit(
        stack, Budget(bppc=1.5), cfg, groups=["albedo", "albedo", "mask"], progress="off", wrap=(True, False)
    ).data


CASES = {
    "golden": lambda: GOLDEN.read_bytes(),
    "fitted": fitted,
    "clamp fixed strip 4": lambda: material((False, False), QuantConfig(max_radius=10.0, strip_height=4), seed=1),
    "wrap both strip 8, 3 LOD levels": lambda: material(
        (True, True), QuantConfig(max_radius=14.0, strip_height=8), seed=2, h=45, w=50, levels=3
    ),
    "wrap both fp16": lambda: material((True, True), QuantConfig.fp16(), seed=3, h=32, w=40, n=100),
    "fitter bits, palettes, ranges": lambda: material(
        (True, False),
        QuantConfig(value_bits=5, position_bits=8, max_radius=9.0, palettes=(((0, 1, 2), 4), ((3,), 3))),
        seed=4,
        h=37,
        w=40,
        ranges=[(0.0, 1.0), (-1.0, 1.0), (0.0, 250.0), (0.5, 0.75)],
        groups=["albedo"] * 3 + ["h"],
    ),
    "empty": lambda: material((False, False), QuantConfig(max_radius=8.0), n=0, h=16, w=20),
}


def run(driver, *args):
    r = subprocess.run([str(driver), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def c_samples(driver, tmp, data, mode, rows, lod=0):
    path = tmp / "m.texgs"
    path.write_bytes(data)
    np.ascontiguousarray(rows, np.float32).tofile(tmp / "in.f32")
    run(driver, mode, path, tmp / "in.f32", tmp / "out.f32", lod)
    return np.fromfile(tmp / "out.f32", np.float32).reshape(len(rows), -1)


def c_decode(driver, tmp, data, level=0, lod=0, flags=0, threads=1, u8=False):
    path = tmp / "m.texgs"
    path.write_bytes(data)
    run(driver, "decode_u8" if u8 else "decode", path, level, lod, flags, threads, tmp / "lvl.bin")
    return np.fromfile(tmp / "lvl.bin", np.uint8 if u8 else np.float32)


@pytest.mark.parametrize(
    "cc, case",
    [("gcc", c) for c in CASES] + [("asan", c) for c in CASES] + [("clang", "golden"), ("clang", "wrap both fp16")],
)
def test_decodes_every_level_like_the_reference(builds, tmp_path, cc, case):
    data = CASES[case]()
    ref = decode(data)
    h, w, c = ref.shape
    got = c_decode(builds[cc], tmp_path, data, threads=3).reshape(h, w, c)
    assert np.abs(got - ref).max() <= TOL, f"level 0: {np.abs(got - ref).max():.2e}"
    top = int(json.loads(run(builds[cc], "info", tmp_path / "m.texgs"))["max_level"])
    assert top == filtered.max_level(filtered._as_packed(data))
    for level in range(1, top + 1):
        want = filtered.decode_level(data, level)
        got = c_decode(builds[cc], tmp_path, data, level=level, threads=2).reshape(want.shape)
        assert np.abs(got - want).max() <= TOL, f"level {level}: {np.abs(got - want).max():.2e}"


@pytest.mark.parametrize("case", list(CASES))
def test_samples_like_the_reference(builds, tmp_path, case):
    data = CASES[case]()
    p = filtered._as_packed(data)
    rng = np.random.default_rng(5)
    n = 600
    uv = (rng.random((n, 2)) * 2.4 - 0.7).astype(np.float32)
    drv = builds["gcc"]
    assert np.abs(c_samples(drv, tmp_path, data, "uv", uv) - decode_uv(data, uv)).max() <= TOL
    # Texel points: inside the image (a wrapped axis takes any point; clamped ones are sampled as they are).
    pts = (rng.random((n, 2)) * [p.width, p.height]).astype(np.float32)
    from texgs.format.decoder import decode_points

    assert np.abs(c_samples(drv, tmp_path, data, "point", pts) - decode_points(p, pts)).max() <= TOL
    # Filtered: isotropic and anisotropic footprints from below a texel to tens of texels.
    scale = np.exp(rng.uniform(-1.0, 4.0, (n, 1))).astype(np.float32) / max(p.width, p.height)
    ddx = (rng.normal(size=(n, 2)) * scale).astype(np.float32)
    ddy = (rng.normal(size=(n, 2)) * scale).astype(np.float32)
    got = c_samples(drv, tmp_path, data, "grad", np.concatenate([uv, ddx, ddy], 1))
    assert np.abs(got - filtered.sample_grad(data, uv, ddx, ddy)).max() <= TOL
    # In and around the fade band (lam < FADE_LAM): pixels of 0.98 to 1.7 texels, square and 1.5:1, rotated.
    side = max(p.width, p.height)
    width = rng.uniform(0.98, 1.7, (n, 1)).astype(np.float32) / side
    ang = rng.uniform(0, np.pi, (n, 1))
    ratio = np.where(np.arange(n)[:, None] % 2 == 0, 1.0, 1.5)
    ddx = (np.concatenate([np.cos(ang), np.sin(ang)], 1) * width).astype(np.float32)
    ddy = (np.concatenate([-np.sin(ang), np.cos(ang)], 1) * width / ratio).astype(np.float32)
    got = c_samples(drv, tmp_path, data, "grad", np.concatenate([uv, ddx, ddy], 1))
    ref = filtered.sample_grad(data, uv, ddx, ddy)
    assert np.abs(got - ref).max() <= TOL
    if p.gaussians.n:  # the band is reached (it changes values)
        assert np.abs(ref - band_off(filtered.sample_grad, data, uv, ddx, ddy)).max() > 1e-3
    for level in (0.0, 0.1, 0.3, 0.5, 0.65, 2.25, 5.0):
        rows = np.concatenate([uv[:150], np.full((150, 1), level, np.float32)], 1)
        got = c_samples(drv, tmp_path, data, "level", rows)
        assert np.abs(got - filtered.sample_level(data, uv[:150], level)).max() <= TOL, level


def test_lod_limit_range_and_u8_output(builds, tmp_path):
    data = CASES["wrap both strip 8, 3 LOD levels"]()
    drv = builds["gcc"]
    for lod in (1, 2):
        ref = decode(data, lod_limit=lod)
        got = c_decode(drv, tmp_path, data, lod=lod).reshape(ref.shape)
        assert np.abs(got - ref).max() <= TOL
        uv = np.random.default_rng(lod).random((200, 2)).astype(np.float32)
        assert (
            np.abs(c_samples(drv, tmp_path, data, "uv", uv, lod=lod) - decode_uv(data, uv, lod_limit=lod)).max() <= TOL
        )
    data = CASES["fitter bits, palettes, ranges"]()
    ref = decode(data, apply_range=True)
    got = c_decode(drv, tmp_path, data, flags=1).reshape(ref.shape)
    assert np.abs(got - ref).max() <= TOL * 250  # the 0..250 channel: the same relative error
    unit = decode(data)
    u8 = c_decode(drv, tmp_path, data, u8=True, threads=4).reshape(unit.shape)
    want = np.round(np.clip(unit, 0, 1) * 255)
    assert np.abs(u8.astype(int) - want).max() <= 1 and (u8 == want).mean() > 0.999


def test_names_of_a_file_without_names_derive_as_in_python(builds, tmp_path):
    from texgs.format import layout, unpack

    sems = ["emissive"] * 3 + ["generic", "normal_x", "normal_y", "normal_z", "height", "albedo"]
    chans = [Channel(n, g, semantic=s) for s, (n, g) in zip(sems, layout.derived_names(sems))]
    data = random_material(24, 32, chans, 40, QuantConfig(max_radius=8.0))
    assert layout.SECTION_NAMES not in [s.id for s in unpack(data).sections]
    (tmp_path / "m.texgs").write_bytes(data)
    info = json.loads(run(builds["clang"], "info", tmp_path / "m.texgs"))
    got = [(ch["name"], ch["group"]) for ch in info["channel_list"]]
    assert got == [(c.name, c.group) for c in unpack(data).channels]
    assert got[:4] == [("emissive.r", "emissive"), ("emissive.g", "emissive"), ("emissive.b", "emissive"), ("c3", "c3")]
    assert got[-2:] == [("height", "height"), ("albedo", "albedo")]


def test_threads_decode_the_same_bytes(builds, tmp_path):
    data = CASES["golden"]()
    drv = builds["asan"]
    one = c_decode(drv, tmp_path, data, level=1, threads=1)
    assert np.array_equal(one, c_decode(drv, tmp_path, data, level=1, threads=7))


def test_reports_the_header_and_channels(builds, tmp_path):
    from texgs.format import unpack

    for case in ("golden", "fitter bits, palettes, ranges", "wrap both fp16"):
        data = CASES[case]()
        p = unpack(data)
        (tmp_path / "m.texgs").write_bytes(data)
        info = json.loads(run(builds["clang"], "info", tmp_path / "m.texgs"))
        assert (info["width"], info["height"], info["channels"]) == (p.width, p.height, len(p.channels))
        assert (info["levels"], info["k"], info["gaussian_count"]) == (p.n_levels, p.k, p.gaussians.n)
        assert info["flags"] == p.header["flags"] and info["strip_height"] == p.strip_height
        for ch, desc, bg in zip(info["channel_list"], p.channels, p.gaussians.background):
            assert (ch["name"], ch["group"]) == (desc.name, desc.group)
            assert (ch["semantic"], ch["colour_space"]) == (desc.semantic, desc.colour_space)
            assert tuple(ch["range"]) == pytest.approx(desc.range, rel=1e-7)
            assert ch["background"] == pytest.approx(float(bg), rel=1e-7)


def _hostile_cases() -> dict:
    """Corruptions of a packed file (as tests/test_format.py makes them), each with the reader's message."""
    repair = fuzz_reader.repair_crcs
    data = material((False, False), QuantConfig(max_radius=12.0, strip_height=4), c=5, n=150)
    pal = material((False, False), QuantConfig(max_radius=12.0, strip_height=4, palettes=(((0, 1, 2), 4),)))
    fp16 = material((False, False), QuantConfig.fp16(), c=2, n=40)

    def word(buf, at, value, f32=False):
        b = bytearray(buf)
        b[4 * at : 4 * at + 4] = (np.float32(value) if f32 else np.uint32(value)).tobytes()
        return bytes(repair(b))

    from texgs.format import unpack

    ch = unpack(data).sections[0].offset // 4
    C = {name: w for name, w, _ in layout.CHANNEL_FIELDS}

    def codes(buf, at, **changes):  # channel word 0 at word `at` with some of its bit fields changed
        old = int(np.frombuffer(buf, "<u4", 1, 4 * at)[0])
        return layout.channel_codes(**{**layout.channel_fields(old), **changes})

    pal_sec = next(s for s in unpack(pal).sections if s.id == layout.SECTION_PALETTES).offset // 4
    rec16 = unpack(fp16).sections[2].offset
    half = bytearray(fp16)
    half[rec16 + 10 : rec16 + 12] = np.uint16(0x7BFF).tobytes()  # a value of 65504
    cases = {
        "empty": b"",
        "truncated header": data[:100],
        "truncated body": data[:-8],
        "padded": data + bytes(16),
        "magic": b"XEXGS" + data[5:],
        "newer version": word(data, 2, layout.VERSION_MAJOR + 1),
        "older version": word(data, 2, 1),
        "header crc": data[:20] + bytes([data[20] ^ 1]) + data[21:],
        "section crc": data[:-20] + bytes([data[-20] ^ 0x10]) + data[-19:],
        "index bits": word(data, 28, 32),
        "huge count": word(data, 13, 0xFFFFFFF0),
        "huge size": word(data, 5, 1 << 30),
        "channels": word(data, 7, 999),
        "levels": word(data, 10, 17),
        "strip count": word(data, 12, 99),
        "section count": word(data, 26, 0),
        "section table offset": word(data, 27, 1 << 31),
        "section offset": word(data, 33, 1 << 31),
        "section size": word(data, 34, 0xFFFFFFF0),
        "unknown section": word(data, 32, 77),
        "file length": word(data, 4, len(data) + 4),
        "encoding": word(data, 14, 9),
        "radius nan": word(data, 20, 0x7FC00000),
        "radius big": word(data, 20, 4097.0, f32=True),
        "rotation step": word(data, 25, 1e38, f32=True),
        "position bits": word(data, 15, 99),
        "record bits": word(data, 19, 7),
        "value bits": word(data, ch + C["codes"], codes(data, ch, value_bits=0)),
        "value step": word(data, ch + C["value_step"], 0.5, f32=True),
        "background": word(data, ch + C["background"], 1.5, f32=True),
        "range": word(data, ch + C["range_hi"], 2.0**65, f32=True),
        "semantic": word(data, ch, 12),
        "channel palette": word(data, ch + C["codes"], codes(data, ch, palette=1)),
        "palette count 0": word(pal, 29, 0),
        "palette unused": word(pal, 29, 2),
        "palette index bits": word(pal, pal_sec + 1, 0),
        "palette entry bits": word(pal, pal_sec + 2, 99),
        "palette data word": word(pal, pal_sec + 3, 1 << 20),
        "fp16 with palettes": word(pal, 14, layout.ENCODING_FP16),
        "fp16 value": bytes(repair(half)),
    }
    return {name: (buf, F.python_outcome(buf)) for name, buf in cases.items()}


def test_rejects_what_the_python_reader_rejects_with_the_same_message(builds, tmp_path):
    cases = _hostile_cases()
    assert all(py is not None for _, py in cases.values()), [k for k, (_, py) in cases.items() if py is None]
    got = F.c_statuses(builds["asan"], [b for b, _ in cases.values()], tmp_path)
    for (name, (_, py)), (code, msg) in zip(cases.items(), got):
        assert code != 0, name
        assert fuzz_reader.error_class(py) == fuzz_reader.error_class("case: " + msg), (name, py, msg)
    codes = dict(zip(cases, (c for c, _ in got)))
    assert codes["truncated header"] == 2 and codes["magic"] == 3 and codes["newer version"] == 4
    assert codes["section crc"] == 5 and codes["huge count"] != 0


def test_seed_mutations_are_judged_like_the_python_reader(builds, tmp_path):
    """Differential: benchmarks/fuzz_reader.py's mutations (bit flips, truncations, splices, words,
    floats; CRCs repaired for 65%) through both readers under the sanitizers."""
    seeds = fuzz_reader.seed_files() + [GOLDEN.read_bytes()]
    mut = fuzz_reader.Mutator(seeds, 11)
    cases = [mut.case(i)[0] for i in range(1500)]
    d = F.differential(builds["asan"], cases, tmp_path)
    assert d["disagree"] == []
    assert d["accepted"] >= 0.05 * len(cases) and d["rejected_same_class"] >= 0.5 * len(cases)


def test_accepted_mutations_decode_like_the_reference(builds, tmp_path):
    seeds = fuzz_reader.seed_files()
    mut = fuzz_reader.Mutator(seeds, 12)
    done = 0
    for i in range(400):
        data = mut.case(i)[0]
        if F.python_outcome(data) is not None or done >= 25:
            continue
        ref = decode(data)
        if ref.size > 1 << 16:
            continue
        got = c_decode(builds["asan"], tmp_path, data).reshape(ref.shape)
        assert np.abs(got - ref).max() <= TOL, i
        done += 1
    assert done >= 10


def test_libfuzzer_bounded_run(tmp_path):
    """20 s of libFuzzer (ASan + UBSan) from the seed corpus: no crash, no sanitizer report, and the
    corpus it grew is judged by the C runtime exactly as by the Python reader."""
    _cc("clang")
    try:
        r = F.fuzz(20, tmp_path)
    except RuntimeError as e:
        if "-fsanitize=fuzzer" in str(e):
            pytest.skip(f"clang cannot link libFuzzer here (libclang-rt-14-dev missing?): {str(e)[-300:]}")
        raise
    assert r["exit_code"] == 0, r["log_tail"]
    assert r["crashes"] == 0 and r["sanitizer_reports"] == 0
    assert r["runs"] and r["runs"] > 1000
    assert r["corpus_disagreements"] == [], r["corpus_disagreements"]
    assert r["corpus_accepted_by_both"] > 0


def test_integration_guide_example_compiles(tmp_path):
    """The C example of docs/integration.md compiles as written (-std=c99 -Wall -Wextra -Werror)."""
    text = (REPO / "docs" / "integration.md").read_text()
    example = re.search(r"```c\n(.*?)```", text, re.S)[1]
    head, _, body = example.partition('#include "texgs_runtime.h"\n')
    args = "const void* bytes, size_t size, const char* path, float du_dx, float dv_dx, float du_dy, float dv_dy"
    src = (
        f'{head}#include "{HEADER}"\n#include <stdio.h>\n#include <stdlib.h>\n'
        "#define log_error(...) fprintf(stderr, __VA_ARGS__)\n"
        f"int run({args});\nint run({args}) {{\n"
        + body.replace("    return;\n", "    return 1;\n")
        + "free(texels);\nreturn 0;\n}\n"
    )
    (tmp_path / "example.c").write_text(src)
    cmd = [_cc("gcc"), *F.WARNINGS, "-c", str(tmp_path / "example.c"), "-o", str(tmp_path / "example.o")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_files_breaking_the_stated_layout_are_rejected_alike(builds, tmp_path):
    """docs/FORMAT.md's layout rules that no CRC or count catches (16-byte sections and file length,
    power-of-two strips in fp16 files too, name limits): both readers reject each with one message class."""
    from test_format import spec_edge_cases

    cases = list(spec_edge_cases().values())
    d = F.differential(builds["gcc"], cases, tmp_path)
    assert d["disagree"] == [] and d["accepted"] == 0 and d["rejected_same_class"] == len(cases)
