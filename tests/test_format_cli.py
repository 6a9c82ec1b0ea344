"""`texgs inspect` and `texgs decode` on packed files."""

import json
import pathlib

import numpy as np
import pytest

from texgs.channels import Channel
from texgs.cli import main
from texgs.format import decode

GOLDEN = pathlib.Path(__file__).parent / "data" / "golden" / "material.texgs"


def test_inspect_json_reports_header_and_sections(capsys):
    assert main(["inspect", str(GOLDEN), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["width"], rep["height"], rep["channels"], rep["gaussians"]) == (64, 48, 7, 120)
    assert rep["bytes"] == GOLDEN.stat().st_size
    assert sum(s["bytes"] for s in rep["sections"]) < rep["bytes"]
    # Its channel names are the ones its semantics give (albedo.r, normal.x, ...): no NAMES section.
    assert [s["name"] for s in rep["sections"]] == ["channels", "index", "records", "palettes", "mip_tail"]
    assert [c["name"] for c in rep["channel_table"]][2:4] == ["albedo.b", "normal.x"]
    assert rep["mip_tail"] == {"first_level": 3, "levels": 4, "value_bits": 8}
    assert rep["channel_table"][3]["semantic"] == "normal_x"
    assert main(["inspect", str(GOLDEN)]) == 0
    assert "records" in capsys.readouterr().out


def test_decode_writes_one_image_per_group(tmp_path, capsys):
    import cv2
    import OpenEXR

    assert main(["decode", str(GOLDEN), "-o", str(tmp_path / "out")]) == 0
    ref = decode(GOLDEN.read_bytes())
    albedo = cv2.imread(str(tmp_path / "out" / "albedo.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert albedo.dtype == np.uint8 and np.array_equal(albedo, np.round(ref[..., 0:3] * 255).astype(np.uint8))
    rough = OpenEXR.File(str(tmp_path / "out" / "roughness.exr"), separate_channels=True).channels()
    # roughness has range [0, 2]: the EXR holds stored values.
    assert np.allclose(rough["R"].pixels, ref[..., 6] * 2.0, atol=1e-6)
    assert main(["decode", str(GOLDEN), "-o", str(tmp_path / "o16"), "--png16"]) == 0
    normal = cv2.imread(str(tmp_path / "o16" / "normal.png"), cv2.IMREAD_UNCHANGED)
    assert normal.dtype == np.uint16


@pytest.mark.parametrize("cmd", ["inspect", "decode"])
def test_corrupt_file_is_a_one_line_error(tmp_path, capsys, cmd):
    bad = tmp_path / "bad.texgs"
    data = bytearray(GOLDEN.read_bytes())
    data[-30] ^= 0xFF
    bad.write_bytes(bytes(data))
    argv = [cmd, str(bad)] + (["-o", str(tmp_path / "o")] if cmd == "decode" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "checksum" in err and "bad.texgs" in err
    assert not (tmp_path / "o").exists()


def test_inspect_of_a_non_packed_path_goes_to_ingest(tmp_path, capsys):
    pytest.importorskip("texgs.ingest", reason="texgs.ingest (material description) not in this build")
    folder = tmp_path / "mat"
    folder.mkdir()
    main(["decode", str(GOLDEN), "-o", str(folder)])
    capsys.readouterr()
    assert main(["inspect", str(folder / "albedo.png")]) == 0
    assert "albedo" in capsys.readouterr().out


def test_output_into_a_closed_pipe_stops_quietly():
    import subprocess
    import sys

    # `texgs inspect F | head -0`: the reader has gone before texgs writes (it
    # closes its end at once; starting Python and importing texgs takes far longer).
    proc = subprocess.Popen(
        [sys.executable, "-m", "texgs", "inspect", str(GOLDEN)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err and "Broken" not in err


# ---------------------------------------------------------------------------
# Decompression bombs: a tiny file may declare a huge image


def _large_sparse_file(path, w, h, c, n=50):
    from texgs.format import QuantConfig, pack
    from texgs.gaussians import Gaussians

    rng = np.random.default_rng(0)
    cfg = QuantConfig(strip_height=256, strip_y_bits=10, position_bits=13)
    path.write_bytes(
        pack(
            Gaussians(
                means=(rng.random((n, 2)) * [w, h]).astype(np.float32),
                inv_scales=np.full((n, 2), 0.2, np.float32),
                rotations=np.zeros(n, np.float32),
                values=rng.random((n, c)).astype(np.float32),
                background=np.full(c, 0.25, np.float32),
            ),
            [Channel(f"c{i}", "g") for i in range(c)],
            h,
            w,
            cfg=cfg,
        )
    )


_PEAK_SCRIPT = """
import resource, sys
import cv2, texgs.format.decoder, texgs.format.export  # imported before the baseline
from texgs.cli import main
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert main(["decode", sys.argv[1], "-o", sys.argv[2]]) == 0
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_decode_of_a_large_image_holds_its_output_and_one_band(tmp_path):
    # 2048 x 1024 texels, 1 channel, ~800 bytes: decoding every texel at once took
    # ~460 MB above the baseline (per-texel point arrays); by row bands it takes
    # the 2 MB 8-bit image plus one band's working set.
    import subprocess
    import sys

    import cv2

    src = tmp_path / "bomb.texgs"
    _large_sparse_file(src, 2048, 1024, 1)
    assert src.stat().st_size < 2000
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(src), str(tmp_path / "o")], capture_output=True, text=True, check=True
    )
    peak = int(out.stdout.strip().splitlines()[-1])
    assert peak < 200 * 2**20, f"decode grew the process by {peak / 2**20:.0f} MiB"
    img = cv2.imread(str(tmp_path / "o" / "g.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (1024, 2048)
    assert np.array_equal(img, np.round(decode(src.read_bytes())[..., 0] * 255).astype(np.uint8))


def test_decode_refuses_images_over_the_budget_before_allocating(tmp_path, capsys):
    from texgs.format.export import MAX_OUTPUT_BYTES

    src = tmp_path / "huge.texgs"
    _large_sparse_file(src, 16384, 16384, 2, n=0)  # 2 x 1 GiB of float EXR planes
    assert main(["decode", str(src), "-o", str(tmp_path / "o"), "--exr"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "huge.texgs" in err and "2048 MiB" in err
    assert f"{MAX_OUTPUT_BYTES // 2**20} MiB" in err
    assert not (tmp_path / "o").exists()
