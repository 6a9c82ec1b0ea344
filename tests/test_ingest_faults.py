"""Input faults that used to be silent or noisy: a map that is a dangling
symbolic link, and libpng's own messages on a damaged PNG."""

from __future__ import annotations

import pytest
from ingest_images import colour, normal

from texgs.cli import main
from texgs.errors import InputError
from texgs.ingest import discover, load, read_image


def test_dangling_symlink_map_is_reported_not_dropped(tmp_path, capsys):
    colour(tmp_path / "m" / "m_albedo.png")
    (tmp_path / "m" / "m_normal.png").symlink_to(tmp_path / "gone" / "m_normal.png")
    (src,) = discover(tmp_path / "m")
    assert [f.path.name for f in src.files] == ["m_albedo.png", "m_normal.png"]
    with pytest.raises(
        InputError,
        match=r"m_normal\.png: cannot read file \(broken symbolic link: its target "
        r".*gone/m_normal\.png does not exist\)",
    ):
        load(src)
    assert main(["inspect", str(tmp_path)]) == 2
    assert "m_normal.png: cannot read file (broken symbolic link" in capsys.readouterr().out


def _png(tmp_path):
    path = normal(tmp_path / "x_albedo.png", (64, 64))
    return path, path.read_bytes()


def test_corrupt_idat_gives_one_message_and_nothing_from_libpng(tmp_path, capfd):
    path, data = _png(tmp_path)
    broken = bytearray(data)
    broken[60] ^= 0xFF  # inside the IDAT chunk
    path.write_bytes(bytes(broken))
    with pytest.raises(InputError, match=r"x_albedo\.png: truncated or corrupt PNG \(IDAT: [^)]+\)"):
        read_image(path)
    out, err = capfd.readouterr()
    assert "libpng" not in out + err


def test_truncated_png_names_the_damage(tmp_path, capfd):
    path, data = _png(tmp_path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"truncated or corrupt PNG \(file ends inside its IDAT chunk at byte \d+"):
        read_image(path)
    out, err = capfd.readouterr()
    assert "libpng" not in out + err
