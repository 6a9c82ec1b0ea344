"""texgs.ingest.readers: every supported file layout read at full precision, and
every broken file reported as an InputError naming the file."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from texgs.errors import InputError
from texgs.ingest import MAX_INPUT_SIDE, read_header, read_image

RNG = np.random.default_rng(7)


def write_png(path, data, colour_type, palette=None, trns=None, size=None):
    """A minimal PNG writer (so tests control bit depth, colour type, palette, tRNS).

    data: [H, W, C] uint8/uint16 samples, or [H, W] palette indices; size
    overrides the IHDR size (for header-only files) and skips the pixel data.
    """

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = np.asarray(data)
    bits = 16 if data.dtype == np.uint16 else 8
    h, w = size or data.shape[:2]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, colour_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    if size is None:
        rows = data.reshape(h, -1).astype(">u2" if bits == 16 else "u1")
        raw = b"".join(b"\x00" + r.tobytes() for r in rows)
        out += chunk(b"IDAT", zlib.compress(raw))
    out += chunk(b"IEND", b"")
    path.write_bytes(out)
    return path


def write_exr(path, channels: dict[str, np.ndarray]):
    import OpenEXR

    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels).write(str(path))
    return path


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("colour_type,names", [(0, "Y"), (4, "YA"), (2, "RGB"), (6, "RGBA")])
def test_png_layouts_keep_every_bit(tmp_path, bits, colour_type, names):
    dtype, top = (np.uint8, 255) if bits == 8 else (np.uint16, 65535)
    data = RNG.integers(0, top + 1, size=(5, 7, len(names)), dtype=np.int64).astype(dtype)
    path = write_png(tmp_path / "x.png", data, colour_type)
    header, pixels = read_image(path)
    assert header.channels == tuple(names)
    assert (header.width, header.height, header.bits) == (7, 5, bits)
    assert pixels.dtype == np.float32 and pixels.shape == (5, 7, len(names))
    # Exact: the value / (2^bits - 1), so 16-bit data keeps all 65536 levels.
    np.testing.assert_array_equal(np.round(pixels * top).astype(np.int64), data.astype(np.int64))


def test_png_16bit_rgb_is_not_reduced_to_8bit(tmp_path):
    # imageio/Pillow read this as 8-bit; the low byte must survive here.
    data = np.full((2, 3, 3), 0x1234, np.uint16)
    _, pixels = read_image(write_png(tmp_path / "deep.png", data, 2))
    assert np.all(pixels == np.float32(0x1234 / 65535))


def test_png_palette_with_and_without_transparency(tmp_path):
    palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    header, pixels = read_image(write_png(tmp_path / "p.png", idx, 3, palette=palette))
    assert header.channels == ("R", "G", "B")
    np.testing.assert_array_equal(pixels[0, 1], [0, 1, 0])
    header, pixels = read_image(write_png(tmp_path / "pt.png", idx, 3, palette=palette, trns=[255, 128, 0]))
    assert header.channels == ("R", "G", "B", "A")
    np.testing.assert_allclose(pixels[:, :, 3], [[1, 128 / 255, 0], [0, 128 / 255, 1]], atol=1e-7)
    np.testing.assert_array_equal(pixels[1, 0, :3], [0, 0, 1])


def test_jpeg_and_tga(tmp_path):
    from PIL import Image

    rgb = RNG.integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.tga")
    Image.fromarray(RNG.integers(0, 256, (8, 8, 4), dtype=np.uint8), "RGBA").save(
        tmp_path / "a.tga", compression="tga_rle"
    )
    yy, xx = np.mgrid[0:16, 0:24]
    smooth = np.stack([xx * 10, yy * 15, 255 - xx * 10], axis=-1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "g.jpg", quality=95)
    header, pixels = read_image(tmp_path / "c.tga")
    assert header.format == "tga" and header.channels == ("R", "G", "B")
    np.testing.assert_array_equal(np.round(pixels * 255).astype(np.uint8), rgb)  # TGA is lossless
    assert read_header(tmp_path / "a.tga").channels == ("R", "G", "B", "A")
    header, pixels = read_image(tmp_path / "c.jpg")
    assert header.format == "jpeg" and pixels.shape == (16, 24, 3)
    assert np.abs(pixels * 255 - smooth).max() < 12  # lossy, but the same picture
    assert read_header(tmp_path / "g.jpg").channels == ("Y",)


def test_exr_half_and_float_with_any_channel_names(tmp_path):
    half = (RNG.random((4, 6)) * 3).astype(np.float16)
    flt = (RNG.random((4, 6)) * -2).astype(np.float32)
    path = write_exr(tmp_path / "m.exr", {"diffuse.R": half, "diffuse.G": half, "diffuse.B": half, "Z": flt})
    header, pixels = read_image(path)
    assert header.format == "exr" and header.is_float
    assert header.channels == ("Z", "diffuse.R", "diffuse.G", "diffuse.B")  # layer order, R G B within a layer
    np.testing.assert_array_equal(pixels[:, :, 0], flt)  # float kept exactly, outside [0, 1] too
    np.testing.assert_array_equal(pixels[:, :, 1], half.astype(np.float32))


def test_exr_nan_and_inf_are_errors(tmp_path):
    bad = np.ones((3, 3), np.float32)
    bad[1, 1] = np.nan
    path = write_exr(tmp_path / "nan.exr", {"R": bad, "G": np.ones((3, 3), np.float32)})
    with pytest.raises(InputError, match=r"nan\.exr.*NaN/Inf.*R"):
        read_image(path)
    bad[1, 1] = np.inf
    with pytest.raises(InputError, match="NaN/Inf"):
        read_image(write_exr(tmp_path / "inf.exr", {"Y": bad}))


@pytest.mark.parametrize("ext", ["png", "jpg", "tga", "exr"])
def test_truncated_files_are_errors(tmp_path, ext):
    from PIL import Image

    rgb = RNG.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    full = tmp_path / f"full.{ext}"
    if ext == "exr":
        write_exr(full, {"R": rgb[:, :, 0] / np.float32(255)})
    else:
        Image.fromarray(rgb).save(full)
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match=r"cut\." + ext):
        read_image(cut)


def test_corrupt_png_is_an_error(tmp_path):
    path = write_png(tmp_path / "c.png", RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8), 2)
    data = bytearray(path.read_bytes())
    for i in range(60, len(data) - 20):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"c\.png"):
        read_image(path)


@pytest.mark.parametrize("name", ["notes.png", "notes.jpg", "notes.exr", "notes.tga"])
def test_non_image_with_image_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("this is a text file, not an image\n" * 4)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        read_header(path)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png: empty file"):
        read_header(tmp_path / "empty.png")
    with pytest.raises(InputError, match=r"gone\.png: cannot read"):
        read_header(tmp_path / "gone.png")


def test_zero_size_and_absurd_size_rejected_from_the_header(tmp_path):
    zero = write_png(tmp_path / "zero.png", np.zeros((1, 1, 3), np.uint8), 2, size=(0, 4))
    with pytest.raises(InputError, match=r"zero\.png: zero-size image"):
        read_header(zero)
    # No pixel data at all: the size alone must stop it, before any decode.
    huge = write_png(tmp_path / "huge.png", np.zeros((1, 1, 3), np.uint8), 2, size=(4, MAX_INPUT_SIDE + 1))
    with pytest.raises(InputError, match=rf"huge\.png: image is {MAX_INPUT_SIDE + 1}x4, larger than the limit"):
        read_header(huge)


@pytest.mark.parametrize("ext", ["png", "jpg", "tga", "exr"])
def test_damaged_files_give_an_image_or_an_input_error(tmp_path, ext):
    """A small fuzz: truncations and byte changes never escape as another exception."""
    from PIL import Image

    rng = np.random.default_rng(11)
    rgba = rng.integers(0, 256, size=(16, 16, 4), dtype=np.uint8)
    good = tmp_path / f"good.{ext}"
    if ext == "exr":
        write_exr(good, {"R": rgba[:, :, 0] / np.float32(255), "G": rgba[:, :, 1] / np.float32(255)})
    elif ext == "jpg":
        Image.fromarray(rgba[:, :, :3]).save(good)
    else:
        Image.fromarray(rgba).save(good, **({"compression": "tga_rle"} if ext == "tga" else {}))
    data = good.read_bytes()
    outcomes = set()
    for trial in range(40):
        damaged = bytearray(data)
        if trial % 2:
            damaged = damaged[: int(rng.integers(1, len(damaged)))]
        else:
            for i in rng.integers(0, len(damaged), size=1 + trial % 5):
                damaged[i] = int(rng.integers(0, 256))
        path = tmp_path / f"d{trial}.{ext}"
        path.write_bytes(bytes(damaged))
        try:
            _, pixels = read_image(path)
            assert pixels.dtype == np.float32 and pixels.ndim == 3
            outcomes.add("read")
        except InputError as e:
            assert path.name in str(e)
            outcomes.add("error")
    assert "error" in outcomes
