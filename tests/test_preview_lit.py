"""Lit previews (texgs.preview): the kernel's shading against a NumPy evaluation of
the same Lambert + GGX formula, the bake's preview_lit.png, the compare report's
lit table, and the bake without a Vulkan device."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from texgs import preview, vulkan
from texgs.cli import main
from texgs.preview import scene as sc

S = sc.DEFAULT_SCENE.panel

TINY_PIPELINE = """\
schema_version: 1
target:
  bppc: 2.0
addressing: auto
fit:
  steps: 60
  pyramid: [1]
  pyramid_steps: [1.0]
  eval_every: 20
  add_every: 20
  add_times: 2
  plateau_steps: 30
"""


@pytest.fixture(scope="module", autouse=True)
def lit_previews_on():
    """tests/conftest.py switches lit previews off for the rest of the suite."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(preview.ENV_SWITCH, "1")
        yield


# ---- a NumPy model of the kernel: camera, shapes, tangent frames, shading ----


def _ray(px: float, py: float, scene: sc.Scene) -> np.ndarray:
    ndc = np.array([px, py]) / scene.panel * 2 - 1
    d = np.array([ndc[0] * scene.tan_half, -ndc[1] * scene.tan_half, -1.0])
    return d / np.linalg.norm(d)


def _geometry(x: int, y: int, scene: sc.Scene):
    """(view ray, geometric normal, tangent +u, bitangent toward the texture's top) at
    output pixel (x, y), or None on the background."""
    plane = x >= scene.panel
    d = _ray((x - scene.panel if plane else x) + 0.5, y + 0.5, scene)
    if not plane:
        c = np.array([0, 0, -scene.sphere_dist])
        b = d @ c
        disc = b * b - (c @ c - scene.sphere_radius**2)
        if disc < 0:
            return None
        p = (b - math.sqrt(disc)) * d
        n = (p - c) / scene.sphere_radius
        t = np.array([n[2], 0, -n[0]])  # d/d(longitude)
        s = math.hypot(n[0], n[2])
        up = -np.array([n[1] * n[0] / s, -s, n[1] * n[2] / s])  # -d/d(colatitude)
        return d, n, t / np.linalg.norm(t), up / np.linalg.norm(up)
    a = math.radians(scene.plane_tilt_deg)
    n = np.array([0, math.sin(a), math.cos(a)])
    up = np.array([0, math.cos(a), -math.sin(a)])
    c = np.array([0, 0, -scene.plane_dist])
    p = (c @ n) / (d @ n) * d
    if abs(p[0]) > scene.plane_half or abs((p - c) @ up) > scene.plane_half:
        return None
    return d, n, np.array([1.0, 0, 0]), up


def _srgb_to_linear(e):
    e = np.clip(e, 0, 1)
    return np.where(e <= 0.04045, e / 12.92, ((e + 0.055) / 1.055) ** 2.4)


def _shade(d, n, albedo, rough, metal, ao, scene: sc.Scene) -> np.ndarray:
    """Lambert + GGX (Smith-Schlick G, k = alpha / 2; Schlick Fresnel), float64."""
    rough = max(rough, scene.min_rough)
    light = np.array(scene.light) / np.linalg.norm(scene.light)
    v = -d
    h = (light + v) / np.linalg.norm(light + v)
    nl, nv, nh, vh = max(n @ light, 0), max(n @ v, 1e-4), max(n @ h, 0), max(v @ h, 0)
    a2 = rough**4
    ndf = a2 / (math.pi * (nh * nh * (a2 - 1) + 1) ** 2)
    k = rough**2 / 2
    g = nl / (nl * (1 - k) + k) * nv / (nv * (1 - k) + k)
    f0 = 0.04 * (1 - metal) + albedo * metal
    fr = f0 + (1 - f0) * (1 - vh) ** 5
    spec = ndf * g * fr / max(4 * nl * nv, 1e-4)
    kd = (1 - fr) * (1 - metal)
    return (kd * albedo / math.pi + spec) * scene.light_e * nl + scene.ambient * ao * (
        albedo * (1 - metal) + f0 * metal
    )


PIXELS = [(40, 40), (64, 64), (90, 50), (30, 100), (S + 64, 64), (S + 20, 100), (S + 100, 60)]


def _constant_material(albedo_srgb, normal_enc, rough, metal, ao, size=8):
    data = np.concatenate([albedo_srgb, normal_enc, [ao, rough, metal]]).astype(np.float32)
    groups = ["albedo"] * 3 + ["normal"] * 3 + ["ao", "roughness", "metalness"]
    return np.broadcast_to(data, (size, size, 9)).copy(), groups


@pytest.mark.parametrize("tilt", [(0.0, 0.0), (0.0, 0.35), (-0.3, -0.2)])
def test_kernel_shading_matches_numpy_lambert_ggx(compute_device, tilt):
    """Constant maps, so every pixel's inputs are known: the kernel's radiance equals the
    NumPy formula at each probed pixel of both shapes, including the normal map's tilt
    in the tangent frame (OpenGL: +green toward the texture's top)."""
    tx, ty = tilt
    ts = np.array([tx, ty, math.sqrt(1 - tx * tx - ty * ty)])
    albedo = np.array([0.75, 0.45, 0.3])
    pixels, groups = _constant_material(albedo, (ts + 1) / 2, rough=0.35, metal=0.25, ao=0.7)
    img = preview.render_source(pixels, preview.roles_from_groups(groups), (False, False))
    assert img.shape == (S, 2 * S, 4)
    for x, y in PIXELS:
        g = _geometry(x, y, sc.DEFAULT_SCENE)
        assert g is not None and img[y, x, 3] == 1.0, (x, y)
        d, n, t, up = g
        nm = ts[0] * t + ts[1] * up + ts[2] * n
        want = _shade(d, nm / np.linalg.norm(nm), _srgb_to_linear(albedo), 0.35, 0.25, 0.7, sc.DEFAULT_SCENE)
        np.testing.assert_allclose(img[y, x, :3], want, rtol=2e-3, atol=2e-4, err_msg=f"pixel {(x, y)}")
    assert img[2, 2, 3] == 0.0 and img[2, S + 2, 3] == 0.0  # the corners are background


def test_missing_maps_take_the_documented_defaults(compute_device):
    """Only a roughness-less, normal-less albedo: geometric normal, roughness 0.5, metal 0, AO 1."""
    albedo = np.array([0.2, 0.6, 0.4], np.float32)
    pixels = np.broadcast_to(albedo, (8, 8, 3)).copy()
    img = preview.render_source(pixels, preview.roles_from_groups(["albedo"] * 3), (False, False))
    for x, y in PIXELS:
        d, n, _, _ = _geometry(x, y, sc.DEFAULT_SCENE)
        want = _shade(d, n, _srgb_to_linear(albedo), 0.5, 0.0, 1.0, sc.DEFAULT_SCENE)
        np.testing.assert_allclose(img[y, x, :3], want, rtol=2e-3, atol=2e-4)
    # No maps at all: grey 0.5 (linear) clay.
    grey = preview.render_source(np.zeros((4, 4, 1), np.float32), preview.Roles(), (False, False))
    d, n, _, _ = _geometry(64, 64, sc.DEFAULT_SCENE)
    np.testing.assert_allclose(grey[64, 64, :3], _shade(d, n, np.full(3, 0.5), 0.5, 0, 1, sc.DEFAULT_SCENE), rtol=2e-3)


def test_channels_past_sixteen_are_read(compute_device):
    """A 20-channel material (the format allows 32) with its albedo in channels 17-19
    renders as the same albedo alone does (the kernel's value array grows with C)."""
    albedo = np.array([0.7, 0.3, 0.2], np.float32)
    wide = np.zeros((4, 4, 20), np.float32)
    wide[..., 17:] = albedo
    a = preview.render_source(wide, preview.roles_from_groups(["extra"] * 17 + ["albedo"] * 3), (False, False))
    b = preview.render_source(wide[..., 17:], preview.roles_from_groups(["albedo"] * 3), (False, False))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_directx_flag_mirrors_the_green_channel(compute_device):
    ts = np.array([0.2, 0.4, math.sqrt(1 - 0.2**2 - 0.4**2)])
    gl, groups = _constant_material([0.5] * 3, (ts + 1) / 2, 0.4, 0.0, 1.0)
    dx = gl.copy()
    dx[..., 4] = 1 - dx[..., 4]
    roles = preview.roles_from_groups(groups)
    a = preview.render_source(gl, roles, (False, False))
    b = preview.render_source(dx, sc.Roles(**{**roles.__dict__, "normal_flip_y": True}), (False, False))
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(a - preview.render_source(dx, roles, (False, False))).max() > 0.05


def test_source_sampling_filters_a_fine_checker_on_the_plane(compute_device):
    """A 1-texel checker seen minified: the trilinear source path averages it to grey
    (an unfiltered sampler would alias to black and white)."""
    yy, xx = np.mgrid[0:256, 0:256]
    pixels = ((xx + yy) % 2).astype(np.float32)[..., None].repeat(3, axis=2)
    img = preview.render_source(pixels, preview.roles_from_groups(["albedo"] * 3), (True, True))
    plane = img[48:80, S + 32 : S + 96]  # the far half of the plane: 4+ texels per pixel
    assert (plane[..., 3] == 1).all()
    rel = plane[..., :3].std() / plane[..., :3].mean()
    assert rel < 0.05, rel


# ---- texgs bake: preview_lit.png ---------------------------------------------------


def _write_material(folder: Path, size: int = 48, normal: bool = True, roughness: bool = True) -> None:
    """A smooth material (ambientCG names), optionally without its normal / roughness map."""
    y, x = np.mgrid[0:size, 0:size] * (2 * np.pi / size)
    maps = {"Color": np.stack([0.55 + 0.25 * np.sin(x), 0.45 + 0.2 * np.cos(y), 0.35 + 0.1 * np.sin(x + y)], -1)}
    if normal:
        maps["NormalGL"] = np.stack([0.5 + 0.15 * np.cos(x), 0.5 + 0.15 * np.sin(y), np.full_like(x, 0.95)], -1)
    if roughness:
        maps["Roughness"] = 0.5 + 0.3 * np.sin(x) * np.cos(y)
    folder.mkdir(parents=True)
    for suffix, img in maps.items():
        data = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
        assert cv2.imwrite(str(folder / f"{folder.name}_{suffix}.png"), data[..., ::-1] if data.ndim == 3 else data)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / mse) if mse > 0 else math.inf


@pytest.fixture(scope="module")
def baked(tmp_path_factory, compute_device):
    tmp_path = tmp_path_factory.mktemp("lit_bake")
    root = tmp_path / "materials"
    _write_material(root / "smooth")
    _write_material(root / "bare", normal=False, roughness=False)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    out = tmp_path / "out"
    assert main(["bake", str(root), "-o", str(out), "--pipeline", str(pipe), "--progress", "off"]) == 0
    return out


def test_bake_writes_a_lit_preview_whose_texgs_half_matches_the_source_half(baked):
    manifest = json.loads((baked / "smooth" / "manifest.json").read_text())
    assert manifest["files"]["preview_lit"] == "preview_lit.png"
    assert "preview_lit.png" in manifest["digests"]
    img = cv2.imread(str(baked / "smooth" / "preview_lit.png"))[..., ::-1]
    assert img.shape == (S, 4 * S, 3)  # source (sphere | plane) | texgs (sphere | plane)
    source, texgs = img[:, : 2 * S], img[:, 2 * S :]
    assert _psnr(source, texgs) > 30.0
    np.testing.assert_array_equal(source[:4, :4], texgs[:4, :4])  # same background
    assert source[S // 2, S // 2].mean() > source[2, 2].mean() + 40  # the sphere is lit


def test_a_material_without_normal_and_roughness_still_renders(baked):
    manifest = json.loads((baked / "bare" / "manifest.json").read_text())
    assert [c["group"] for c in manifest["channels"]] == ["albedo"] * 3
    img = cv2.imread(str(baked / "bare" / manifest["files"]["preview_lit"]))[..., ::-1]
    assert img.shape == (S, 4 * S, 3)
    assert _psnr(img[:, : 2 * S], img[:, 2 * S :]) > 30.0
    assert img[S // 2, S // 2].mean() > img[2, 2].mean() + 25


def test_bake_without_vulkan_says_so_once_and_writes_the_unlit_previews(baked, tmp_path, monkeypatch, capsys):
    def no_device():
        raise vulkan.VulkanUnavailable("no Vulkan device for compute shaders (test)")

    monkeypatch.setattr(vulkan, "device", no_device)
    root = tmp_path / "materials"
    _write_material(root / "smooth")  # as the `baked` fixture's, which had lit previews
    _write_material(root / "two", size=24)
    pipe = tmp_path / "tiny.yaml"
    pipe.write_text(TINY_PIPELINE)
    out = tmp_path / "out"
    assert main(["bake", str(root), "-o", str(out), "--pipeline", str(pipe), "--progress", "off"]) == 0
    err = capsys.readouterr().err
    assert err.count("lit previews skipped") == 1, err
    assert "no Vulkan device" in err
    for name in ("smooth", "two"):
        files = json.loads((out / name / "manifest.json").read_text())["files"]
        assert "preview_lit" not in files and not (out / name / "preview_lit.png").exists()
        assert (out / name / files["preview_albedo"]).is_file()
    # The packed file does not depend on the previews.
    assert (out / "smooth" / "smooth.texgs").read_bytes() == (baked / "smooth" / "smooth.texgs").read_bytes()


# ---- texgs compare: the lit table ----------------------------------------------------


def test_compare_report_shows_lit_renders_per_method_and_rate(tmp_path, compute_device):
    """compare_material renders the source once and BC1's nearest frontier point at each
    rate through the source-map path; the report shows them in its lit table."""
    from texgs.compare import codecs, tools
    from texgs.compare.material import Material
    from texgs.compare.report import write_report
    from texgs.compare.run import Settings, compare_material

    try:
        codecs.BC1.encoder_version()
    except tools.MissingTool as e:
        pytest.skip(str(e))
    y, x = np.mgrid[0:64, 0:64] / 64
    albedo = np.stack([0.3 + 0.5 * x, 0.6 - 0.3 * y, 0.4 + 0.2 * np.sin(8 * x)], -1)
    normal = np.stack([0.5 + 0.1 * np.sin(6 * y), np.full_like(x, 0.5), np.full_like(x, 0.98)], -1)
    mat = Material(
        "test/flat", np.concatenate([albedo, normal], -1).astype(np.float32), ["albedo"] * 3 + ["normal"] * 3, []
    )
    settings = Settings(rates=(0.05, 0.1), methods=("BC1",), quick=True, extended_metrics=False)
    res = compare_material(mat, settings)
    assert res.lit is not None and sorted(res.lit.images) == [("BC1", 0.05), ("BC1", 0.1)]
    write_report(tmp_path, [res], settings, [], {})
    page = (tmp_path / "index.html").read_text()
    assert page.count("<img class='lit'") == 4  # (source + BC1) x 2 rates
    for name in ("lit/test_flat_source.png", "lit/test_flat_BC1_0.05bppc.png", "lit/test_flat_BC1_0.1bppc.png"):
        assert name in page and (tmp_path / name).is_file()
    src = cv2.imread(str(tmp_path / "lit/test_flat_source.png"))
    bc1 = cv2.imread(str(tmp_path / "lit/test_flat_BC1_0.1bppc.png"))
    assert src.shape == bc1.shape == (S, 2 * S, 3)
    assert 20.0 < _psnr(src, bc1) < math.inf  # the same scene, with BC1's losses


def test_warm_up_compiles_the_kernel_the_first_preview_then_uses(compute_device):
    """The bake starts warm_up beside the fit; the preview after it compiles nothing."""
    from texgs.preview import render

    channels = 7
    warming = preview.warm_up(channels)
    assert warming is not None
    warming.join(timeout=120)
    assert not warming.is_alive()
    pipelines = dict(compute_device._pipelines)
    assert any(spirv == render._spirv(channels) for spirv, _ in pipelines)
    maps = np.full((8, 8, channels), 0.5, np.float32)
    roles = preview.roles_from_groups(["albedo"] * 3 + ["normal"] * 3 + ["roughness"])
    img = preview.render_source(maps, roles, (False, False))
    assert img.shape == (S, 2 * S, 4) and np.isfinite(img).all() and img[..., 3].max() > 0
    assert compute_device._pipelines == pipelines  # the same pipeline objects, none added


def test_the_switch_turns_lit_previews_off_without_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv(preview.ENV_SWITCH, "off")
    assert preview.warm_up(3) is None
    assert preview.unavailable_note() is None
    assert preview.write_lit_preview(tmp_path, b"not even a texgs file", np.zeros((4, 4, 3), np.float32)) is None
    assert not (tmp_path / preview.LIT_PREVIEW_NAME).exists()


def test_a_kernel_that_cannot_be_read_makes_lit_previews_unavailable(tmp_path, monkeypatch):
    monkeypatch.setattr(vulkan, "shader_dir", lambda: tmp_path)  # an install without the kernel
    note = preview.unavailable_note()
    assert note is not None and "does not compile" in note and "\n" not in note
    with pytest.raises(vulkan.VulkanUnavailable):  # what write_lit_preview skips on
        preview.render_source(np.zeros((4, 4, 3), np.float32), preview.Roles(), (False, False))


def test_mip_chain_box_filters_and_starts_at_the_level_that_fits():
    from texgs.preview.render import mip_chain

    ramp = np.arange(64 * 32, dtype=np.float32).reshape(64, 32, 1).repeat(3, axis=2)
    full = mip_chain(ramp, max_bytes=1 << 30)
    assert [lv.shape[:2] for lv in full] == [(64 >> i, max(32 >> i, 1)) for i in range(7)]
    np.testing.assert_allclose(full[1][0, 0], ramp[:2, :2].mean(axis=(0, 1)))
    capped = mip_chain(ramp, max_bytes=4000)  # 16 x 8 x 3 floats: the first whose chain fits
    assert capped[0].shape == (16, 8, 3) and sum(lv.nbytes for lv in capped) <= 4000
    np.testing.assert_allclose(capped[0], full[2])
    np.testing.assert_allclose(mip_chain(np.ones((5, 3, 2)))[1], np.ones((2, 1, 2)))  # odd sides
