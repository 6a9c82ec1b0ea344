"""`texgs compare` on a real material of the quick set (skipped without the corpus)."""

import os
from pathlib import Path

import pytest

from texgs.compare import codecs, tools
from texgs.compare.material import load_materials, rgb_textures
from texgs.compare.run import Settings, compare_material

CORPUS = Path(os.environ.get("TEXGS_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
QUICK = "gltf-samples/FlightHelmet_LeatherPartsMat"

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def material():
    folder = CORPUS / QUICK
    if not folder.is_dir():
        pytest.skip(f"corpus material {folder} not found (set TEXGS_CORPUS)")
    (m,) = load_materials(folder)
    return m


def test_quick_material_bc1_curve(material):
    try:
        codecs.BC1.encoder_version()
    except tools.MissingTool as e:
        pytest.skip(str(e))
    assert (material.height, material.width, material.channels) == (512, 512, 9)
    assert len(rgb_textures(material)) == 3  # albedo, normal, ORM
    res = compare_material(material, Settings(methods=("BC1",), extended_metrics=False))
    psnr = [r["psnr"] for r in res.rows]
    assert len(psnr) == 3 and psnr == sorted(psnr)
    # 0.03 -> 0.12 bppc is two mip levels of BC1 (x4 rate each): a few dB apart, not tens
    assert 20.0 < psnr[0] < psnr[-1] < 40.0
    assert 1.0 < psnr[-1] - psnr[0] < 8.0
