"""Naming conventions of game engines and tools, on material folders the tests write:
which file gives which channel group, and that each folder is one material."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_images import colour, grey, normal, normal_vectors, save

from texgs.ingest import discover, load, scan
from texgs.ingest.roles import parse_name

# (file name, map kind the name gives)
NAMES = [
    # Quake / Darkplaces / Xonotic
    ("wall01_norm.tga", "normal_parallax"),
    ("wall01_gloss.tga", "gloss"),
    ("wall01_glow.tga", "emissive"),
    ("wall01_bump.tga", "height"),
    ("wall01_pants.tga", "pants"),
    ("wall01_shirt.tga", "shirt"),
    ("wall01_luma.tga", "emissive"),
    # Cube 2 / Sauerbraten / Red Eclipse
    ("rock01_c.png", "albedo"),
    ("rock01_n.png", "normal_parallax"),
    ("rock01_s.png", "specular"),
    ("rock01_g.png", "emissive"),
    ("rock01_z.png", "height"),
    ("panel_000_cc.png", "albedo"),
    ("panel_000_nm.png", "normal_parallax"),
    ("panel_000_sc.png", "specular"),
    ("panel_000_hm.png", "height"),
    # Source
    ("metalwall_normal.tga", "normal"),
    ("metalwall_exponent.tga", "gloss"),
    ("metalwall_phong.tga", "specular"),
    ("metalwall_selfillum.tga", "emissive"),
    # Unreal
    ("T_Crate_D.png", "albedo"),
    ("T_Crate_N.png", "normal_parallax"),
    ("T_Crate_M.png", "metalness"),
    ("T_Crate_R.png", "roughness"),
    ("T_Crate_ORM.png", "arm"),
    ("T_Crate_MRAO.png", "mra"),
    # Unity / HDRP
    ("Crate_BaseMap.png", "albedo"),
    ("Crate_BumpMap.png", "normal"),
    ("Crate_MaskMap.png", "unity_mask"),
    ("Crate_DetailMask.png", "detail_mask"),
    # Substance exports
    ("Crate_BaseColor.png", "albedo"),
    ("Crate_Height.png", "height"),
    ("Crate_Mixed_AO.png", "ao"),
    ("Crate_Normal.png", "normal"),
    ("Crate_Emissive.png", "emissive"),
    # id Tech 4
    ("floor_d.tga", "albedo"),
    ("floor_local.tga", "normal"),
    ("floor_h.tga", "height"),
    ("floor_s.tga", "specular"),
    # OpenMW
    ("tx_wood_nh.png", "normal_height"),
    ("tx_wood_n.png", "normal_parallax"),
    # Warzone 2100
    ("page-10_tcmask.png", "team_mask"),
    # one-letter hints
    ("crate_o.png", "ao"),
    ("crate_e.png", "emissive"),
]


@pytest.mark.parametrize("name,kind", NAMES)
def test_engine_suffixes(name, kind):
    assert parse_name(name).kind == kind


def _roles(m) -> dict[str, str]:
    """group -> the file it comes from."""
    return {c.group: c.source.file.name for c in m.channels}


def test_cube2_folder_is_one_material(tmp_path):
    d = tmp_path / "rock01"
    colour(d / "rock01_c.png")
    normal(d / "rock01_n.png")
    grey(d / "rock01_s.png")
    (src,) = discover(d)
    m = load(src)
    assert _roles(m) == {"albedo": "rock01_c.png", "normal": "rock01_n.png", "specular": "rock01_s.png"}
    assert not m.warnings


def test_cube2_two_letter_suffixes_and_half_size_maps(tmp_path):
    d = tmp_path / "panel"
    colour(d / "panel_000_cc.png", (32, 32))
    normal(d / "panel_000_nm.png", (32, 32))
    grey(d / "panel_000_sc.png", (16, 16))  # secondary maps at half size: routine in games
    grey(d / "panel_000_hm.png", (16, 16))
    m = load(d)
    assert _roles(m) == {
        "albedo": "panel_000_cc.png",
        "normal": "panel_000_nm.png",
        "height": "panel_000_hm.png",
        "specular": "panel_000_sc.png",
    }
    assert (m.width, m.height) == (32, 32)
    assert any("panel_000_sc.png resampled from 16x16 to 32x32 (INTER_CUBIC)" in n for n in m.notes)


def test_darkplaces_folder_with_height_in_the_normal_alpha(tmp_path):
    d = tmp_path / "dp"
    for stem in ("wall01", "wall02"):  # several materials side by side
        colour(d / f"{stem}.tga")
        height = np.arange(256, dtype=np.uint8).reshape(16, 16)
        normal(d / f"{stem}_norm.tga", alpha=height)
        grey(d / f"{stem}_gloss.tga")
        colour(d / f"{stem}_glow.tga")
        grey(d / f"{stem}_pants.tga")
        grey(d / f"{stem}_shirt.tga")
    found = discover(d)
    assert [m.name for m in found] == ["wall01", "wall02"]
    m = load(found[0])
    assert _roles(m) == {
        "albedo": "wall01.tga",
        "normal": "wall01_norm.tga",
        "height": "wall01_norm.tga",
        "gloss": "wall01_gloss.tga",
        "emissive": "wall01_glow.tga",
        "pants": "wall01_pants.tga",
        "shirt": "wall01_shirt.tga",
    }
    np.testing.assert_allclose(m.group("height")[:, :, 0], np.arange(256).reshape(16, 16) / 255, atol=1e-6)


def test_source_unreal_unity_substance_idtech4(tmp_path):
    cases = {
        "source": (
            {"metal_basecolor.tga": colour, "metal_normal.tga": normal, "metal_exponent.tga": grey},
            {"albedo": "metal_basecolor.tga", "normal": "metal_normal.tga", "gloss": "metal_exponent.tga"},
        ),
        "unreal": (
            {"T_Crate_D.png": colour, "T_Crate_N.png": normal, "T_Crate_R.png": grey, "T_Crate_M.png": grey},
            {
                "albedo": "T_Crate_D.png",
                "normal": "T_Crate_N.png",
                "roughness": "T_Crate_R.png",
                "metalness": "T_Crate_M.png",
            },
        ),
        "unity": (
            {"Crate_BaseMap.png": colour, "Crate_BumpMap.png": normal, "Crate_DetailMask.png": grey},
            {"albedo": "Crate_BaseMap.png", "normal": "Crate_BumpMap.png", "detail_mask": "Crate_DetailMask.png"},
        ),
        "substance": (
            {
                "Crate_BaseColor.png": colour,
                "Crate_Normal.png": normal,
                "Crate_Height.png": grey,
                "Crate_Mixed_AO.png": grey,
            },
            {
                "albedo": "Crate_BaseColor.png",
                "normal": "Crate_Normal.png",
                "ao": "Crate_Mixed_AO.png",
                "height": "Crate_Height.png",
            },
        ),
        "idtech4": (
            {"floor_d.tga": colour, "floor_local.tga": normal, "floor_h.tga": grey, "floor_s.tga": grey},
            {"albedo": "floor_d.tga", "normal": "floor_local.tga", "height": "floor_h.tga", "specular": "floor_s.tga"},
        ),
    }
    for folder, (files, expected) in cases.items():
        for name, make in files.items():
            make(tmp_path / folder / name)
        m = load(tmp_path / folder)
        assert _roles(m) == expected, folder


def test_unreal_mrao_packing(tmp_path):
    colour(tmp_path / "T_Bolt_D.png")
    save(tmp_path / "T_Bolt_MRAO.png", np.dstack([np.full((16, 16), v, np.uint8) for v in (10, 20, 30)]))
    m = load(tmp_path)
    assert [round(float(m.group(g).mean()) * 255) for g in ("metalness", "roughness", "ao")] == [10, 20, 30]


def test_openmw_normal_height(tmp_path):
    colour(tmp_path / "tx_wood.png")
    normal(tmp_path / "tx_wood_nh.png", alpha=np.full((16, 16), 77, np.uint8))
    m = load(tmp_path)
    assert _roles(m) == {"albedo": "tx_wood.png", "normal": "tx_wood_nh.png", "height": "tx_wood_nh.png"}
    # the convention states A = height: kept even when constant
    assert round(float(m.group("height").mean()) * 255) == 77


def test_labpbr_normal_and_specular(tmp_path):
    d = tmp_path / "stone"
    colour(d / "stone.png")
    n = normal_vectors(d / "stone_n.png")
    ao = np.full((16, 16), 40, np.uint8)  # blue holds AO, far from the normal's Z
    height = np.tile(np.arange(16, dtype=np.uint8) * 16, (16, 1))
    enc = np.round((n + 1) / 2 * 255).astype(np.uint8)
    save(d / "stone_n.png", np.dstack([enc[:, :, 0], enc[:, :, 1], ao, height]))
    spec = np.dstack([np.full((16, 16), v, np.uint8) for v in (200, 10, 30, 255)])
    save(d / "stone_s.png", spec)
    m = load(d)
    assert _roles(m) == {
        "albedo": "stone.png",
        "normal": "stone_n.png",
        "ao": "stone_n.png",
        "height": "stone_n.png",
        "smoothness": "stone_s.png",
        "reflectance": "stone_s.png",
        "porosity": "stone_s.png",
        "emissive_strength": "stone_s.png",
    }
    assert any("LabPBR normal map" in note for note in m.notes)
    assert round(float(m.group("ao").mean()) * 255) == 40
    # Z rebuilt from X and Y: unit vectors again
    np.testing.assert_allclose(np.linalg.norm(m.normal_vectors(), axis=-1), 1, atol=1e-5)
    vec = m.group("normal") * 2 - 1
    np.testing.assert_allclose(vec[:, :, 2], n[:, :, 2], atol=0.02)
    # A plain _n map (blue is Z) with a height alpha stays a plain normal map.
    save(d / "stone_n.png", np.dstack([enc, height]))
    m = load(d)
    assert m.groups == ["albedo", "normal", "height", "specular"]
    assert not any("LabPBR" in note for note in m.notes)


def test_warzone_team_colour_mask_named_by_page_number(tmp_path):
    # page-N_tcmask.png is the mask of page-N-<name>.png; page-100-... is another page
    colour(tmp_path / "page-10-laboratories.png")
    grey(tmp_path / "page-10_tcmask.png")
    colour(tmp_path / "page-100-rock.png")
    found = {m.key: m for m in discover(tmp_path)}
    assert sorted(found) == ["page_10", "page_100_rock"]
    m = load(found["page_10"])
    assert _roles(m) == {"albedo": "page-10-laboratories.png", "team_mask": "page-10_tcmask.png"}
    assert any("role from content: albedo" in n for n in m.notes)


def test_variant_letters_are_not_roles(tmp_path):
    # wall_a, wall_b, wall_c, wall_d: variants of one texture, not colour/diffuse maps
    for letter in "abcd":
        colour(tmp_path / f"wall_{letter}.png")
    found = discover(tmp_path)
    assert [m.name for m in found] == ["wall_a", "wall_b", "wall_c", "wall_d"]
    assert all(len(m.files) == 1 and m.files[0].kind == "albedo" for m in found)


def test_scan_lists_the_convention_channels_without_decoding_colour_maps(tmp_path):
    colour(tmp_path / "brick_c.png")
    normal(tmp_path / "brick_n.png")
    grey(tmp_path / "brick_z.png")
    assert scan(tmp_path).groups == ["albedo", "normal", "height"]


def test_game_folder_quirks(tmp_path):
    """Patterns of real Darkplaces texture folders, each once."""
    d = tmp_path / "evil"
    # one name in two formats: the TGA is used, the JPEG named in a note
    colour(d / "tech_window.tga")
    colour(d / "tech_window.jpg")
    normal(d / "tech_window_norm.tga")
    # stems equal once separators are dropped, but two textures
    colour(d / "eX_plate_01.tga")
    normal(d / "eX_plate_01_norm.tga")
    colour(d / "eXplate01.tga")
    grey(d / "eXplate01_gloss.tga")
    # a whole name that is the stem of other maps is their colour map ("_metal" is no metalness here)
    colour(d / "hlac_metal.tga")
    colour(d / "hlac_metal_glow.tga")
    # lower-case letters glued to a name are no suffix ("cc", "glow")
    colour(d / "crete03cc.jpg")
    normal(d / "crete03cc_norm.tga")
    colour(d / "floor01glow.tga")
    grey(d / "floor01glow_bump.jpg")
    # the normal of a glow map is not the material's normal
    colour(d / "light.jpg")
    normal(d / "light_norm.tga")
    colour(d / "light_glow.jpg")
    normal(d / "light_glow_norm.tga")
    found = {m.name: m for m in discover(d)}
    files = {name: sorted(f.path.name for f in m.files) for name, m in found.items()}
    assert files == {
        "tech_window": ["tech_window.tga", "tech_window_norm.tga"],
        "ex_plate_01": ["eX_plate_01.tga", "eX_plate_01_norm.tga"],
        "explate01": ["eXplate01.tga", "eXplate01_gloss.tga"],
        "hlac_metal": ["hlac_metal.tga", "hlac_metal_glow.tga"],
        "crete03cc": ["crete03cc.jpg", "crete03cc_norm.tga"],
        "floor01glow": ["floor01glow.tga", "floor01glow_bump.jpg"],
        "light": ["light.jpg", "light_glow.jpg", "light_norm.tga"],
    }
    assert any("tech_window.jpg not used: tech_window.tga has the same name" in n for n in found["tech_window"].notes)
    assert any(
        "light_glow_norm.tga: a map of light_glow.jpg, which is itself a map" in w for w in found["light"].warnings
    )
    assert _roles(load(found["hlac_metal"])) == {"albedo": "hlac_metal.tga", "emissive": "hlac_metal_glow.tga"}


def test_red_eclipse_folder_patterns(tmp_path):
    d = tmp_path / "re"
    # wall01-a ... wall01-c are variants; wall01_n and wall01_s stay wall01's maps
    colour(d / "wall01.png")
    normal(d / "wall01_n.png")
    grey(d / "wall01_s.png")
    for letter in "abc":
        colour(d / f"wall01-{letter}.png")
    normal(d / "wall01-c_n.png")
    # light02_c is light02's colour map, though light02c_c.png exists too
    colour(d / "light02_c.png")
    normal(d / "light02_n.png")
    colour(d / "light02c_c.png")
    # conc_paint_s.jpg has no conc_paint colour map: not a second specular of conc
    colour(d / "conc.png")
    grey(d / "conc_s.png")
    grey(d / "conc_paint_s.png")
    found = {m.name: m for m in discover(d)}
    files = {name: sorted(f.path.name for f in m.files) for name, m in found.items()}
    assert files == {
        "wall01": ["wall01.png", "wall01_n.png", "wall01_s.png"],
        "wall01_a": ["wall01-a.png"],
        "wall01_b": ["wall01-b.png"],
        "wall01_c": ["wall01-c.png", "wall01-c_n.png"],
        "light02": ["light02_c.png", "light02_n.png"],
        "light02c": ["light02c_c.png"],
        "conc": ["conc.png", "conc_s.png"],
    }
    assert any(
        "conc_paint_s.png: its stem extends conc, which already has a specular map" in w for w in found["conc"].warnings
    )


def test_grey_specular_beside_a_normal_with_alpha_is_not_labpbr(tmp_path):
    # Cube 2: _n with height in A, grey _s; the blue of a hand-painted normal
    # map may not fit its red and green, but without an RGBA colour _s it is not LabPBR.
    n = normal_vectors(tmp_path / "stone_n.png")
    enc = np.round((n + 1) / 2 * 255).astype(np.uint8)
    save(
        tmp_path / "stone_n.png",
        np.dstack([enc[:, :, 0], enc[:, :, 1], np.full((16, 16), 40, np.uint8), np.full((16, 16), 128, np.uint8)]),
    )
    colour(tmp_path / "stone.png")
    grey(tmp_path / "stone_s.png")
    m = load(tmp_path)
    assert m.groups == ["albedo", "normal", "specular"]
    assert not any("LabPBR" in note for note in m.notes)
