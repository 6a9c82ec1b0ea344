"""Roles from pixels where names give none, folder semantics, and `texgs inspect`'s exit status."""

from __future__ import annotations

import numpy as np
from ingest_images import colour, grey, normal, save

from texgs.cli import main
from texgs.ingest import discover, load
from texgs.ingest.content import look


def _roles(m) -> dict[str, str]:
    return {c.group: c.source.file.name for c in m.channels}


def test_look_tells_normal_grey_and_colour(tmp_path):
    assert look(normal(tmp_path / "a.png")).kind == "normal"
    assert look(normal(tmp_path / "a.png")).strong
    assert look(grey(tmp_path / "b.png")).kind == "grey"
    assert look(grey(tmp_path / "c.png", as_rgb=True)).kind == "grey"
    assert look(colour(tmp_path / "d.png")).kind == "colour"
    # blue-dominant but far from unit vectors: a weak guess
    weak = np.dstack(
        [np.full((16, 16), 128, np.uint8), np.full((16, 16), 128, np.uint8), np.full((16, 16), 200, np.uint8)]
    )
    seen = look(save(tmp_path / "e.png", weak))
    assert (seen.kind, seen.strong) == ("normal", False)


def test_unknown_suffixes_get_roles_from_content_with_notes(tmp_path):
    # the names give no colour map and no normal: paint and detail are no role suffixes
    colour(tmp_path / "rock_paint.png")
    normal(tmp_path / "rock_detail.png")
    grey(tmp_path / "rock_s.png")
    (src,) = discover(tmp_path)
    m = load(src)
    assert _roles(m) == {"albedo": "rock_paint.png", "normal": "rock_detail.png", "specular": "rock_s.png"}
    assert any("rock_detail.png: role from content: tangent-space normal map" in n for n in m.notes)
    assert any(
        "rock_paint.png: role from content: albedo (the only colour image beside a normal map)" in n for n in m.notes
    )
    assert not m.warnings


def test_name_hint_used_only_when_the_pixels_agree(tmp_path):
    colour(tmp_path / "crate.png")
    normal(tmp_path / "crate_n.png")
    grey(tmp_path / "crate_spec2.png")  # hint: specular, grey: agrees
    grey(tmp_path / "crate_norm3.png")  # hint: normal, but grey: disagrees
    m = load(tmp_path)
    assert _roles(m) == {"albedo": "crate.png", "normal": "crate_n.png", "specular": "crate_spec2.png"}
    assert any("crate_spec2.png: role from name hint 'spec2' (specular), content agrees" in n for n in m.notes)
    assert any(
        "crate_norm3.png: name hints normal_parallax ('norm3') but the image is grey; not used" in w for w in m.warnings
    )


def test_content_never_overrides_a_name(tmp_path):
    colour(tmp_path / "tile_diff.png")
    normal(tmp_path / "tile_s.png")  # looks like a normal map, but is named specular
    m = load(tmp_path)
    assert _roles(m) == {"albedo": "tile_diff.png", "specular": "tile_s.png"}


def test_weak_or_ambiguous_evidence_is_refused_not_guessed(tmp_path):
    normal(tmp_path / "m_n.png")
    colour(tmp_path / "m_one.png")
    colour(tmp_path / "m_two.png")  # two colour images: which is the albedo?
    weak = np.dstack([np.full((16, 16), 128, np.uint8)] * 2 + [np.full((16, 16), 200, np.uint8)])
    save(tmp_path / "m_blue.png", weak)
    grey(tmp_path / "m_mask.png")  # grey, and the name says nothing
    (src,) = discover(tmp_path)
    text = "\n".join(src.warnings)
    assert "m_one.png: colour image whose name gives no role, and 2 colour images could be the colour map" in text
    assert "m_blue.png: may be a normal map (blue-dominant) but its texels are not unit vectors" in text
    assert "m_mask.png: grey image (a scalar map), but its name does not say which" in text
    assert [f.path.name for f in src.files] == ["m_n.png"]


def test_folder_split_only_for_several_colour_stems(tmp_path):
    # one stem once suffixes are removed: one material, named after the folder
    one = tmp_path / "one"
    for name in ["bolt_c.png", "bolt_n.png", "bolt_s.png", "bolt_z.png"]:
        (colour if name.endswith("_c.png") else normal if "_n." in name else grey)(one / name)
    assert [m.key for m in discover(one)] == ["one"]
    # two colour stems, each with its maps, and a lone texture: three materials
    many = tmp_path / "many"
    for stem in ("bark", "moss"):
        colour(many / f"{stem}.tga")
        normal(many / f"{stem}_norm.tga")
    colour(many / "sky.tga")
    found = {m.name: sorted(f.path.name for f in m.files) for m in discover(many)}
    assert found == {"bark": ["bark.tga", "bark_norm.tga"], "moss": ["moss.tga", "moss_norm.tga"], "sky": ["sky.tga"]}
    # a folder of lone textures: one material each
    lone = tmp_path / "lone"
    for stem in ("stone", "dirt", "grass_side"):
        colour(lone / f"default_{stem}.png")
    assert [m.name for m in discover(lone)] == ["default_dirt", "default_grass_side", "default_stone"]


def test_inspect_exits_non_zero_and_says_how_many_failed(tmp_path, capsys):
    colour(tmp_path / "good" / "good_albedo.png")
    normal(tmp_path / "bad" / "bad_normal.png")  # no colour map
    colour(tmp_path / "fine" / "fine_albedo.png")
    assert main(["inspect", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert "bad: ERROR: " in out and "3 material(s), 2 ok, 1 with errors" in out
    assert f"1 of 3 material(s) under {tmp_path} have errors" in err
    assert main(["inspect", "--json", str(tmp_path)]) == 2
    assert main(["inspect", str(tmp_path / "good")]) == 0


def test_a_named_normal_map_that_is_no_normal_map_is_warned_and_kept(tmp_path):
    colour(tmp_path / "door_albedo.png")
    colour(tmp_path / "door_normal.png")  # a colour image under a normal map's name
    m = load(tmp_path)
    assert _roles(m)["normal"] == "door_normal.png"
    assert any(
        "door_normal.png: named a normal map, but its pixels do not look like a tangent-space normal map" in w
        for w in m.warnings
    )
    normal(tmp_path / "door_normal.png")
    assert not load(tmp_path).warnings
