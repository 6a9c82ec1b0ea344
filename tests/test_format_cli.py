"""`texgs inspect` and `texgs decode` on packed files."""

import json
import pathlib

import numpy as np
import pytest

from texgs.cli import main
from texgs.format import decode

GOLDEN = pathlib.Path(__file__).parent / "data" / "golden" / "material.texgs"


def test_inspect_json_reports_header_and_sections(capsys):
    assert main(["inspect", str(GOLDEN), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["width"], rep["height"], rep["channels"], rep["gaussians"]) == (64, 48, 7, 120)
    assert rep["bytes"] == GOLDEN.stat().st_size
    assert sum(s["bytes"] for s in rep["sections"]) < rep["bytes"]
    assert [s["name"] for s in rep["sections"]] == ["channels", "index", "records", "palettes", "names"]
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
    proc = subprocess.Popen([sys.executable, "-m", "texgs", "inspect", str(GOLDEN)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err and "Broken" not in err
