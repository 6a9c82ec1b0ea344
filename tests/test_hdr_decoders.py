"""Every decoder returns a channel's stored values the same way: its range
(metres, nits) and the log2 transfer: the reference decoder, the GLSL and HLSL
includes (texgs_apply_range, on lavapipe) and the C runtime (TEXGS_DECODE_APPLY_RANGE)."""

from __future__ import annotations

import shutil
import subprocess
import zlib

import numpy as np
import pytest
from conftest import REPO, load_script
from packed_materials import random_material

from texgs import transfer, vulkan
from texgs.channels import Channel
from texgs.errors import FormatError, InputError
from texgs.format import QuantConfig, decode, pack, unpack
from texgs.format import layout as L
from texgs.gaussians import Gaussians

H, W = 24, 40
PEAK = 1e4
CHANNELS = [
    Channel("height", "height", "linear", "height", (-0.02, 0.05)),  # metres
    Channel("emissive.r", "emissive", "log2", "emissive", transfer.log2_range(PEAK)),  # nits, log2
    Channel("emissive.g", "emissive", "log2", "emissive", transfer.log2_range(PEAK / 4)),
    Channel("emissive.b", "emissive", "linear", "emissive", (0.0, 5000.0)),  # nits, linear
    Channel("albedo.r", "albedo", "srgb", "albedo"),
]


def hdr_file() -> bytes:
    return random_material(H, W, CHANNELS, 90, QuantConfig(value_bits=6), seed=7)


def close(got, want):
    """Equal up to float32 rounding of the range and exp2 (a few ulp of the value's magnitude)."""
    return np.abs(got - want) <= 2e-5 * np.abs(want) + 1e-6 * np.array([c.range[1] - c.range[0] for c in CHANNELS])


def test_reference_decoder_applies_ranges_and_the_log2_transfer():
    data = hdr_file()
    unit = decode(data)
    got = decode(data, apply_range=True)
    lo, hi = transfer.log2_range(PEAK)
    assert np.allclose(got[..., 0], -0.02 + 0.07 * unit[..., 0], rtol=1e-6, atol=1e-8)
    assert np.allclose(got[..., 1], np.exp2(lo + (hi - lo) * unit[..., 1]) - np.exp2(lo), rtol=1e-5)
    assert got[..., 1].max() <= PEAK * 1.0001 and got[..., 1].min() >= 0.0
    assert np.allclose(got[..., 3], 5000.0 * unit[..., 3], rtol=1e-6)
    assert np.array_equal(got[..., 4], unit[..., 4])  # sRGB is a label: no conversion


def _kernel(lang: str) -> bytes:
    src = REPO / "engine_shaders" / "tests" / ("decode_range.comp" if lang == "glsl" else "decode_range.hlsl")
    return vulkan.compile_spirv(src, lang, {"TEXGS_MAX_CHANNELS": 8})


@pytest.mark.parametrize("lang", ["glsl", "hlsl"])
def test_shaders_apply_range_like_the_reference(compute_device, lang):
    data = hdr_file()
    want = decode(data, apply_range=True).reshape(H * W, -1)
    words = np.frombuffer(data, np.uint32)
    n = H * W
    params = np.array([n], np.uint32)
    out = compute_device.run(
        _kernel(lang), {0: words, 1: params}, {2: 4 * n * 8}, -(-n // 64), (0, 1) if lang == "hlsl" else ()
    )
    got = np.frombuffer(out[2], np.float32).reshape(n, 8)[:, : len(CHANNELS)]
    assert close(got, want).all(), np.abs(got - want).max(axis=0)


def _fuzz_runtime():
    return load_script(REPO / "runtime" / "tests" / "fuzz_runtime.py")


def test_c_runtime_applies_range_like_the_reference(tmp_path):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not installed")
    F = _fuzz_runtime()
    driver = F.build(cc, F.RELEASE, tmp_path / "driver")
    data = hdr_file()
    (tmp_path / "m.texgs").write_bytes(data)
    r = subprocess.run(
        [str(driver), "decode", str(tmp_path / "m.texgs"), "0", "0", "1", "2", str(tmp_path / "out.f32")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    want = decode(data, apply_range=True)
    got = np.fromfile(tmp_path / "out.f32", np.float32).reshape(want.shape)
    assert close(got, want).all(), np.abs(got - want).max(axis=(0, 1))


def _log2_file(lo: float, hi: float, check: bool = True) -> bytes:
    g = Gaussians(
        means=np.array([[4.0, 4.0]], np.float32),
        inv_scales=np.array([[0.5, 0.5]], np.float32),
        rotations=np.zeros(1, np.float32),
        values=np.full((1, 1), 0.5, np.float32),
        background=np.zeros(1, np.float32),
        levels=np.zeros(1, np.int64),
    )
    ch = [Channel("e", "emissive", "log2", "emissive", (lo, hi))]
    return pack(g, ch, 8, 8, cfg=QuantConfig())


def test_log2_range_beyond_the_limit_is_refused_by_writer_and_readers(tmp_path):
    with pytest.raises(InputError, match="log2 range must lie within"):
        _log2_file(-10.0, 70.0)
    # The same file with range_hi patched to 70 and the section CRC fixed: the readers refuse it.
    words = np.frombuffer(_log2_file(-10.0, 10.0), "<u4").copy()
    table = int(words[27]) // 4  # section_table_offset; slot 0 is the channel table
    off, size = int(words[table + 1]) // 4, int(words[table + 2]) // 4
    range_hi = next(w for name, w, _ in L.CHANNEL_FIELDS if name == "range_hi")
    words[off + range_hi] = np.array([70.0], "<f4").view("<u4")[0]  # channel 0's range_hi
    words[table + 3] = zlib.crc32(words[off : off + size].tobytes())
    bad = words.tobytes()
    with pytest.raises(FormatError, match="log2 channel 0 range"):
        unpack(bad, name="bad.texgs")
    cc = shutil.which("gcc")
    if cc is None:
        return
    F = _fuzz_runtime()
    driver = F.build(cc, F.RELEASE, tmp_path / "driver")
    (tmp_path / "bad.texgs").write_bytes(bad)
    r = subprocess.run([str(driver), "info", str(tmp_path / "bad.texgs")], capture_output=True, text=True)
    assert r.returncode != 0 and "log2 channel 0 range" in (r.stdout + r.stderr)
