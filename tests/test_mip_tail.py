"""The stored mip tail (docs/FORMAT.md "Mip tail", docs/IMAGE_FUNCTION.md "Mip
tail"): writer and reader agree, a decoder that ignores it still decodes the
file, filtered sampling reads it at wide footprints without a pop, untrusted
tail bytes are rejected, and the fitter's byte budget counts it."""

import zlib

import numpy as np
import pytest
from test_filtered import random_material

from texgs.errors import FormatError, InputError
from texgs.format import filtered as F
from texgs.format import layout as L
from texgs.format import mip_tail as T
from texgs.format import unpack
from texgs.format.writer import attach_mip_tail

H, W, C = 40, 48, 3


def source(h=H, w=W, c=C, seed=1):
    """A smooth unit-value image with some texel-scale detail."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    img = [0.5 + 0.4 * np.sin(xs * (0.1 + 0.05 * i) + ys * 0.07 * (i + 1)) for i in range(c)]
    return np.clip(np.stack(img, 2) + 0.05 * rng.standard_normal((h, w, c)), 0, 1).astype(np.float32)


def with_tail(first=3, wrap=(False, False), h=H, w=W, **kw):
    data = random_material(wrap=wrap, h=h, w=w, **kw)
    return data, attach_mip_tail(data, T.build(source(h, w), first))


def test_trade_off_and_first_level_choice():
    # levels first..top of a 512^2 x 9 material; tail bytes / file bytes ~ (4/3) 8 / (4^T bppc)
    file = int(0.06 * 512 * 512 * 9 / 8)
    assert T.top_level(512, 512) == 9 and T.top_level(40, 48) == 6 and T.level_size(40, 48, 3) == (5, 6)
    assert T.section_bytes(512, 512, 9, 6) == 4 * (4 + 4 * 4) + 8 * 8 * 9 + 4 * 4 * 9 + 2 * 2 * 9 + 12
    assert T.file_bytes(512, 512, 9, 6) / file == pytest.approx(4 / 3 * 8 / (4**6 * 0.06), rel=0.15)
    assert T.choose_first_level(512, 512, 9, file, 0.1) == 6  # T = 5 would take 18%
    assert T.choose_first_level(512, 512, 9, 2 * file, 0.1) == 5  # 9.0% at 0.12 bppc
    assert T.choose_first_level(512, 512, 9, file, 0.001) is None
    assert T.choose_first_level(1, 1, 9, 10**6, 0.5) is None  # a 1x1 image has no coarser level


def test_pack_and_attach_write_the_same_bytes_and_the_reader_returns_the_tail():
    from test_filtered import Channel, Gaussians, QuantConfig, gaussian_constraints, pack

    src = source()
    tail = T.build(src, 2)
    assert [lv.shape for lv in tail.levels] == [(10, 12, 3), (5, 6, 3), (3, 3, 3), (2, 2, 3), (1, 1, 3)]
    chain = T.box_chain(src, 6)
    for i, lv in enumerate(tail.levels):  # the source's box mips, rounded to 8 bits
        assert np.abs(lv * np.float32(T.TAIL_VALUE_STEP) - chain[2 + i]).max() <= 0.5 / 255 + 1e-6
    cfg = QuantConfig(max_radius=10.0, strip_height=4)
    lim = gaussian_constraints(H, W, cfg)
    rng = np.random.default_rng(0)
    g = Gaussians(
        (rng.random((50, 2)) * [W, H]).astype(np.float32),
        np.full((50, 2), lim["min_inv_scale"] * 2, np.float32),
        np.zeros(50, np.float32),
        rng.random((50, C)).astype(np.float32),
        np.full(C, 0.5, np.float32),
        np.zeros(50, int),
    )
    args = ([Channel(f"c{i}") for i in range(C)], H, W)
    plain = pack(g, *args, cfg=cfg)
    packed = pack(g, *args, cfg=cfg, mip_tail=tail)
    assert attach_mip_tail(plain, tail) == packed
    assert attach_mip_tail(packed, None) == plain
    assert len(packed) == len(plain) + T.file_bytes(H, W, C, 2)
    p = unpack(packed)
    assert p.mip_tail.first_level == 2 and all(np.array_equal(a, b) for a, b in zip(p.mip_tail.levels, tail.levels))
    assert p.header["version_minor"] == L.VERSION_MINOR
    q = unpack(plain)
    assert q.mip_tail is None and np.array_equal(p.index, q.index)
    assert np.array_equal(p.gaussians.values, q.gaussians.values)
    with pytest.raises(InputError):
        pack(g, *args, cfg=cfg, mip_tail=T.build(source(c=2), 2))


def test_a_decoder_ignoring_the_tail_decodes_the_file_as_without_it():
    plain, tailed = with_tail(first=3, seed=4)
    uv = np.random.default_rng(2).random((300, 2)).astype(np.float32)
    for level in (0.0, 1.0, 2.5, 3.0, 5.0):
        a = F.sample_level(plain, uv, level)
        assert np.array_equal(a, F.sample_level(tailed, uv, level, use_tail=False))
        b = F.sample_level(tailed, uv, level)
        if level <= 2.0:  # below lod T - 1 the tail takes no part, bit for bit
            assert np.array_equal(a, b)
        else:
            assert np.abs(a - b).max() > 1e-3


def test_zero_footprint_is_the_point_value_bit_for_bit():
    from texgs.format import decode_uv

    _, tailed = with_tail(first=1, seed=5)
    uv = np.random.default_rng(3).random((200, 2)).astype(np.float32)
    assert np.array_equal(F.sample_grad(tailed, uv, [0, 0], [0, 0]), decode_uv(tailed, uv))


def test_levels_from_t_are_the_stored_mips_and_the_blend_does_not_pop():
    _, tailed = with_tail(first=3, seed=6, h=32, w=64)
    p = unpack(tailed)
    step = np.float32(T.TAIL_VALUE_STEP)
    for lv in range(3, 7):  # a level's texel centres read its texels exactly (power-of-two sides)
        want = p.mip_tail.levels[lv - 3].astype(np.float32) * step
        assert np.abs(F.decode_level(p, lv) - want).max() <= 1e-6
    uv = np.random.default_rng(4).random((200, 2)).astype(np.float32)
    # No pop at either end of the blend: just inside lod T the value is the tail's
    # within the blend's 1e-3 share, just past T - 1 the Gaussians' within it, though
    # the two differ by far more.
    gap = np.abs(F.sample_level(p, uv, 3.0) - F.sample_level(p, uv, 3.0, use_tail=False)).max()
    assert gap > 0.05
    assert np.abs(F.sample_level(p, uv, 2.999) - F.sample_level(p, uv, 3.0)).max() <= 1.5e-3
    assert np.abs(F.sample_level(p, uv, 2.001) - F.sample_level(p, uv, 2.001, use_tail=False)).max() <= 1.5e-3
    mid = F.sample_level(p, uv, 2.5)
    g, t = F.sample_level(p, uv, 2.5, use_tail=False), F.sample_level(p, uv, 3.0)
    lod = float(T.footprint_lod(F.footprint_lambda(F.effective_footprint(*F.level_footprint(2.5), 1e9)))[0])
    assert lod == pytest.approx(2.5, abs=1e-5)
    # the tail's share at lod 2.5 is 0.5; its value there is level 3's (lod clamped to T)
    assert np.abs(mid - (g + np.float32(lod - 2) * (t - g))).max() <= 1e-5


@pytest.mark.parametrize("wrap", [(True, True), (False, False)])
def test_tail_addressing_wraps_or_clamps(wrap):
    _, tailed = with_tail(first=2, wrap=wrap, seed=7)
    p = unpack(tailed)
    rng = np.random.default_rng(5)
    uv = rng.random((100, 2)).astype(np.float32)
    a = F.sample_level(p, uv, 4.3)
    if wrap[0]:
        shifted = F.sample_level(p, uv + np.float32(1.0), 4.3)
        assert np.abs(a - shifted).max() <= 1e-5
        # across the edge: between the last and the first texel of level 2
        edge = F.sample_level(p, np.array([[0.0, 0.5]], np.float32), 2.0)
        lv = p.mip_tail.levels[0].astype(np.float32) * np.float32(T.TAIL_VALUE_STEP)
        r = lv.shape[0] // 2
        y = 0.5 * H / 4 - 0.5
        row = lv[int(np.floor(y))] * (1 - (y % 1)) + lv[int(np.floor(y)) + 1] * (y % 1)
        assert np.abs(edge[0] - 0.5 * (row[0] + row[-1])).max() <= 1e-5 and r > 0
    else:
        outside = F.sample_level(p, np.array([[-3.0, -3.0], [0.0, 0.0]], np.float32), 2.0)
        assert np.array_equal(outside[0], outside[1])
        corner = p.mip_tail.levels[0][0, 0].astype(np.float32) * np.float32(T.TAIL_VALUE_STEP)
        assert np.abs(outside[0] - corner).max() <= 1e-6


def _with_tail_section(data: bytes, mutate) -> bytes:
    """The file with its MIP_TAIL section's bytes changed by mutate (CRCs recomputed)."""
    buf = bytearray(data)
    n = int.from_bytes(buf[4 * 26 : 4 * 27], "little")
    for j in range(n):
        e = L.HEADER_BYTES + 16 * j
        sid, off, size = (int.from_bytes(buf[e + 4 * i : e + 4 * i + 4], "little") for i in range(3))
        if sid == L.SECTION_MIP_TAIL:
            sec = bytearray(buf[off : off + size])
            mutate(sec)
            buf[off : off + size] = sec
            buf[e + 12 : e + 16] = zlib.crc32(bytes(sec)).to_bytes(4, "little")
    return bytes(buf)


def _word(i, value):
    def mutate(sec):
        sec[4 * i : 4 * i + 4] = int(value).to_bytes(4, "little")

    return mutate


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_word(0, 0), "first level 0"),
        (_word(0, 9), "first level 9"),
        (_word(1, 99), "disagrees with the file"),
        (_word(2, 4), "disagrees with the file"),
        (_word(3, 2), "disagrees with the file"),
        (_word(4, 5), "level 3 entry"),
        (_word(5, 7), "level 3 entry"),
        (_word(4 + 4 * 3 + 3, 1), "level 6 entry"),
    ],
)
def test_reader_rejects_a_bad_tail(mutate, message):
    _, tailed = with_tail(first=3, seed=8)
    with pytest.raises(FormatError, match=message):
        unpack(_with_tail_section(tailed, mutate), name="m.texgs")


def test_reader_rejects_a_tail_of_the_wrong_size_or_slot():
    plain, tailed = with_tail(first=3, seed=9)
    sec = T.section(unpack(tailed).mip_tail)
    from texgs.format.writer import assemble

    p = unpack(plain)
    skip = {"version_major", "version_minor", "file_bytes", "section_count", "section_table_offset", "header_crc32"}
    fields = {k: v for k, v in p.header.items() if k not in skip}
    parts = {s.id: plain[s.offset : s.offset + s.size] for s in p.sections}
    names = parts.pop(L.SECTION_NAMES)
    with pytest.raises(FormatError, match="section is"):
        unpack(assemble(fields, {**parts, L.SECTION_MIP_TAIL: sec[:-4], L.SECTION_NAMES: names}))
    with pytest.raises(FormatError, match="table slot 3"):  # after NAMES: not in its slot
        unpack(assemble(fields, {**parts, L.SECTION_NAMES: names, L.SECTION_MIP_TAIL: sec}))
    assert unpack(assemble(fields, {**parts, L.SECTION_MIP_TAIL: sec, L.SECTION_NAMES: names})).mip_tail
