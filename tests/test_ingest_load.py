"""texgs.ingest.load: packed maps split, value conventions, material.yaml, bad input, batches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from texgs.errors import ConfigError, InputError
from texgs.ingest import (
    Material,
    MaterialError,
    describe,
    describe_dict,
    discover,
    load,
    load_all,
    normals_to_vectors,
    scan,
    vectors_to_normals,
)

H, W = 6, 8
RNG = np.random.default_rng(3)
REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def save(path, data):
    """data: [H, W] or [H, W, C] uint8/uint16 (RGB(A) order) -> PNG via OpenCV (keeps 16 bits)."""
    import cv2

    data = np.asarray(data)
    if data.ndim == 3 and data.shape[2] >= 3:
        data = data[:, :, [2, 1, 0] + ([3] if data.shape[2] == 4 else [])]
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), data)
    return path


def rand(channels=3, dtype=np.uint8, size=(H, W)):
    top = 255 if dtype == np.uint8 else 65535
    shape = size + ((channels,) if channels > 1 else ())
    return RNG.integers(0, top + 1, size=shape).astype(dtype)


def encode(vectors):
    """unit vectors [..., 3] -> 8-bit normal-map texels."""
    return np.round((vectors + 1) / 2 * 255).astype(np.uint8)


def manifest(folder, text):
    (folder / "material.yaml").write_text(text)


def col(m: Material, role: str) -> np.ndarray:
    return m.pixels[:, :, m.roles.index(role)]


# ---------------------------------------------------------------- packing


@pytest.mark.parametrize(
    "name,order",
    [
        ("m_arm.png", ("ao", "roughness", "metalness")),
        ("m_orm.png", ("ao", "roughness", "metalness")),
        ("m_occlusionRoughnessMetallic.png", ("ao", "roughness", "metalness")),
        ("m_MRA.png", ("metalness", "roughness", "ao")),
    ],
)
def test_packed_rgb_maps_split_into_scalars(tmp_path, name, order):
    save(tmp_path / "m_albedo.png", rand())
    packed = rand()
    save(tmp_path / name, packed)
    m = load(tmp_path)
    assert m.roles == ["albedo.r", "albedo.g", "albedo.b", "ao", "roughness", "metalness"]
    for i, role in enumerate(order):
        np.testing.assert_array_equal(col(m, role), packed[:, :, i] / np.float32(255))
        assert m.channels[m.roles.index(role)].source.channel == "RGB"[i]


def test_unity_mask_map_and_metallic_smoothness(tmp_path):
    save(tmp_path / "a" / "a_albedo.png", rand())
    mask = rand(4)
    save(tmp_path / "a" / "a_MaskMap.png", mask)
    m = load(tmp_path / "a")
    assert m.roles == ["albedo.r", "albedo.g", "albedo.b", "ao", "metalness", "smoothness", "detail_mask"]
    for i, role in enumerate(["metalness", "ao", "detail_mask", "smoothness"]):
        np.testing.assert_array_equal(col(m, role), mask[:, :, i] / np.float32(255))
    save(tmp_path / "b" / "b_albedo.png", rand())
    ms = rand(4)
    ms[:, :, 3] = 200  # smoothness is kept even when constant: the convention names it
    save(tmp_path / "b" / "b_MetallicSmoothness.png", ms)
    m = load(tmp_path / "b")
    assert m.roles[3:] == ["metalness", "smoothness"]
    np.testing.assert_array_equal(col(m, "smoothness"), np.float32(200 / 255))


def test_packed_maps_in_other_layouts(tmp_path):
    from PIL import Image

    # Unity metallic-smoothness as grey + alpha, and a mask map as RLE TGA.
    save(tmp_path / "u" / "u_albedo.png", rand())
    la = rand(2)
    Image.fromarray(la, "LA").save(tmp_path / "u" / "u_MetallicSmoothness.png")
    m = load(tmp_path / "u")
    assert m.roles[3:] == ["metalness", "smoothness"]
    np.testing.assert_array_equal(col(m, "metalness"), la[:, :, 0] / np.float32(255))
    np.testing.assert_array_equal(col(m, "smoothness"), la[:, :, 1] / np.float32(255))
    save(tmp_path / "v" / "v_albedo.png", rand())
    mask = rand(4)
    Image.fromarray(mask, "RGBA").save(tmp_path / "v" / "v_MaskMap.tga", compression="tga_rle")
    m = load(tmp_path / "v")
    np.testing.assert_array_equal(col(m, "detail_mask"), mask[:, :, 2] / np.float32(255))
    # A greyscale ORM cannot be split.
    save(tmp_path / "w" / "w_albedo.png", rand())
    save(tmp_path / "w" / "w_orm.png", rand(1))
    with pytest.raises(InputError, match=r"w_orm\.png: a packed R=AO .* map needs colour channels"):
        load(tmp_path / "w")


def test_alpha_channels_carrying_data(tmp_path):
    alb_ht, nrm_rgh = rand(4), rand(4)
    save(tmp_path / "t" / "t_alb_ht.png", alb_ht)
    save(tmp_path / "t" / "t_nrm_rgh.png", nrm_rgh)
    m = load(tmp_path / "t")
    assert m.groups == ["albedo", "normal", "roughness", "height"]
    np.testing.assert_array_equal(col(m, "height"), alb_ht[:, :, 3] / np.float32(255))
    np.testing.assert_array_equal(col(m, "roughness"), nrm_rgh[:, :, 3] / np.float32(255))


def test_albedo_alpha_kept_as_opacity_only_when_it_varies(tmp_path):
    rgba = rand(4)
    save(tmp_path / "d" / "d_albedo.png", rgba)
    m = load(tmp_path / "d")
    assert m.roles == ["albedo.r", "albedo.g", "albedo.b", "opacity"]
    np.testing.assert_array_equal(col(m, "opacity"), rgba[:, :, 3] / np.float32(255))
    rgba[:, :, 3] = 255
    save(tmp_path / "o" / "o_albedo.png", rgba)
    for result in (load(tmp_path / "o"), scan(tmp_path / "o")):
        assert result.roles == ["albedo.r", "albedo.g", "albedo.b"]
        assert any("A is constant (1.000), carries nothing: dropped" in n for n in result.notes)


def test_scan_and_load_agree_on_the_table(tmp_path):
    save(tmp_path / "s_albedo.png", rand(4))
    save(tmp_path / "s_normal.png", rand(4))  # alpha of unstated meaning: own channel
    save(tmp_path / "s_orm.png", rand())
    info, m = scan(tmp_path), load(tmp_path)
    assert info.channels == m.channels
    assert m.roles == [
        "albedo.r",
        "albedo.g",
        "albedo.b",
        "opacity",
        "normal.x",
        "normal.y",
        "normal.z",
        "ao",
        "roughness",
        "metalness",
        "s_normal.alpha",
    ]
    assert m.pixels.shape == (H, W, 11)


# ---------------------------------------------------------------- value conventions


def test_normals_kept_as_stored_directx_flipped_vectors_renormalised(tmp_path):
    v = np.zeros((H, W, 3), np.float32)
    v[..., 0], v[..., 1], v[..., 2] = 0.36, 0.48, 0.8  # unit length
    v[0, 0] = (0.0, 0.0, 0.5)  # not unit: renormalised to (0, 0, 1)
    save(tmp_path / "gl" / "a_diff.png", rand())
    save(tmp_path / "gl" / "a_nor_gl.png", encode(v))
    save(tmp_path / "dx" / "a_diff.png", rand())
    save(tmp_path / "dx" / "a_nor_dx.png", encode(v))
    gl, dx = load(tmp_path / "gl"), load(tmp_path / "dx")
    ngl, ndx = gl.normal_vectors(), dx.normal_vectors()
    np.testing.assert_allclose(np.linalg.norm(ngl, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(ngl[1, 1], [0.36, 0.48, 0.8], atol=0.01)
    np.testing.assert_allclose(ngl[0, 0], [0, 0, 1], atol=0.01)
    np.testing.assert_allclose(ndx[..., 1], -ngl[..., 1], atol=1e-6)  # DX: Y flipped
    np.testing.assert_allclose(ndx[..., [0, 2]], ngl[..., [0, 2]], atol=1e-6)
    # The array keeps the stored encoding (METRICS.md): no renormalisation, only
    # DirectX's Y flip, so the non-unit texel stays as stored.
    np.testing.assert_allclose(gl.group("normal"), encode(v).astype(np.float32) / 255, atol=1e-6)
    np.testing.assert_allclose(dx.group("normal")[..., 1], 1 - gl.group("normal")[..., 1], atol=1e-6)
    np.testing.assert_allclose(gl.group("normal")[1, 1], (ngl[1, 1] + 1) / 2, atol=0.01)
    np.testing.assert_allclose(normals_to_vectors(vectors_to_normals(ngl)), ngl, atol=1e-6)
    assert dx.channels[dx.roles.index("normal.y")].source.note == "DirectX: Y flipped"


def _bumps(size=64):
    """A smooth tiling height field [size, size] in [0, 1] and its OpenGL normals [size, size, 3]."""
    t = np.arange(size) * 2 * np.pi / size
    h = 0.5 + 0.25 * np.sin(2 * t)[None, :] * np.cos(3 * t)[:, None] + 0.2 * np.sin(t + 1)[:, None]
    d_row, d_col = np.gradient(h * 8)
    n = np.stack([-d_col, d_row, np.ones_like(h)], axis=-1)  # +Y up: rows go down
    return h, n / np.linalg.norm(n, axis=-1, keepdims=True)


@pytest.mark.parametrize("flip", [False, True])
def test_unstated_normal_convention_inferred_from_height(tmp_path, flip):
    h, n = _bumps()
    stored = n * ([1, -1, 1] if flip else [1, 1, 1])
    save(tmp_path / "albedo.png", rand(size=h.shape))
    save(tmp_path / "height.png", np.round(h * 65535).astype(np.uint16))
    save(tmp_path / "normal.png", encode(stored))
    m = load(tmp_path)
    note = m.channels[m.roles.index("normal.y")].source.note
    assert note.startswith(("DirectX" if flip else "OpenGL") + " inferred from height.png"), note
    np.testing.assert_allclose(m.normal_vectors(), n, atol=0.02)  # OpenGL either way
    assert scan(tmp_path).channels == m.channels
    # A stated convention is never second-guessed.
    manifest(tmp_path, "schema_version: 1\nnormal_convention: gl\n")
    assert load(tmp_path).channels[m.roles.index("normal.y")].source.note == "OpenGL"


def test_stated_convention_contradicted_by_height_is_warned(tmp_path):
    h, n = _bumps()
    save(tmp_path / "b_diff.png", rand(size=h.shape))
    save(tmp_path / "b_height.png", np.round(h * 65535).astype(np.uint16))
    save(tmp_path / "b_nor_gl.png", encode(n * [1, -1, 1]))  # DirectX data under an OpenGL name
    m = load(tmp_path)
    assert m.channels[m.roles.index("normal.y")].source.note == "OpenGL"  # kept as stated
    assert any("b_nor_gl.png: stated OpenGL, but b_height.png suggests DirectX" in w for w in m.warnings)
    manifest(tmp_path, "schema_version: 1\nfiles:\n  b_nor_gl.png: {normal_convention: dx}\n")
    m = load(tmp_path)
    assert not m.warnings
    np.testing.assert_allclose(m.normal_vectors(), n, atol=0.02)


def test_unrelated_height_leaves_the_assumption(tmp_path):
    save(tmp_path / "albedo.png", rand())
    save(tmp_path / "height.png", rand(1))
    save(tmp_path / "normal.png", rand())
    note = load(tmp_path).channels[4].source.note
    assert note.startswith("OpenGL assumed (name does not say; height.png does not tell"), note


def test_colour_spaces_grey_albedo_and_16bit(tmp_path):
    grey16 = rand(1, np.uint16)
    save(tmp_path / "g" / "g_albedo.png", grey16)
    save(tmp_path / "g" / "g_emissive.png", rand())
    save(tmp_path / "g" / "g_rough.png", rand(1, np.uint16))
    m = load(tmp_path / "g")
    assert m.roles == ["albedo.r", "albedo.g", "albedo.b", "roughness", "emissive.r", "emissive.g", "emissive.b"]
    assert [c.colour_space for c in m.channels] == ["srgb"] * 3 + ["linear"] + ["srgb"] * 3
    for i in range(3):  # grey albedo is sampled as RGB: three equal channels, 16 bits kept
        np.testing.assert_array_equal(m.pixels[:, :, i], grey16 / np.float32(65535))
    assert "grey, sampled as RGB" in m.channels[0].source.note
    manifest(tmp_path / "g", "schema_version: 1\ngrey_albedo: single\n")
    assert load(tmp_path / "g").roles[:2] == ["albedo", "roughness"]


def test_exr_colour_is_linear_and_kept_as_stored(tmp_path):
    import OpenEXR

    rgb = (RNG.random((H, W, 3)) * 4).astype(np.float32)  # HDR values above 1 stay
    OpenEXR.File(
        {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
        {k: np.ascontiguousarray(rgb[..., i]) for i, k in enumerate("RGB")},
    ).write(str(tmp_path / "x_albedo.exr"))
    m = load(tmp_path)
    np.testing.assert_array_equal(m.pixels, rgb)
    assert {c.colour_space for c in m.channels} == {"linear"}


def test_gloss_stays_unless_manifest_asks_for_roughness(tmp_path):
    save(tmp_path / "p_albedo.png", rand())
    gloss = rand(1)
    save(tmp_path / "p_gloss.png", gloss)
    assert load(tmp_path).roles[3:] == ["gloss"]
    manifest(tmp_path, "schema_version: 1\nfiles:\n  p_gloss.png: {convert: roughness}\n")
    m = load(tmp_path)
    assert m.roles[3:] == ["roughness"]
    np.testing.assert_allclose(col(m, "roughness"), 1 - gloss / np.float32(255), atol=1e-7)


def test_scalar_map_saved_as_colour_uses_r_and_warns_when_not_grey(tmp_path):
    save(tmp_path / "q_albedo.png", rand())
    rough = rand()
    save(tmp_path / "q_rough.png", rough)
    m = load(tmp_path)
    np.testing.assert_array_equal(col(m, "roughness"), rough[:, :, 0] / np.float32(255))
    assert any("roughness map is not grey" in w for w in m.warnings)


# ---------------------------------------------------------------- material.yaml


def test_manifest_overrides_roles_packing_convention_weights_skip(tmp_path):
    save(tmp_path / "base.png", rand())
    save(tmp_path / "bumps.png", rand())
    packed = rand(4)
    save(tmp_path / "stuff.png", packed)
    save(tmp_path / "m_height.png", rand(1))
    manifest(
        tmp_path,
        """
schema_version: 1
name: Custom
normal_convention: dx
weights: {normal: 2.0, ao: 0.5, albedo.r: 3}
skip: [height]
files:
  base.png: {role: albedo}
  bumps.png: {role: normal}
  stuff.png:
    channels: {R: metalness, G: skip, B: ao, A: roughness}
""",
    )
    m = load(tmp_path)
    assert m.name == "Custom"
    assert m.roles == [
        "albedo.r",
        "albedo.g",
        "albedo.b",
        "normal.x",
        "normal.y",
        "normal.z",
        "ao",
        "roughness",
        "metalness",
    ]
    np.testing.assert_array_equal(col(m, "metalness"), packed[:, :, 0] / np.float32(255))
    np.testing.assert_array_equal(col(m, "roughness"), packed[:, :, 3] / np.float32(255))
    assert m.weights.tolist() == [3, 1, 1, 2, 2, 2, 0.5, 1, 1]
    assert m.channels[3].source.note == "DirectX: Y flipped"
    assert any("height" in n and "skipped" in n for n in m.notes)


@pytest.mark.parametrize(
    "text,match",
    [
        ("schema_version: 1\ncolour: red\n", r"material\.yaml: top level: unknown key 'colour'"),
        ("schema_version: 1\nfiles:\n  a_albedo.png: {rol: albedo}\n", r"files\.a_albedo\.png: unknown key 'rol'"),
        ("name: x\n", "missing schema_version"),
        ("schema_version: 2\n", "schema_version: 2 is not supported"),
        ("schema_version: 1\nresample: maybe\n", "resample: expected true or false"),
        ("schema_version: 1\nnormal_convention: up\n", "'up' is not one of gl, dx"),
        ("schema_version: 1\nweights: {normals: 2}\n", "weights: 'normals' is not one of"),
        ("schema_version: 1\nweights: {normal: -1}\n", r"weights\.normal: expected a finite number >= 0"),
        ("schema_version: 1\nfiles:\n  ghost.png: {role: albedo}\n", r"files\.ghost\.png: no such image"),
        ("schema_version: 1\nfiles:\n  a_albedo.png: {role: paint}\n", "'paint' is not one of"),
        ("schema_version: 1\nfiles:\n  a_albedo.png: {channels: {RG: normal}}\n", "takes 3 source channel"),
        ("schema_version: 1\nskip: [nothing]\n", "skip: 'nothing' is neither an image"),
        ("schema_version: [1\n", "not valid YAML"),
    ],
)
def test_manifest_errors_name_the_key_and_file(tmp_path, text, match):
    save(tmp_path / "a_albedo.png", rand())
    manifest(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as e:
        load(tmp_path)
    assert str(tmp_path / "material.yaml") in str(e.value)


# ---------------------------------------------------------------- bad input


def test_maps_of_different_sizes(tmp_path):
    save(tmp_path / "r_albedo.png", rand(3, size=(8, 16)))
    save(tmp_path / "r_rough.png", rand(1, size=(4, 8)))
    save(tmp_path / "r_normal.png", rand(3, size=(16, 32)))
    # Resampled to the largest by default, with a note naming the filter.
    m = load(tmp_path)
    assert (m.width, m.height) == (32, 16) and m.pixels.shape == (16, 32, 7)
    assert any("r_rough.png resampled from 8x4 to 32x16 (INTER_CUBIC)" in n for n in m.notes)
    assert scan(tmp_path).notes == m.notes
    assert float(m.pixels.min()) >= 0 and float(m.pixels.max()) <= 1
    np.testing.assert_allclose(np.linalg.norm(m.normal_vectors(), axis=-1), 1, atol=1e-5)
    # resample=False (a pipeline's 'resample: false') makes it an error ...
    with pytest.raises(InputError, match=r"r_normal\.png is 32x16 but r_albedo\.png is 16x8, and resample is off"):
        load(tmp_path, resample=False)
    # ... and so does material.yaml's, which wins over the caller's setting.
    manifest(tmp_path, "schema_version: 1\nresample: false\n")
    with pytest.raises(InputError, match=r"16x8, and 'resample: false' in .*material\.yaml"):
        load(tmp_path)
    manifest(tmp_path, "schema_version: 1\nresample: true\n")
    assert load(tmp_path, resample=False).pixels.shape == (16, 32, 7)


def test_resample_filter_per_axis(tmp_path):
    # The largest map is 16x16; a 32x4 map shrinks along x (area average) and
    # grows along y (bicubic). Stripes 0/200 in x average to 100 everywhere.
    stripes = np.zeros((4, 32), np.uint8)
    stripes[:, ::2] = 200
    save(tmp_path / "s_albedo.png", rand(3, size=(16, 16)))
    save(tmp_path / "s_rough.png", stripes)
    m = load(tmp_path, resample=True)
    assert any("s_rough.png resampled from 32x4 to 16x16 (x: INTER_AREA, y: INTER_CUBIC)" in n for n in m.notes)
    np.testing.assert_allclose(col(m, "roughness"), 100 / 255, atol=1e-6)


def test_no_albedo_is_an_error_unless_allowed(tmp_path):
    save(tmp_path / "n_normal.png", rand())
    save(tmp_path / "n_height.png", rand(1))
    with pytest.raises(InputError, match=r"no colour/albedo map.*require_albedo: false"):
        load(tmp_path)
    manifest(tmp_path, "schema_version: 1\nrequire_albedo: false\n")
    assert load(tmp_path).groups == ["normal", "height"]


def test_conflicting_sources(tmp_path):
    save(tmp_path / "c_diff.png", rand())
    save(tmp_path / "c_rough.png", rand(1))
    save(tmp_path / "c_arm.png", rand())
    save(tmp_path / "c_nor_gl.png", rand())
    save(tmp_path / "c_nor_dx.png", rand())
    m = load(tmp_path)
    rough = m.channels[m.roles.index("roughness")]
    assert rough.source.file.name == "c_rough.png"  # dedicated map beats the packed channel
    assert m.channels[m.roles.index("ao")].source.file.name == "c_arm.png"
    assert m.channels[m.roles.index("normal.x")].source.file.name == "c_nor_gl.png"  # OpenGL beats DirectX
    assert any("c_nor_dx.png not used" in n for n in m.notes)
    save(tmp_path / "c_col.png", rand())
    with pytest.raises(InputError, match=r"several files give albedo: .*c_col\.png.*c_diff\.png"):
        load(tmp_path)
    manifest(tmp_path, "schema_version: 1\nskip: [c_col.png]\n")
    assert load(tmp_path).channels[0].source.file.name == "c_diff.png"


def test_normal_map_must_have_colour(tmp_path):
    save(tmp_path / "k_albedo.png", rand())
    save(tmp_path / "k_normal.png", rand(1))
    with pytest.raises(InputError, match=r"k_normal\.png: a tangent-space normal map needs colour channels"):
        load(tmp_path)


def test_load_all_reports_bad_materials_and_goes_on(tmp_path):
    save(tmp_path / "good" / "good_albedo.png", rand())
    broken = save(tmp_path / "broken" / "broken_albedo.png", rand())
    broken.write_bytes(broken.read_bytes()[:40])
    save(tmp_path / "badyaml" / "b_albedo.png", rand())
    manifest(tmp_path / "badyaml", "schema_version: 1\nbogus: 1\n")
    results = {r.key: r for r in load_all(tmp_path)}
    assert isinstance(results["good"], Material)
    assert isinstance(results["broken"], MaterialError) and "broken_albedo.png" in results["broken"].message
    assert isinstance(results["badyaml"], MaterialError) and "unknown key 'bogus'" in results["badyaml"].message
    with pytest.raises(InputError, match="holds 3 materials"):
        load(tmp_path)


def test_describe_table_and_dict(tmp_path):
    save(tmp_path / "good" / "good_diff_1k.png", rand(4))
    save(tmp_path / "good" / "good_nor_dx_1k.png", rand())
    save(tmp_path / "good" / "good_arm_1k.png", rand())
    save(tmp_path / "bad" / "x_normal.png", rand())
    data = describe_dict(tmp_path)
    json.dumps(data)  # plain data
    good, bad = sorted(data["materials"], key=lambda m: m["key"], reverse=True)
    assert [c["role"] for c in good["channels"]] == [
        "albedo.r",
        "albedo.g",
        "albedo.b",
        "opacity",
        "normal.x",
        "normal.y",
        "normal.z",
        "ao",
        "roughness",
        "metalness",
    ]
    assert good["channels"][3] == {
        "index": 3,
        "role": "opacity",
        "group": "opacity",
        "colour_space": "linear",
        "file": str(tmp_path / "good" / "good_diff_1k.png"),
        "source_channel": "A",
        "resolution": f"{W}x{H}",
        "weight": 1.0,
        "note": "",
    }
    assert "no colour/albedo map" in bad["error"]
    text = describe(tmp_path)
    assert f"good: {W}x{H}, 10 channels" in text
    assert "bad: ERROR:" in text
    row = next(line for line in text.splitlines() if "normal.y" in line).split()
    assert row[:7] == ["5", "normal.y", "normal", "linear", "good_nor_dx_1k.png", "G", f"{W}x{H}"]
    assert "2 material(s), 1 ok, 1 with errors" in text


def test_load_is_deterministic(tmp_path):
    save(tmp_path / "z_albedo.png", rand(4))
    save(tmp_path / "z_normal.png", rand())
    a, b = load(tmp_path), load(tmp_path)
    assert a.pixels.tobytes() == b.pixels.tobytes() and a.channels == b.channels
    assert discover(tmp_path) == discover(tmp_path)


def test_the_documented_manifest_example_loads(tmp_path):
    import re

    import yaml

    doc = (REPO / "docs" / "ingest.md").read_text()
    text = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    example = yaml.safe_load(text)
    save(tmp_path / "old_brick_h.png", rand(1))
    save(tmp_path / "old_brick_s.png", rand(1))
    save(tmp_path / "scan_0042.png", rand())
    from PIL import Image

    Image.fromarray(rand(4), "RGBA").save(tmp_path / "packed_misc.tga")
    for name in ["bump.png", "glow_baked.png", "preview.jpg"]:
        save(tmp_path / name, rand())
    save(tmp_path / "smooth.png", rand(1))
    assert set(example["files"]) <= {p.name for p in tmp_path.iterdir()}
    manifest(tmp_path, text)
    m = load(tmp_path)
    assert m.name == "OldBrick"
    assert m.groups == ["albedo", "normal", "ao", "roughness", "metalness", "height", "emissive"]
    assert m.channels[m.roles.index("normal.x")].source.file.name == "bump.png"
    assert m.channels[m.roles.index("normal.x")].source.weight == 2.0
    assert m.channels[m.roles.index("roughness")].source.file.name == "smooth.png"
    assert [c.source.channel for c in m.channels if c.source.file.name == "packed_misc.tga"] == ["B", "R", "A"]
    assert not any(c.source.file.name.startswith("old_brick") for c in m.channels)  # skipped file and group


def test_tiles_seamlessly_accepts_periodic_textures_and_rejects_crops():
    from texgs.ingest import tiles_seamlessly

    n = 64
    y, x = np.mgrid[0:n, 0:n] / n
    # Periodic with a hard cell boundary exactly on the seam (as tiled bricks have).
    cells = ((np.floor(x * 4) + np.floor(y * 4)) % 2)[..., None].astype(np.float32)
    assert tiles_seamlessly(cells) == (True, True)
    smooth = (0.5 + 0.4 * np.sin(2 * np.pi * x) * np.cos(4 * np.pi * y))[..., None].astype(np.float32)
    assert tiles_seamlessly(smooth) == (True, True)
    # A crop of a larger smooth field: continuous inside, a jump across both seams.
    ramp = (0.1 + 0.8 * (x + y) / 2)[..., None].astype(np.float32)
    assert tiles_seamlessly(ramp) == (False, False)
    # Periodic along x only.
    mixed = (0.5 + 0.3 * np.sin(2 * np.pi * x) + 0.2 * y)[..., None].astype(np.float32)
    assert tiles_seamlessly(mixed) == (True, False)
    for name in ("tiles", "sheets", "cobble"):  # the shipped examples are all tileable
        assert tiles_seamlessly(load(REPO / "examples" / "materials" / name).pixels) == (True, True), name
