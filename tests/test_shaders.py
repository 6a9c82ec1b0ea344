"""Engine shaders: compile the GLSL and HLSL includes to SPIR-V (spirv-val
clean), RUN a decoding compute kernel on a software Vulkan GPU (lavapipe via
wgpu) and compare with the reference decoder; check the generated layout
header is current."""

import pathlib
import shutil

import numpy as np
import pytest
from packed_materials import band_off, random_material

from texgs import vulkan
from texgs.channels import Channel
from texgs.format import (
    QuantConfig,
    decode,
    decode_uv,
    layout,
    unpack,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHADERS = ROOT / "engine_shaders"
GOLDEN = ROOT / "tests" / "data" / "golden" / "material.texgs"
MAX_CH = 8  # TEXGS_MAX_CHANNELS of the test kernels


def test_layout_header_is_generated_from_layout_py():
    assert (SHADERS / "texgs_layout.h").read_text() == layout.shader_header(), (
        "engine_shaders/texgs_layout.h is stale: run python -c 'from texgs.format import layout; layout.main()'"
    )


def _tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed (scripts/setup installs it)")
    return path


def compile_kernel(lang: str, out_dir: pathlib.Path, max_channels: int = MAX_CH) -> bytes:
    del out_dir  # compiled in memory; kept for callers that pass a folder
    _tool("glslangValidator")
    _tool("spirv-val")
    src = SHADERS / "tests" / ("decode.comp" if lang == "glsl" else "decode.hlsl")
    return vulkan.compile_spirv(src, lang, {"TEXGS_MAX_CHANNELS": max_channels})


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    d = tmp_path_factory.mktemp("spv")
    return {lang: compile_kernel(lang, d) for lang in ("glsl", "hlsl")}


@pytest.fixture(scope="module")
def gpu():
    return make_runner()


def make_runner():
    """A function running one compute dispatch on the software GPU (skips when there is none)."""
    try:
        dev = vulkan.device()
    except vulkan.VulkanUnavailable as e:
        pytest.skip(f"software GPU (wgpu + Vulkan/lavapipe) cannot be created: {e}")

    def run(inputs: dict, out_binding: int, out_bytes: int, spv: bytes, groups: int, readonly=()) -> bytes:
        """Bind the buffers (read-only where the shader declares so), dispatch, read back."""
        return dev.run(spv, inputs, {out_binding: out_bytes}, groups, readonly)[out_binding]

    return run


# How each front end's SPIR-V declares the read-only buffers (naga sees glslang's GLSL
# `readonly` blocks as read-write; HLSL ByteAddressBuffer/StructuredBuffer as read-only).
READONLY = {"glsl": (), "hlsl": (0, 1, 2)}


def run_kernel(run, spv, data: bytes, count: int, points=None, lod=0, base=0, lang="glsl", max_ch=MAX_CH):
    """Decode `count` texels (points None) or UVs [count, 2] on the GPU; returns [count, max_ch]."""
    words = np.concatenate([np.full(base, 0xDEADBEEF, np.uint32), np.frombuffer(data, np.uint32)])
    params = np.array([0 if points is None else 1, count, lod, base], np.uint32)
    pts = np.zeros((1, 2), np.float32) if points is None else np.ascontiguousarray(points, np.float32)
    out = run({0: words, 1: params, 2: pts}, 3, 4 * count * max_ch, spv, -(-count // 64), READONLY[lang])
    return np.frombuffer(out, np.float32).reshape(count, max_ch)


def with_mip_tail(data: bytes, first: int) -> bytes:
    from texgs.format import mip_tail
    from texgs.format.writer import attach_mip_tail

    p = unpack(data)
    ys, xs = np.mgrid[0 : p.height, 0 : p.width].astype(np.float32)
    src = np.stack([0.5 + 0.45 * np.sin(xs * 0.2 * (c + 1) + ys * 0.3) for c in range(p.gaussians.channels)], 2)
    return attach_mip_tail(data, mip_tail.build(src, first))


def material(wrap, cfg, seed=0, h=48, w=64, c=5, n=160, levels=1):
    channels = [Channel(f"c{i}") for i in range(c)]
    return random_material(h, w, channels, n, cfg, wrap=wrap, seed=seed, levels=levels)


CASES = {
    "golden (wrap x, clamp y, 7ch, 2 levels)": lambda: GOLDEN.read_bytes(),
    "clamp, fixed": lambda: material((False, False), QuantConfig(max_radius=10.0, strip_height=4), seed=1),
    "wrap both, fixed, strip 8": lambda: material(
        (True, True), QuantConfig(max_radius=14.0, strip_height=8), seed=2, h=45, w=50
    ),
    "wrap both, fp16": lambda: material((True, True), QuantConfig.fp16(), seed=3),
    # The stored mip tail (docs/FORMAT.md "Mip tail"): levels 2..6 of a synthetic source.
    "wrap both, fixed, strip 8, mip tail": lambda: with_mip_tail(
        material((True, True), QuantConfig(max_radius=14.0, strip_height=8), seed=2, h=45, w=50), 2
    ),
    # What the fitter writes by default: 5-bit values, quarter-texel positions (8 bits at 40 texels).
    "fitter default bits": lambda: material(
        (True, False), QuantConfig(value_bits=5, position_bits=8), seed=4, h=37, w=40
    ),
}


@pytest.mark.parametrize("lang", ["glsl", "hlsl"])
@pytest.mark.parametrize("case", list(CASES))
def test_shader_decodes_every_texel_like_the_reference(kernels, gpu, lang, case):
    data = CASES[case]()
    ref = decode(data)
    h, w, c = ref.shape
    got = run_kernel(gpu, kernels[lang], data, h * w, base=3, lang=lang)
    err = np.abs(got[:, :c].reshape(h, w, c) - ref)
    assert err.max() <= 1e-3, f"{lang} {case}: max abs error {err.max():.2e}"
    assert (got[:, c:] == 0).all()


@pytest.mark.parametrize("lang", ["glsl", "hlsl"])
@pytest.mark.parametrize("case", ["golden (wrap x, clamp y, 7ch, 2 levels)", "clamp, fixed", "wrap both, fp16"])
def test_shader_samples_random_uvs_like_the_reference(kernels, gpu, lang, case):
    data = CASES[case]()
    uv = (np.random.default_rng(4).random((2000, 2)) * 2.4 - 0.7).astype(np.float32)
    ref = decode_uv(data, uv)
    got = run_kernel(gpu, kernels[lang], data, len(uv), points=uv, lang=lang)
    assert np.abs(got[:, : ref.shape[1]] - ref).max() <= 1e-3


@pytest.mark.parametrize("lang", ["glsl", "hlsl"])
def test_shader_lod_limit(kernels, gpu, lang):
    data = GOLDEN.read_bytes()
    ref = decode(data, lod_limit=1)
    h, w, c = ref.shape
    got = run_kernel(gpu, kernels[lang], data, h * w, lod=1, lang=lang)
    assert np.abs(got[:, :c].reshape(h, w, c) - ref).max() <= 1e-3


# ---- filtered sampling (texgs_sample_grad, texgs_sample_level) against texgs.format.filtered ----


def run_filtered(run, spv, data: bytes, uv, ddx=None, ddy=None, level=None, lang="glsl", lod=0, max_ch=MAX_CH):
    """texgs_sample_grad (ddx, ddy [P, 2] UV per pixel) or texgs_sample_level (level [P]) on the GPU."""
    words = np.frombuffer(data, np.uint32)
    n = len(uv)
    if level is None:
        mode, pts = 2, np.stack([uv, ddx, ddy], 1)
    else:
        mode, pts = 3, np.stack([uv, np.stack([level, np.zeros(n)], 1)], 1)
    params = np.array([mode, n, lod, 0], np.uint32)
    pts = np.ascontiguousarray(pts.reshape(-1, 2), np.float32)
    out = run({0: words, 1: params, 2: pts}, 3, 4 * n * max_ch, spv, -(-n // 64), READONLY[lang])
    return np.frombuffer(out, np.float32).reshape(n, max_ch)


def footprints(n: int, side: float, seed: int):
    """UV derivatives of n pixels: zero, isotropic 2..48 texels, 8:1 anisotropic at random angles,
    sheared, and 0.98..1.7 texels (in and around the fade band, lam < FADE_LAM)."""
    rng = np.random.default_rng(seed)
    kind = np.arange(n) % 5  # 0 zero, 1 isotropic, 2 8:1 anisotropic, 3 random shear, 4 near one texel
    size = np.exp(rng.uniform(np.log(2.0), np.log(48.0), n)) / side
    size[kind == 4] = rng.uniform(0.98, 1.7, int((kind == 4).sum())) / side
    ang = rng.uniform(0, np.pi, n)
    ax = np.stack([np.cos(ang), np.sin(ang)], 1)
    ay = np.stack([-np.sin(ang), np.cos(ang)], 1)
    ratio = np.where(kind == 2, 8.0, 1.0)
    ddx = ax * size[:, None]
    ddy = ay * (size / ratio)[:, None]
    ddy[kind == 3] = (ax * 0.6 + ay * 0.3)[kind == 3] * size[kind == 3, None]
    ddx[kind == 0] = 0
    ddy[kind == 0] = 0
    return ddx.astype(np.float32), ddy.astype(np.float32)


@pytest.mark.parametrize("lang", ["glsl", "hlsl"])
@pytest.mark.parametrize(
    "case",
    [
        "golden (wrap x, clamp y, 7ch, 2 levels)",
        "clamp, fixed",
        "wrap both, fixed, strip 8",
        "wrap both, fp16",
        "wrap both, fixed, strip 8, mip tail",
    ],
)
def test_shader_sample_grad_like_the_reference(kernels, gpu, lang, case):
    from texgs.format.filtered import sample_grad

    data = CASES[case]()
    p = unpack(data)
    uv = (np.random.default_rng(5).random((800, 2)) * 1.6 - 0.3).astype(np.float32)
    ddx, ddy = footprints(len(uv), max(p.width, p.height), seed=6)
    ref = sample_grad(p, uv, ddx, ddy)
    got = run_filtered(gpu, kernels[lang], data, uv, ddx, ddy, lang=lang)
    err = np.abs(got[:, : ref.shape[1]] - ref)
    assert err.max() <= 1e-3, f"{lang} {case}: max abs error {err.max():.2e}"
    band = np.arange(len(uv)) % 5 == 4  # near one texel: the fade band is reached (it changes values)
    assert err[band].max() <= 1e-3
    assert np.abs(ref[band] - band_off(sample_grad, p, uv[band], ddx[band], ddy[band])).max() > 1e-3
    zero = np.arange(len(uv)) % 5 == 0  # a zero footprint is the point sampler's value
    point = run_kernel(gpu, kernels[lang], data, int(zero.sum()), points=uv[zero], lang=lang)
    assert np.array_equal(got[zero], point)


@pytest.mark.parametrize("lang", ["glsl", "hlsl"])
def test_shader_sample_level_like_the_reference(kernels, gpu, lang):
    from texgs.format.filtered import sample_level

    data = CASES["wrap both, fixed, strip 8, mip tail"]()
    assert unpack(data).mip_tail.first_level == 2  # 1.5 blends, 2.5 and up read the tail
    uv = (np.random.default_rng(7).random((300, 2)) * 1.2 - 0.1).astype(np.float32)
    levels = np.array([0.0, 0.1, 0.3, 0.5, 0.65, 1.0, 1.5, 2.5, 4.0, 5.0, 6.0], np.float32)  # 0.1-0.5: fade band
    lv = levels[np.arange(len(uv)) % len(levels)]
    got = run_filtered(gpu, kernels[lang], data, uv, level=lv, lang=lang)
    for v in levels:
        sel = lv == v
        ref = sample_level(data, uv[sel], float(v))
        assert np.abs(got[sel, : ref.shape[1]] - ref).max() <= 1e-3
