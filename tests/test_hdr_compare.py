"""ASTC on float data (texgs.compare.hdr) and `texgs compare` on an EXR material:
figures relative to each channel's range, ASTC-HDR beside the LDR codecs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_hdr import hdr_material

from texgs import ingest, metrics
from texgs.compare import hdr
from texgs.compare.material import from_ingest

needs_astcenc = pytest.mark.skipif(
    shutil.which("astcenc") is None, reason="astcenc not installed (apt-get install astcenc)"
)


@needs_astcenc
def test_astc_hdr_points_keep_values_above_one_and_count_payload_bytes():
    yy, xx = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5, indexing="ij")
    nits = (1.0 + 999.0 * np.exp(-((xx - 16) ** 2 + (yy - 12) ** 2) / 60.0))[..., None] * [1.0, 0.8, 0.5]
    pts = hdr.astc_points(nits.astype(np.float32), True, blocks=("4x4", "12x12"), levels=(1, 2))
    assert [p.label for p in pts] == ["4x4 mip 1", "12x12 mip 1", "4x4 mip 2", "12x12 mip 2"]
    assert pts[0].n_bytes == 16 * 4 * 4  # 16x16 texels in 4x4 blocks, 16 bytes each
    assert pts[0].bppc == pytest.approx(8 * 256 / (32 * 32 * 3))
    best = pts[0].recon
    assert best.max() > 500  # HDR values survive (the LDR profile would clamp at 1)
    lo, hi = nits.min(axis=(0, 1)), nits.max(axis=(0, 1))
    assert metrics.psnr_in_range(nits, best, lo, hi) > metrics.psnr_in_range(nits, pts[-1].recon, lo, hi)
    with pytest.raises(ValueError, match="negative"):
        hdr.astc_points(-nits.astype(np.float32), True)


def test_compare_material_is_in_range_units(tmp_path):
    m = ingest.load(hdr_material(tmp_path / "panel"))
    cm = from_ingest(m)
    assert cm.ranges is not None and 0.0 <= cm.data.min() and cm.data.max() <= 1.0
    h = [c.name for c in m.channels].index("height")
    lo, hi = cm.ranges[h]
    assert lo == pytest.approx(-0.02, abs=1e-4) and hi == pytest.approx(0.05, abs=1e-4)
    assert np.allclose(lo + (hi - lo) * cm.data[..., h], m.pixels[..., h], atol=1e-6)


@needs_astcenc
def test_texgs_compare_runs_astc_hdr_on_an_exr_material(tmp_path):
    from texgs.compare.api import compare
    from texgs.compare.run import Settings

    folder = hdr_material(tmp_path / "panel")
    s = Settings(rates=(0.5,), methods=("texgs", "ASTC", "ASTC-HDR"), quick=True, extended_metrics=False)
    results, files, failed = compare([folder], s, tmp_path / "report")
    assert not failed
    rows = {r["method"]: r for r in results[0].rows}
    assert set(rows) == {"texgs", "ASTC", "ASTC-HDR"}
    for r in rows.values():
        assert r["psnr"] is not None and 15 < r["psnr"] < 80, r
    assert files["csv"].exists()


def test_at_rate_uses_the_best_point_below_a_rate_past_the_frontier():
    pts = [hdr.Point(str(r), 0, r, np.zeros((1, 1, 1))) for r in (0.01, 0.02, 0.04, 0.08)]
    scores = [20.0, 30.0, 29.0, 28.0]  # this figure peaks at 0.02: the frontier ends there
    assert hdr.at_rate(pts, scores, 0.06) == 30.0
    assert hdr.at_rate(pts, scores, 0.01 * 2**0.5) == pytest.approx(25.0)
    assert hdr.at_rate(pts, scores, 0.005) is None and hdr.at_rate(pts, scores, 0.1) is None
