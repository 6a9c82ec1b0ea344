"""Every material of the shared corpus ingests to the expected channel roles
(headers only, fast), and the quick set decodes fully with the right values.

The corpus is read from $TEXGS_CORPUS or ../shared/corpus beside the repository;
the tests skip when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from texgs.ingest import Material, MaterialInfo, discover, load, load_all

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TEXGS_CORPUS", REPO.parent / "shared" / "corpus"))

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS} (set TEXGS_CORPUS)"),
]

# Expected channel groups per corpus material, in storage order (written by hand
# from the corpus README and the file names).
ORM = ["albedo", "normal", "ao", "roughness", "metalness"]
EXPECTED = {
    "ambientcg/Bark014": ["albedo", "normal", "ao", "roughness", "height"],
    "ambientcg/Bricks102": ["albedo", "normal", "ao", "roughness", "height"],
    "ambientcg/Chainmail004": ["albedo", "opacity", "normal", "roughness", "metalness", "height"],
    "ambientcg/Facade005": ["albedo", "normal", "roughness", "metalness", "height"],
    "ambientcg/Ground054": ["albedo", "normal", "ao", "roughness", "height"],
    "ambientcg/Metal009": ["albedo", "normal", "roughness", "metalness", "height"],
    "ambientcg/Metal049A": ["albedo", "normal", "roughness", "metalness", "height"],
    "ambientcg/Metal053C": ["albedo", "normal", "roughness", "metalness", "height"],
    "ambientcg/Metal055A": ["albedo", "normal", "roughness", "metalness", "height"],
    "ambientcg/Onyx003": ["albedo", "normal", "roughness", "height"],
    "ambientcg/Rock053": ["albedo", "normal", "ao", "roughness", "height"],
    "ambientcg/Rock058": ["albedo", "normal", "ao", "roughness", "height"],
    "gltf-samples/BoomBox": ORM + ["emissive"],
    "gltf-samples/FlightHelmet_GlassPlasticMat": ORM,
    "gltf-samples/FlightHelmet_LeatherPartsMat": ORM,
    "gltf-samples/FlightHelmet_LensesMat": ["albedo", "opacity", "ao", "roughness", "metalness"],
    "gltf-samples/FlightHelmet_MetalPartsMat": ORM,
    "gltf-samples/FlightHelmet_RubberWoodMat": ORM,
    **{f"godot-decals/decal_scifi_{i}": ["albedo", "opacity", "normal"] for i in range(1, 5)},
    **{
        f"godot-tps-demo/{m}": ORM
        for m in [
            "container1",
            "door",
            "floor_grate_wholes",
            "flying_forklift",
            "player_robot",
            "reactor_cylinder",
            "tile_anti_slip",
            "tile_painted_gun_metal",
            "tile_rivet_panels",
            "tile_scifi_floor_panel",
            "tile_simple_floor",
            "tile_steel",
            "tile_tech_panels",
            "trim_emission_lights",
            "trim_misc_1",
        ]
    },
    "godot-tps-demo/container4": ["albedo", "opacity", "normal", "ao", "roughness", "metalness"],
    **{
        f"polyhaven/{m}": ORM
        for m in [
            "cardboard_box_01",
            "crowbar_01",
            "dutch_ship_medium_hull",
            "dutch_ship_medium_rigging",
            "dutch_ship_medium_sails",
            "fabric_pattern_07",
            "lubricant_spray",
            "metal_tool_chest",
            "plastic_monobloc_chair_01",
            "small_oil_can_01",
            "wooden_crate_01",
        ]
    },
    "polyhaven/defense_wall": ["albedo", "normal", "roughness"],
    "polyhaven/stone_floor": ["albedo", "normal", "roughness"],
    "polyhaven/factory_wall": ["albedo", "normal", "roughness", "height"],
    "polyhaven/metal_plate_02": ["albedo", "normal", "roughness", "height"],
    "polyhaven/rusty_metal_05": ["albedo", "normal", "roughness", "height"],
    "terrain3d-packed/ground037": ["albedo", "normal", "roughness", "height"],
    "terrain3d-packed/rock023": ["albedo", "normal", "roughness", "height"],
}
WIDTH = {"albedo": 3, "normal": 3, "emissive": 3}


@pytest.fixture(scope="module")
def tables() -> dict[str, MaterialInfo]:
    results = load_all(CORPUS, header_only=True)
    bad = [r for r in results if not isinstance(r, MaterialInfo)]
    assert not bad, [r.message for r in bad]
    return {r.key: r for r in results}


def test_every_corpus_material_is_found(tables):
    assert sorted(tables) == sorted(EXPECTED)
    # Licence files and notes beside the materials are not images: no warnings.
    assert all(not t.warnings for t in tables.values())


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_corpus_material_roles(tables, key):
    t = tables[key]
    assert t.groups == EXPECTED[key]
    assert t.num_channels == sum(WIDTH.get(g, 1) for g in EXPECTED[key])  # METRICS.md channel count
    assert len(set(t.roles)) == t.num_channels
    for c in t.channels:
        assert c.colour_space == ("srgb" if c.group in ("albedo", "emissive") else "linear")
        assert c.source.file.is_file() and c.source.file.parent == CORPUS / key
        assert c.source.size == (t.width, t.height)


def test_corpus_packed_sources(tables):
    def src(key, role):
        t = tables[key]
        c = t.channels[t.roles.index(role)]
        return c.source.file.name, c.source.channel

    assert src("terrain3d-packed/ground037", "height") == ("ground037_alb_ht.png", "A")
    assert src("terrain3d-packed/ground037", "roughness") == ("ground037_nrm_rgh.png", "A")
    assert src("godot-decals/decal_scifi_1", "opacity") == ("scifi_1_albedo.png", "A")
    assert src("polyhaven/wooden_crate_01", "roughness") == ("wooden_crate_01_arm_1k.jpg", "G")
    assert src("gltf-samples/BoomBox", "metalness") == ("BoomBox_occlusionRoughnessMetallic.png", "B")
    assert src("polyhaven/metal_plate_02", "height") == ("metal_plate02_height_1k.png", "R")
    assert src("godot-tps-demo/tile_anti_slip", "normal.x") == ("tile_anti_slip_metal_normal.png", "R")
    # Greyscale Godot albedo is sampled as RGB: three channels from Y.
    assert [c.source.channel for c in tables["godot-tps-demo/tile_steel"].channels[:3]] == ["Y", "Y", "Y"]
    # A constant alpha (Poly Haven height PNG) is dropped, and the table says so.
    assert any("constant" in n for n in tables["polyhaven/rusty_metal_05"].notes)
    # Normal convention: stated by Poly Haven / ambientCG GL names, assumed elsewhere.
    note = lambda k: tables[k].channels[tables[k].roles.index("normal.y")].source.note  # noqa: E731
    assert "assumed" not in note("polyhaven/wooden_crate_01")
    assert "assumed" not in note("ambientcg/Bricks102")
    assert "assumed" in note("godot-tps-demo/door")
    # ambientCG's older "_Normal" maps are DirectX, which their height maps show.
    for key in ["ambientcg/Chainmail004", "ambientcg/Metal009"]:
        assert note(key).startswith("DirectX inferred from"), note(key)
    for key in ["ambientcg/Bark014", "ambientcg/Rock058", "terrain3d-packed/rock023"]:
        assert note(key).startswith("OpenGL inferred from"), note(key)


@pytest.mark.parametrize(
    "key,shape",
    [("gltf-samples/FlightHelmet_LeatherPartsMat", (512, 512, 9)), ("godot-decals/decal_scifi_1", (512, 512, 7))],
)
def test_quick_set_decodes(key, shape):
    import cv2

    (source,) = discover(CORPUS / key)
    m = load(source)
    assert isinstance(m, Material) and m.pixels.shape == shape and m.pixels.dtype == np.float32
    assert float(m.pixels.min()) >= 0 and float(m.pixels.max()) <= 1
    np.testing.assert_allclose(np.linalg.norm(m.normal_vectors(), axis=-1), 1, atol=1e-5)
    albedo = m.channels[0].source.file
    ref = cv2.imread(str(albedo), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(m.group("albedo"), ref[:, :, [2, 1, 0]] / np.float32(255))
    if "opacity" in m.groups:
        np.testing.assert_array_equal(m.group("opacity")[:, :, 0], ref[:, :, 3] / np.float32(255))
