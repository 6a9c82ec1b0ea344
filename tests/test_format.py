"""Packed format: writer/reader round trip, reference decoder == render_ref on
the dequantised Gaussians (texels, UVs, both addressing modes, LOD limits), the
index guarantee, the golden file, and untrusted bytes (including a fuzz loop)."""

import pathlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import REPO, load_script

from texgs import render_ref
from texgs.channels import Channel
from texgs.constants import MAX_CHANNELS
from texgs.errors import ConfigError, FormatError, InputError
from texgs.format import (
    QuantConfig,
    decode,
    decode_uv,
    gaussian_constraints,
    pack,
    quantize,
    size_bound,
    unpack,
)
from texgs.format import layout as L
from texgs.format.decoder import block_candidates
from texgs.gaussians import Gaussians

GOLDEN = pathlib.Path(__file__).parent / "data" / "golden"


def make_input(h=48, w=64, c=5, n=150, seed=0, cfg=None, wrap=(False, False), k=4, levels=1):
    cfg = cfg or QuantConfig(max_radius=12.0, strip_height=4)
    rng = np.random.default_rng(seed)
    lo = gaussian_constraints(h, w, cfg)["min_inv_scale"]
    gaussians = Gaussians(
        means=(rng.random((n, 2)) * [w, h]).astype(np.float32),
        inv_scales=(lo * np.exp(rng.random((n, 2)) * 2.0)).astype(np.float32),
        rotations=(rng.random(n) * 6 - 3).astype(np.float32),
        values=rng.random((n, c)).astype(np.float32),
        background=np.full(c, 0.5, np.float32),
        levels=rng.integers(0, levels, n),
    )
    channels = [Channel(f"ch{i}", "g") for i in range(c)]
    return dict(gaussians=gaussians, channels=channels, height=h, width=w, k=k, wrap=wrap, cfg=cfg)


def torch_params(p, keep=None):
    g = p.gaussians if keep is None else p.gaussians.select(keep)
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in (g.means, g.inv_scales, g.rotations, g.values)]


def reference_image(p, keep=None):
    m, s, r, v = torch_params(p, keep)
    bg = torch.from_numpy(p.gaussians.background)
    img = render_ref.render(m, s, r, v, bg, p.height, p.width, p.k, wrap=p.wrap)
    amb = render_ref.ambiguous_texels(m, s, r, p.height, p.width, p.k, wrap=p.wrap)
    return img.numpy(), amb.numpy()


def rows(*arrays):
    """Rows of the concatenated arrays, sorted (a multiset of Gaussians)."""
    a = np.concatenate([np.asarray(x, np.float32).reshape(len(x), -1) for x in arrays], 1)
    return a[np.lexsort(a.T[::-1])]


PALETTE_CFG = QuantConfig(max_radius=12.0, strip_height=4, palettes=(((0, 1, 2), 4), ((3, 4), 3)))


@pytest.mark.parametrize("cfg", [QuantConfig(max_radius=12.0, strip_height=4), QuantConfig.fp16(), PALETTE_CFG])
@pytest.mark.parametrize("wrap", [(False, False), (True, True), (True, False)])
def test_round_trip_and_decode_equals_reference(cfg, wrap):
    inp = make_input(cfg=cfg, wrap=wrap, levels=2)
    data = pack(**inp)
    names = L.names_section([f"ch{i}" for i in range(5)], ["g"] * 5, ["generic"] * 5)  # 'ch0\tg\n' ...
    assert len(data) == size_bound(150, 5, 48, 64, cfg, lod_levels=2, names_bytes=len(names))
    p = unpack(data)
    assert (p.height, p.width, p.k, p.wrap, p.n_levels) == (48, 64, 4, wrap, 2)
    assert [c.name for c in p.channels] == [f"ch{i}" for i in range(5)]
    # The dequantised Gaussians are exactly what quantize_ste / quantize give (as a multiset).
    g, d = inp["gaussians"], p.gaussians
    q = quantize(g.means, g.inv_scales, g.rotations, g.values, cfg, 48, 64, wrap)
    assert np.array_equal(rows(*q, g.levels), rows(d.means, d.inv_scales, d.rotations, d.values, d.levels))
    img = decode(p)
    ref, amb = reference_image(p)
    assert amb.mean() < 0.02
    assert np.abs(img - ref)[~amb].max() <= 1e-6
    assert not np.isnan(img).any()


@pytest.mark.parametrize("h,w,strip", [(45, 50, 8), (17, 33, 4), (9, 7, 16), (9, 7, 1)])
def test_decode_sizes_not_multiple_of_tiles_or_strips(h, w, strip):
    for wrap in [(True, True), (False, True)]:
        p = unpack(
            pack(**make_input(h=h, w=w, n=60, wrap=wrap, seed=h, cfg=QuantConfig(max_radius=10.0, strip_height=strip)))
        )
        ref, amb = reference_image(p)
        assert np.abs(decode(p) - ref)[~amb].max() <= 1e-6


def test_lod_limit_decodes_the_first_levels_only():
    p = unpack(pack(**make_input(levels=3, n=200, seed=5)))
    for lod in (1, 2):
        ref, amb = reference_image(p, keep=p.gaussians.levels < lod)
        assert np.abs(decode(p, lod_limit=lod) - ref)[~amb].max() <= 1e-6
    with pytest.raises(InputError):
        decode(p, lod_limit=4)


@pytest.mark.parametrize("wrap", [(False, False), (True, True)])
def test_uv_sampling_matches_reference(wrap):
    p = unpack(pack(**make_input(wrap=wrap, seed=2)))
    rng = np.random.default_rng(1)
    uv = (rng.random((3000, 2)) * 3.0 - 1.0).astype(np.float32)  # well outside [0, 1] too
    got = decode_uv(p, uv)
    size = np.array([p.width, p.height], np.float32)
    pts = uv * size
    for a in (0, 1):
        pts[:, a] = (
            pts[:, a] - size[a] * np.floor(pts[:, a] / size[a]) if wrap[a] else np.clip(pts[:, a], 0.5, size[a] - 0.5)
        )
    m, s, r, v = torch_params(p)
    period = (float(p.width) if wrap[0] else None, float(p.height) if wrap[1] else None)
    ref = render_ref.sample(torch.from_numpy(pts), m, s, r, v, torch.from_numpy(p.gaussians.background), p.k, period)
    ref = ref.numpy()
    q = render_ref.gaussian_q(torch.from_numpy(pts).double(), m.double(), s.double(), r.double(), period)
    near = ((q - 9).abs() < 1e-3).any(1).numpy()
    assert np.abs(got - ref)[~near].max() <= 1e-6
    # Texel centres through the UV path equal the texel decode.
    ys, xs = np.mgrid[0 : p.height, 0 : p.width]
    uvc = np.stack([(xs + 0.5) / p.width, (ys + 0.5) / p.height], -1).reshape(-1, 2).astype(np.float32)
    assert np.abs(decode_uv(p, uvc).reshape(p.height, p.width, -1) - decode(p)).max() <= 1e-6


def test_index_search_finds_every_covering_gaussian():
    """The guarantee shaders rely on: the strip/x window of a point holds every Gaussian with q <= 9."""
    for wrap in [(False, False), (True, True)]:
        p = unpack(pack(**make_input(wrap=wrap, n=300, seed=7, levels=2)))
        rng = np.random.default_rng(3)
        pts = (rng.random((300, 2)) * [p.width, p.height]).astype(np.float32)
        period = (float(p.width) if wrap[0] else None, float(p.height) if wrap[1] else None)
        m, s, r, _ = torch_params(p)
        q = render_ref.gaussian_q(torch.from_numpy(pts), m, s, r, period).numpy()
        for i, (x, y) in enumerate(pts):
            cand = set(block_candidates(p, x, x, y, y, lod=2).tolist())
            assert set(np.nonzero(q[i] <= 9.0)[0].tolist()) <= cand


def test_palette_records_hold_an_index_and_values_come_from_the_entries():
    from texgs.format.palette import build_palettes

    inp = make_input(cfg=PALETTE_CFG, n=300)
    g = inp["gaussians"]
    plain = QuantConfig(max_radius=12.0, strip_height=4)
    # Records lose the five channels' 6-bit codes and gain a 4-bit and a 3-bit index.
    assert PALETTE_CFG.record_bits(5) == plain.record_bits(5) - 5 * 6 + 4 + 3
    p = unpack(pack(**inp))
    assert p.value_bits == [7] * 5 and p.cfg.palettes == PALETTE_CFG.palettes
    pv = p.gaussians.values
    assert len(np.unique(pv[:, :3], axis=0)) <= 16 and len(np.unique(pv[:, 3:], axis=0)) <= 8
    # Entries are k-means centres (deterministic); each Gaussian takes the entry
    # nearest its values after the entries' 7-bit quantisation.
    tables = build_palettes(g.values, PALETTE_CFG)
    assert [t.shape for t in tables] == [(16, 3), (8, 2)]
    assert all(np.array_equal(a, b) for a, b in zip(tables, build_palettes(g.values, PALETTE_CFG)))
    q = quantize(g.means, g.inv_scales, g.rotations, g.values, PALETTE_CFG, 48, 64)[3].numpy()
    v = np.clip(g.values.astype(np.float64), 0, 1)
    for (chans, _), table in zip(PALETTE_CFG.palettes, tables):
        codes = np.round(np.clip(table, 0, 1) * 127) / 127
        nearest = codes[((v[:, None, list(chans)] - codes[None]) ** 2).sum(-1).argmin(1)]
        assert np.abs(q[:, list(chans)] - nearest).max() < 1e-6
    # k-means beats a random choice of entries on these values.
    err = ((q[:, :3] - v[:, :3]) ** 2).mean()
    rand = np.round(v[np.random.default_rng(0).choice(300, 16, replace=False), :3] * 127) / 127
    assert err < ((v[:, None, :3] - rand[None]) ** 2).sum(-1).min(1).mean() / 3


def test_palettes_are_checked():
    bad = [
        QuantConfig(palettes=(((0, 1), 4), ((1, 2), 4))),  # a channel in two palettes
        QuantConfig(palettes=(((2, 1), 4),)),  # not ascending
        QuantConfig(palettes=(((0, 9), 4),)),  # no such channel
        QuantConfig(palettes=(((0, 1), 0),)),  # no index bits
        QuantConfig(palettes=(((0, 1), L.MAX_PALETTE_INDEX_BITS + 1),)),
    ]
    for cfg in bad:
        with pytest.raises(ConfigError):
            cfg.record_bits(5)
    with pytest.raises(ConfigError):
        QuantConfig(
            encoding="fp16",
            position_bits=16,
            inv_scale_exp_bits=5,
            inv_scale_mant_bits=11,
            rotation_bits=16,
            value_bits=16,
            palettes=(((0, 1), 4),),
        ).validate()


def test_golden_file_is_reproducible_and_decodes_as_committed():
    mod = load_script(GOLDEN / "make_golden.py")
    committed = (GOLDEN / "material.texgs").read_bytes()
    assert pack(**mod.golden_input()) == committed
    img = decode(committed)
    assert np.abs(img - np.load(GOLDEN / "material_decoded.npy")).max() <= 1e-6
    p = unpack(committed)
    ref, amb = reference_image(p)
    assert np.abs(img - ref)[~amb].max() <= 1e-6
    assert p.channels[6].range == (0.0, 2.0) and p.value_bits == [7, 7, 7, 8, 8, 8, 5]
    assert p.cfg.palettes == (((0, 1, 2), 4),) and len(np.unique(p.gaussians.values[:, :3], axis=0)) <= 16


def test_pack_rejects_bad_input():
    good = make_input()
    g, channels = good["gaussians"], good["channels"]
    bad = [
        dict(gaussians=replace(g, values=g.values[:, :3])),
        dict(gaussians=replace(g, background=np.zeros(2))),
        dict(k=0),
        dict(gaussians=replace(g, means=np.full((150, 2), np.nan, np.float32))),
        dict(gaussians=replace(g, levels=-np.ones(150, int))),
        dict(channels=[Channel("x" * (L.NAME_MAX_BYTES + 1))] + channels[1:]),
        dict(channels=[Channel("a\tb")] + channels[1:]),
        dict(channels=[Channel("a", semantic="nope")] + channels[1:]),
        dict(cfg=QuantConfig(position_bits=40)),
    ]
    for change in bad:
        with pytest.raises((InputError, ConfigError)):
            pack(**{**good, **change})


def test_channel_names_round_trip_and_are_optional():
    inp = make_input(c=3)
    inp["channels"] = [
        Channel("albedo.r", "albedo"),
        Channel("rauheit", "grün-maske"),
        Channel("m" * L.NAME_MAX_BYTES, "g"),
    ]
    data = pack(**inp)
    p = unpack(data)
    assert [(c.name, c.group) for c in p.channels] == [(c.name, c.group) for c in inp["channels"]]
    assert p.sections[-1].id == L.SECTION_NAMES
    # A file without the optional NAMES section reads, with generic names.
    h = np.frombuffer(data[: L.HEADER_BYTES], "<u4").copy()
    h[26] = 3  # section_count: drop the last
    sec = p.sections[-1]
    stripped = bytearray(data[: sec.offset])
    stripped[: L.HEADER_BYTES] = h.tobytes()
    stripped[16:20] = np.uint32(len(stripped)).tobytes()  # file_bytes
    q = unpack(bytes(refix_crcs(stripped)))
    assert [c.name for c in q.channels] == ["c0", "c1", "c2"]
    assert np.array_equal(q.gaussians.values, p.gaussians.values)
    # A NAMES section with the wrong number of lines is rejected.
    bad = bytearray(data)
    bad[sec.offset : sec.offset + 4] = b"x\ny\n"
    with pytest.raises(FormatError, match="names"):
        unpack(bytes(refix_crcs(bad)))


def test_names_a_reader_derives_from_the_semantics_are_not_stored():
    roles = [
        ("albedo.r", "albedo", "albedo"),
        ("albedo.g", "albedo", "albedo"),
        ("albedo.b", "albedo", "albedo"),
        ("normal.x", "normal", "normal_x"),
        ("normal.y", "normal", "normal_y"),
        ("normal.z", "normal", "normal_z"),
        ("roughness", "roughness", "roughness"),
        ("c7", "c7", "generic"),
    ]
    assert L.derived_names([s for _, _, s in roles]) == [(n, g) for n, g, _ in roles]
    assert L.derived_names(["emissive", "albedo"]) == [("emissive", "emissive"), ("albedo", "albedo")]
    inp = make_input(c=len(roles))
    inp["channels"] = [Channel(n, g, semantic=s) for n, g, s in roles]
    data = pack(**inp)
    p = unpack(data)
    assert L.SECTION_NAMES not in [sec.id for sec in p.sections]
    assert [(c.name, c.group, c.semantic) for c in p.channels] == roles
    assert len(data) == size_bound(150, len(roles), 48, 64, inp["cfg"], names_bytes=0)
    # One name that the semantics do not give: the whole NAMES section is stored.
    inp["channels"][6] = Channel("rough", "roughness", semantic="roughness")
    q = unpack(pack(**inp))
    assert q.sections[-1].id == L.SECTION_NAMES and q.channels[6].name == "rough"
    assert [c.name for c in q.channels[:6]] == [n for n, _, _ in roles[:6]]


def test_channel_word_bit_fields_hold_every_value_a_writer_produces():
    fields = L.CHANNEL_CODE_FIELDS
    assert [shift for _, shift, _ in fields] == [sum(b for _, _, b in fields[:i]) for i in range(len(fields))]
    assert sum(b for _, _, b in fields) == 32
    width = {name: bits for name, _, bits in fields}
    assert len(L.SEMANTICS) <= 1 << width["semantic"] and len(L.COLOUR_SPACES) <= 1 << width["colour_space"]
    assert 16 < 1 << width["value_bits"]  # QuantConfig allows 1..16
    assert MAX_CHANNELS + 1 <= 1 << width["palette"]  # 0, or palette index + 1
    widest = QuantConfig(
        position_bits=16, strip_y_bits=16, inv_scale_exp_bits=3, inv_scale_mant_bits=12, rotation_bits=16, value_bits=16
    )
    assert widest.record_bits(MAX_CHANNELS) < 1 << width["value_bit_offset"]
    top = {name: (1 << bits) - 1 for name, bits in width.items()}
    assert L.channel_fields(L.channel_codes(**top)) == top and L.channel_codes(**top) == 0xFFFFFFFF
    with pytest.raises(ValueError, match="semantic"):
        L.channel_codes(**{**top, "semantic": 1 << width["semantic"]})


def test_index_entries_are_16_bit_until_the_count_needs_32():
    small = unpack(pack(**make_input(n=500)))
    assert small.header["index_bits"] == 16 and small.sections[1].size == L.index_bytes(500, 12, 1)
    big_inp = make_input(n=70000, c=1)
    big = unpack(pack(**big_inp))
    assert big.header["index_bits"] == 32 and big.index[-1] == 70000
    assert big.sections[1].size == 4 * L.index_entries(12, 1)
    assert L.index_bytes(500, 12, 1) == 4 * -(-13 // 2)  # 13 entries, two per word
    g = big_inp["gaussians"].as_torch()
    assert np.array_equal(
        np.sort(big.gaussians.means[:, 0]),
        np.sort(
            quantize(
                g.means,
                g.inv_scales,
                g.rotations,
                g.values,
                big_inp["cfg"],
                48,
                64,
                (False, False),
            )[0].numpy()[:, 0]
        ),
    )


def test_empty_material_decodes_to_background():
    inp = make_input(n=0)
    p = unpack(pack(**inp))
    assert np.array_equal(decode(p), np.broadcast_to(inp["gaussians"].background, (48, 64, 5)))


# ---------------------------------------------------------------------------
# Untrusted bytes


fuzz_reader = load_script(REPO / "benchmarks" / "fuzz_reader.py")
refix_crcs = fuzz_reader.repair_crcs  # recompute every CRC so a mutation reaches the checks behind them


def set_word(data: bytes, word: int, value: int) -> bytes:
    buf = bytearray(data)
    buf[4 * word : 4 * word + 4] = np.uint32(value).tobytes()
    return bytes(refix_crcs(buf))


def test_reader_rejects_specific_corruptions():
    data = pack(**make_input())
    cases = {
        "truncated": data[:100],
        "truncated body": data[:-8],
        "magic": b"XEXGS" + data[5:],
        "version": set_word(data, 2, L.VERSION_MAJOR + 1),
        "old version": set_word(data, 2, 1),
        "index bits": set_word(data, 28, 32),
        "header crc": data[:20] + bytes([data[20] ^ 1]) + data[21:],
        "section crc": data[:-20] + bytes([data[-20] ^ 0x10]) + data[-19:],
        "huge count": set_word(data, 13, 0xFFFFFFF0),
        "huge size": set_word(data, 5, 1 << 30),
        "channels": set_word(data, 7, 999),
        "section offset": set_word(data, 33, 1 << 31),
        "unknown section": set_word(data, 32, 77),
        "file length": set_word(data, 4, len(data) + 4),
        "encoding": set_word(data, 14, 9),
        "radius": set_word(data, 20, 0x7FC00000),
    }
    for bad in cases.values():
        with pytest.raises(FormatError):
            unpack(bad)
    with pytest.raises(FormatError, match="wrong magic"):
        unpack(cases["magic"], name="x.texgs")
    with pytest.raises(FormatError, match="older texgs: bake it again"):
        unpack(cases["old version"], name="x.texgs")


def spec_edge_cases() -> dict:
    """Files a writer never produces, each breaking one rule of docs/FORMAT.md's layout that no CRC or
    count catches (shared with tests/test_runtime_c.py, which holds the C runtime to the same verdicts)."""
    inp = make_input()
    inp["channels"][0] = Channel("a" * L.NAME_MAX_BYTES, "gg")
    data = pack(**inp)
    p = unpack(data)
    names = next(s for s in p.sections if s.id == L.SECTION_NAMES)
    names_slot = p.sections.index(names)
    body = data[names.offset : names.offset + names.size]
    cases = {}
    # A name one byte over the limit, and one holding a NUL, in a section of the same size.
    for what, new_line in (
        ("long name", b"a" * (L.NAME_MAX_BYTES + 1) + b"\tg\n"),
        ("NUL in a name", b"a\0" + b"a" * (L.NAME_MAX_BYTES - 2) + b"\tgg\n"),
    ):
        line = b"a" * L.NAME_MAX_BYTES + b"\tgg\n"
        assert body.startswith(line) and len(new_line) == len(line)
        buf = bytearray(data)
        buf[names.offset : names.offset + len(line)] = new_line
        cases[what] = bytes(refix_crcs(buf))
    # A file length that is not a multiple of 16 (the header agreeing).
    cases["length"] = set_word(data + bytes(4), 4, len(data) + 4)
    # The last section moved 4 bytes off its 16-byte boundary (the file padded back to a multiple of 16).
    buf = bytearray(data[: names.offset] + bytes(4) + body)
    buf += bytes(-len(buf) % L.SECTION_ALIGN)
    entry = L.HEADER_WORDS + 4 * names_slot
    cases["misaligned section"] = set_word(set_word(bytes(buf), entry + 1, names.offset + 4), 4, len(buf))
    # An fp16 file with strips of 6 rows (the strip count agreeing).
    fp16 = make_input(n=0, cfg=QuantConfig.fp16())
    cases["strip height"] = set_word(set_word(pack(**fp16), 11, 6), 12, L.strip_count(48, 6))
    return cases


def test_reader_holds_files_to_the_stated_layout():
    want = {
        "long name": "name or group is over 64 bytes",
        "NUL in a name": "holds a NUL or CR",
        "length": "not a multiple of 16",
        "misaligned section": "is not 16-byte aligned",
        "strip height": "bad strip height 6",
    }
    cases = spec_edge_cases()
    assert set(cases) == set(want)
    for what, data in cases.items():
        with pytest.raises(FormatError, match=want[what]):
            unpack(data, name="x.texgs")


def test_reader_rejects_a_record_below_the_last_row():
    # 45 rows in strips of 4: the last strip holds rows 44..48, of which 44..45 exist.
    data = pack(**make_input(h=45, n=400, seed=3))
    p = unpack(data)
    h = p.header
    first_in_last_strip = int(p.index[(h["strip_count"] - 1) * h["levels"]])
    assert first_in_last_strip < h["gaussian_count"]
    rec = p.sections[2]
    bit = first_in_last_strip * h["record_bits"] + h["position_bits"]  # its y within the strip
    buf = bytearray(data)
    words = np.frombuffer(bytes(buf[rec.offset : rec.offset + rec.size]), "<u4").copy()
    y_bits = h["position_y_bits"]
    assert (bit & 31) + y_bits <= 32  # one word, for this test
    words[bit >> 5] |= np.uint32(((1 << y_bits) - 1) << (bit & 31))
    buf[rec.offset : rec.offset + rec.size] = words.tobytes()
    with pytest.raises(FormatError, match="below the last image row"):
        unpack(bytes(refix_crcs(buf)))


def test_reader_rejects_bad_palettes():
    data = pack(**make_input(cfg=PALETTE_CFG))
    p = unpack(data)
    pal = next(s for s in p.sections if s.id == L.SECTION_PALETTES)
    ch = next(s for s in p.sections if s.id == L.SECTION_CHANNELS)
    channel0 = L.channel_fields(int(np.frombuffer(data, "<u4", 1, ch.offset)[0]))
    cases = {
        "palette count": set_word(data, 29, 0),  # a palettes section the header denies
        "more palettes": set_word(data, 29, 3),  # a palette no channel uses
        # channel 0 names palette 7 of 2
        "channel palette": set_word(data, ch.offset // 4, L.channel_codes(**{**channel0, "palette": 7})),
        "index bits": set_word(data, pal.offset // 4 + 1, 0),
        "entry bits": set_word(data, pal.offset // 4 + 2, 99),
        "data offset": set_word(data, pal.offset // 4 + 3, 1 << 20),
        "fp16 with palettes": set_word(data, 14, L.ENCODING_FP16),
    }
    for bad in cases.values():
        with pytest.raises(FormatError):
            unpack(bad)


def set_f32(data: bytes, word: int, value: float) -> bytes:
    buf = bytearray(data)
    buf[4 * word : 4 * word + 4] = np.float32(value).tobytes()
    return bytes(refix_crcs(buf))


HEADER_F32 = {name: word for name, word, kind in L.HEADER_FIELDS if kind == "f32"}


@pytest.mark.parametrize(
    "cfg", [QuantConfig(max_radius=12.0, strip_height=4), QuantConfig.fp16()], ids=["fixed", "fp16"]
)
def test_reader_rejects_dequantisation_constants_no_writer_produces(cfg):
    # rotation_step = 1e38 used to be accepted and decode to NaN in most texels.
    data = pack(**make_input(cfg=cfg, c=2))
    p = unpack(data)
    ch = p.sections[0].offset // 4
    words = {**HEADER_F32, **{name: ch + w for name, w, kind in L.CHANNEL_FIELDS if kind == "f32"}}
    absurd = [1e38, 3.4e38, -3.4e38, -1.0, 2.0**65]
    near = {"background": [1.5, -0.25], "range_lo": [-(2.0**65)], "range_hi": [2.0**65], "radius": [4097.0, 0.5]}
    accepted = []
    for field, word in words.items():
        old = float(np.frombuffer(data[4 * word : 4 * word + 4], "<f4")[0])
        writer_could = {("range_lo", -1.0), ("range_hi", old * 2.0 + 1.0), ("background", 0.0)}
        for value in absurd + near.get(field, []) + [old * 2.0 + 1.0, 0.0]:
            if value == old or (field, value) in writer_could:
                continue
            try:
                unpack(set_f32(data, word, value))
                accepted.append((field, value))
            except FormatError:
                pass
    assert accepted == []


def test_reader_rejects_fp16_values_outside_the_unit_range():
    data = pack(**make_input(cfg=QuantConfig.fp16(), c=2))
    rec = unpack(data).sections[2]
    for half in (0x7BFF, 0xBC00):  # 65504 and -1.0
        buf = bytearray(data)
        at = rec.offset + 2 * 5  # record 0, channel 0: the 16-bit field after 5 others
        buf[at : at + 2] = np.uint16(half).tobytes()
        with pytest.raises(FormatError, match="outside the unit range"):
            unpack(bytes(refix_crcs(buf)))


def test_files_at_the_edges_of_the_writer_ranges_are_accepted_and_decode_finite():
    big = 2.0**64
    for cfg in (
        QuantConfig(max_radius=1.0, rotation_bits=1, strip_height=1, strip_y_bits=0),
        QuantConfig(max_radius=4096.0, rotation_bits=16, inv_scale_exp_bits=3, inv_scale_mant_bits=12),
        QuantConfig(max_radius=3.7, strip_height=2),
        QuantConfig.fp16(),
    ):
        inp = make_input(h=20, w=24, c=3, n=40, cfg=cfg)
        inp["channels"] = [
            Channel("a", "g", range=(-big, big)),
            Channel("b", "g", range=(big / 2, big)),
            Channel("c", "g", range=(-big, -big / 2)),
        ]
        # 1.7: clamped to 1 by the writer
        inp["gaussians"].background = np.array([0.0, 1.0, 1.7], np.float32)
        p = unpack(pack(**inp))
        assert p.gaussians.background.tolist() == [0.0, 1.0, 1.0]
        img = decode(p, apply_range=True)
        assert np.isfinite(img).all() and np.abs(img).max() <= big


def test_writer_refuses_ranges_beyond_the_format_limit():
    inp = make_input(c=1)
    inp["channels"] = [Channel("a", "g", range=(0.0, 2.0**65))]
    with pytest.raises(InputError, match="within"):
        pack(**inp)


def test_reader_fuzz():
    """A short run of benchmarks/fuzz_reader.py: every case is rejected by a CRC,
    rejected by the parser, or accepted with a finite decode (fuzz raises otherwise)."""
    r = fuzz_reader.fuzz(1500, seed=1234)
    cases = r["cases"]
    assert r["rejected_by_crc"] + r["rejected_by_parser"] + r["accepted_and_finite"] == cases
    assert r["repaired_past_crc"] == r["repaired"] >= 0.55 * cases  # repaired mutations reach the parser
    assert r["rejected_by_crc"] >= 0.1 * cases  # the CRCs catch the others
    assert r["past_crc_share"] >= 0.6
    assert r["accepted_and_finite"] >= 0.05 * cases  # harmless mutations decode
    classes = r["parser_error_classes"]
    assert len(classes) >= 25
    for expected in (
        "header field rotation_step is #; the size and bit depths give #",
        "channel # background # is outside the unit range [#, #]",
        "file is # bytes but its header says # (truncated or padded)",
    ):
        assert classes.get(expected, 0) > 0, expected


def test_shader_cost_counts_match_the_index_window():
    from texgs.format.cost import shader_cost

    for wrap in [(False, False), (True, True)]:
        p = unpack(pack(**make_input(h=24, w=40, n=80, wrap=wrap, seed=9, levels=2)))
        cost = shader_cost(p)
        evaluated = [
            len(block_candidates(p, x + 0.5, x + 0.5, y + 0.5, y + 0.5, lod=2))
            for y in range(p.height)
            for x in range(p.width)
        ]
        assert cost["evaluated_mean"] == pytest.approx(np.mean(evaluated))
        assert cost["evaluated_max"] == max(evaluated)
        from texgs.format.decoder import decode_points

        pts = np.stack(np.meshgrid(np.arange(p.width) + 0.5, np.arange(p.height) + 0.5), -1).reshape(-1, 2)
        _, cover, near = decode_points(p, pts, with_counts=True)
        # The cheap distance test keeps every covering Gaussian and drops far ones.
        assert (near >= cover).all() and near.mean() < np.mean(evaluated)
        assert cost["covering_mean"] == pytest.approx(cover.mean())
        assert cost["covering_mean"] <= cost["evaluated_mean"]
        # Brute force the shaders' reject order per texel and window record:
        # y box (1 multiply), x box (2), circle (4).
        wmin = np.minimum(p.gaussians.inv_scales[:, 0], p.gaussians.inv_scales[:, 1]).astype(np.float64)
        box_macs = []
        for y in range(p.height):
            for x in range(p.width):
                i = block_candidates(p, x + 0.5, x + 0.5, y + 0.5, y + 0.5, lod=2)
                d = np.array([x + 0.5, y + 0.5]) - p.gaussians.means[i].astype(np.float64)
                for axis, side in enumerate((p.width, p.height)):
                    if p.wrap[axis]:
                        d[:, axis] -= side * np.floor(d[:, axis] / side + 0.5)
                e = np.abs(d) * wmin[i, None]
                y_out = e[:, 1] > L.BOX_CUTOFF
                x_out = ~y_out & (e[:, 0] > L.BOX_CUTOFF)
                box_macs.append(y_out.sum() + 2 * x_out.sum() + 4 * (len(i) - y_out.sum() - x_out.sum()))
        assert cost["circle_tests_mean"] < cost["evaluated_mean"]
        c = p.gaussians.channels
        assert cost["macs_mean"] == pytest.approx(
            np.mean(box_macs) + 8 * near.mean() + (c + 1) * np.minimum(cover, p.k).mean() + c
        )


@pytest.mark.parametrize(
    "kw",
    [
        dict(h=70, w=50, n=400, levels=2),
        dict(h=45, w=64, n=300, wrap=(True, True)),
        dict(h=33, w=40, n=200, cfg=QuantConfig.fp16(), wrap=(False, True)),
    ],
)
def test_row_bands_decode_the_same_bits_as_all_texels_at_once(kw, monkeypatch):
    from texgs.format import decoder

    p = unpack(pack(**make_input(**kw)))
    pts = np.stack(np.meshgrid(np.arange(p.width) + 0.5, np.arange(p.height) + 0.5), -1).reshape(-1, 2)
    whole = decoder.decode_points(p, pts.astype(np.float32)).reshape(p.height, p.width, -1)
    monkeypatch.setattr(decoder, "BAND_TEXELS", 16 * p.width)  # 16-row bands
    assert decoder.band_rows(p.width) == 16
    starts = [y0 for y0, _ in decoder.decode_bands(p)]
    assert starts == list(range(0, p.height, 16))
    assert np.array_equal(decode(p), whole)
    with pytest.raises(InputError, match="LOD limit"):
        decoder.decode_bands(p, lod_limit=9)  # checked before the first band


def test_decode_refuses_absurd_images_without_allocating():
    inp = make_input(h=16384, w=16384, c=2, n=0, cfg=QuantConfig(strip_height=256, strip_y_bits=10))
    p = unpack(pack(**inp))
    with pytest.raises(InputError, match="too large"):
        decode(p)
    assert decode_uv(p, np.array([[0.5, 0.5]], np.float32)).tolist() == [[0.5, 0.5]]
