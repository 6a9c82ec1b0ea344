"""texgs.ingest: file-name conventions -> roles, and finding materials in folder layouts."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from texgs.errors import InputError
from texgs.ingest import discover, scan
from texgs.ingest.roles import parse_name

# (file name, expected map kind, expected normal convention, expected stem key)
NAMES = [
    # Poly Haven
    ("rock_wall_diff_2k.jpg", "albedo", None, "rockwall"),
    ("fabric_pattern_07_col_1_1k.jpg", "albedo", None, "fabricpattern07"),
    ("rock_wall_nor_gl_4k.exr", "normal", "gl", "rockwall"),
    ("rock_wall_nor_dx_1k.png", "normal", "dx", "rockwall"),
    ("rock_wall_rough_1k.jpg", "roughness", None, "rockwall"),
    ("rock_wall_arm_1k.jpg", "arm", None, "rockwall"),
    ("rock_wall_ao_1k.jpg", "ao", None, "rockwall"),
    ("rock_wall_metal_1k.jpg", "metalness", None, "rockwall"),
    ("rock_wall_disp_1k.png", "height", None, "rockwall"),
    ("metal_plate02_height_1k.png", "height", None, "metalplate02"),
    # ambientCG (resolution and format tokens in the middle)
    ("Bricks102_1K-JPG_Color.jpg", "albedo", None, "bricks102"),
    ("Bricks102_1K-JPG_NormalGL.jpg", "normal", "gl", "bricks102"),
    ("Bricks102_1K-PNG_NormalDX.png", "normal", "dx", "bricks102"),
    ("Metal009_2K_Normal.jpg", "normal", None, "metal009"),
    ("Bricks102_1K-JPG_Roughness.jpg", "roughness", None, "bricks102"),
    ("Bricks102_1K-JPG_AmbientOcclusion.jpg", "ao", None, "bricks102"),
    ("Metal009_2K_Metalness.jpg", "metalness", None, "metal009"),
    ("Bricks102_1K-JPG_Displacement.jpg", "height", None, "bricks102"),
    ("Chainmail004_1K_Opacity.jpg", "opacity", None, "chainmail004"),
    ("Lamp_2K_Emission.jpg", "emissive", None, "lamp"),
    # glTF / Substance / Unreal
    ("BoomBox_baseColor.png", "albedo", None, "boombox"),
    ("T_Crate_BaseColor.png", "albedo", None, "tcrate"),
    ("BoomBox_normal.png", "normal", None, "boombox"),
    ("BoomBox_occlusionRoughnessMetallic.png", "arm", None, "boombox"),
    ("FlightHelmet_Materials_LensesMat_OcclusionRoughMetal.png", "arm", None, "flighthelmetmaterialslensesmat"),
    ("T_Crate_ORM.png", "arm", None, "tcrate"),
    ("T_Crate_MRA.tga", "mra", None, "tcrate"),
    ("BoomBox_emissive.png", "emissive", None, "boombox"),
    # Unity
    ("Crate_MetallicSmoothness.png", "metallic_smoothness", None, "crate"),
    ("Crate_MaskMap.tga", "unity_mask", None, "crate"),
    # Godot, Terrain3D
    ("container1_albedo.png", "albedo", None, "container1"),
    ("tile_anti_slip_metal_normal.png", "normal", None, "tileantislipmetal"),
    ("container1_orm.png", "arm", None, "container1"),
    ("ground037_alb_ht.png", "albedo_height", None, "ground037"),
    ("ground037_nrm_rgh.png", "normal_roughness", None, "ground037"),
    # plain names
    ("albedo.jpg", "albedo", None, ""),
    ("NORMAL.JPG", "normal", None, ""),
    ("roughness.jpg", "roughness", None, ""),
    ("metallic.jpg", "metalness", None, ""),
    ("displacement.jpg", "height", None, ""),
    ("ao.jpg", "ao", None, ""),
    # older game conventions
    ("brick.png", None, None, "brick"),
    ("brick_n.png", "normal_parallax", None, "brick"),
    ("brick_nm.tga", "normal_parallax", None, "brick"),
    ("brick_s.png", "specular", None, "brick"),
    ("brick_spec.png", "specular", None, "brick"),
    ("brick_gloss.png", "gloss", None, "brick"),
    ("brick_smoothness.png", "smoothness", None, "brick"),
    ("brick_h.png", "height", None, "brick"),
    ("brick_z.png", "height", None, "brick"),
    ("brick_g.png", "emissive", None, "brick"),
    ("brick_glow.png", "emissive", None, "brick"),
    # names that must not be mistaken for a role
    ("rusty_metal_05.png", None, None, "rustymetal05"),
    ("n.png", None, None, "n"),
]


@pytest.mark.parametrize("name,kind,conv,stem", NAMES)
def test_role_from_file_name(name, kind, conv, stem):
    info = parse_name(name)
    assert (info.kind, info.convention, info.stem_key) == (kind, conv, stem)


def test_role_detection_is_case_insensitive():
    for name in ["x_NOR_GL_1K.JPG", "x_nor_gl_1k.jpg", "X_Nor_Gl_1k.Jpg"]:
        assert (parse_name(name).kind, parse_name(name).convention) == ("normal", "gl")


def _img(path, channels=3, size=(8, 8), value=None):
    from PIL import Image

    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    shape = (size[1], size[0]) + ((channels,) if channels > 1 else ())
    data = rng.integers(0, 256, size=shape, dtype=np.uint8) if value is None else np.full(shape, value, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(data).save(path)
    return path


def test_folder_per_material_nested(tmp_path):
    for name in ["a/mat1/albedo.png", "a/mat1/normal.png", "b/c/mat2/mat2_diff_1k.png", "b/c/mat2/mat2_rough_1k.png"]:
        _img(tmp_path / name, 1 if "rough" in name else 3)
    (tmp_path / "a" / "README.md").write_text("licence")
    found = discover(tmp_path)
    assert [m.key for m in found] == ["a/mat1", "b/c/mat2"]
    assert [m.name for m in found] == ["mat1", "mat2"]
    assert [f.kind for f in found[0].files] == ["albedo", "normal"]
    assert not found[0].warnings


def test_side_by_side_materials_grouped_by_stem(tmp_path):
    for stem in ["Bricks102_1K-JPG", "Rock058_1K-JPG"]:
        _img(tmp_path / f"{stem}_Color.png")
        _img(tmp_path / f"{stem}_NormalGL.png")
        _img(tmp_path / f"{stem}_Roughness.png", 1)
    _img(tmp_path / "Tree_Roughness.png", 1)  # no colour map of its own
    found = discover(tmp_path)
    assert [m.name for m in found] == ["Bricks102", "Rock058"]
    for m in found:
        assert sorted(f.kind for f in m.files) == ["albedo", "normal", "roughness"]
        assert all(m.name in f.path.name for f in m.files)
        assert any("Tree_Roughness.png" in w for w in m.warnings)


def test_side_by_side_longer_stems_join_their_material(tmp_path):
    # Godot's tile_anti_slip: the normal is "tile_anti_slip_metal_normal".
    _img(tmp_path / "tile_anti_slip_albedo.png")
    _img(tmp_path / "tile_anti_slip_metal_normal.png")
    _img(tmp_path / "tile_steel_albedo.png")
    _img(tmp_path / "tile_steel_normal.png")
    found = {m.name: sorted(f.path.name for f in m.files) for m in discover(tmp_path)}
    assert found == {
        "tile_anti_slip": ["tile_anti_slip_albedo.png", "tile_anti_slip_metal_normal.png"],
        "tile_steel": ["tile_steel_albedo.png", "tile_steel_normal.png"],
    }


def test_single_material_folder_and_single_file(tmp_path):
    _img(tmp_path / "crate" / "crate_diff.png")
    _img(tmp_path / "crate" / "crate_nor_gl.png")
    found = discover(tmp_path / "crate")
    assert len(found) == 1 and found[0].name == "crate"
    one = discover(tmp_path / "crate" / "crate_diff.png")
    assert [(f.kind, f.how) for f in one[0].files] == [("albedo", "name")]
    _img(tmp_path / "photo.png")
    assert [(f.kind, f.how) for f in discover(tmp_path / "photo.png")[0].files] == [("albedo", "single file")]


def test_suffixless_colour_map_with_old_game_suffixes(tmp_path):
    for name in ["brick.png", "brick_n.png", "brick_s.png", "brick_h.png"]:
        _img(tmp_path / "brick" / name, 1 if name in ("brick_s.png", "brick_h.png") else 3)
    (m,) = discover(tmp_path)
    assert {f.path.name: (f.kind, f.how) for f in m.files} == {
        "brick.png": ("albedo", "suffix-less colour map"),
        "brick_n.png": ("normal_parallax", "name"),
        "brick_s.png": ("specular", "name"),
        "brick_h.png": ("height", "name"),
    }
    assert scan(m).groups == ["albedo", "normal", "height", "specular"]


def test_old_game_materials_side_by_side(tmp_path):
    for stem in ["brick", "wood"]:
        _img(tmp_path / f"{stem}.tga")
        _img(tmp_path / f"{stem}_n.tga")
        _img(tmp_path / f"{stem}_s.tga", 1)
    found = discover(tmp_path)
    assert [m.name for m in found] == ["brick", "wood"]
    for m in found:
        assert {f.path.name: f.kind for f in m.files} == {
            f"{m.name}.tga": "albedo",
            f"{m.name}_n.tga": "normal_parallax",
            f"{m.name}_s.tga": "specular",
        }
        assert not m.warnings


def test_unplaceable_and_unsupported_files_are_warned_not_used(tmp_path):
    # plain names: the folder is the material, so an extra image is one of its files
    _img(tmp_path / "m" / "albedo.png")
    _img(tmp_path / "m" / "normal.png")
    _img(tmp_path / "m" / "scratch_final_v2.png")
    (tmp_path / "m" / "albedo.tif").write_bytes(b"II*\x00")
    (m,) = discover(tmp_path)
    assert sorted(f.path.name for f in m.files) == ["albedo.png", "normal.png"]
    text = "\n".join(m.warnings)
    assert "scratch_final_v2.png: colour image whose name gives no role, and another file is the colour map" in text
    assert "albedo.tif: .tif images are not supported" in text
    # beside role-named maps, an unrelated texture is a material of its own
    (tmp_path / "m" / "albedo.png").rename(tmp_path / "m" / "m_albedo.png")
    (tmp_path / "m" / "normal.png").rename(tmp_path / "m" / "m_normal.png")
    found = {x.key: [f.path.name for f in x.files] for x in discover(tmp_path)}
    assert found == {"m/m": ["m_albedo.png", "m_normal.png"], "m/scratch_final_v2": ["scratch_final_v2.png"]}


def test_missing_path_and_empty_folder_are_errors(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"empty: no material found"):
        discover(tmp_path / "empty")
    with pytest.raises(InputError, match="not an image"):
        discover(tmp_path / "empty" / "notes.txt")
