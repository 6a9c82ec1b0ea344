"""The shared file writers (texgs.writers): PNG pixels as given, in RGB(A) order; strict JSON values."""

import json

import cv2
import numpy as np
import pytest

from texgs.errors import OutputError
from texgs.writers import json_safe, write_png


def read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return img if img.ndim == 2 else img[..., [2, 1, 0] + ([3] if img.shape[2] == 4 else [])]


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_holds_the_pixels_in_rgb_order(tmp_path, channels, dtype):
    rng = np.random.default_rng(channels)
    img = rng.integers(0, np.iinfo(dtype).max, (5, 7, channels), endpoint=True).astype(dtype)
    write_png(tmp_path / "a.png", img)
    back = read_rgb(tmp_path / "a.png")
    assert back.dtype == dtype and np.array_equal(back.reshape(img.shape), img)
    if channels > 1:  # already in OpenCV's order: the same file
        bgr = np.ascontiguousarray(img[..., [2, 1, 0] + ([3] if channels == 4 else [])])
        write_png(tmp_path / "b.png", bgr, bgr=True)
        assert (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_float_pixels_are_unit_values_rounded_to_8_bits(tmp_path):
    img = np.array([[[-0.5, 0.0, 0.5], [1.0 / 255 * 2.5, 1.0, 7.0]]], np.float32)
    write_png(tmp_path / "f.png", img)
    assert read_rgb(tmp_path / "f.png").tolist() == [[[0, 0, 128], [2, 255, 255]]]


def test_png_that_cannot_be_written_names_the_file(tmp_path):
    with pytest.raises(OutputError, match="missing"):
        write_png(tmp_path / "missing" / "a.png", np.zeros((2, 2), np.uint8))


def test_json_safe_values():
    doc = {"a": float("inf"), "b": [np.float32(0.5), np.int64(3), (float("nan"), 1)], "c": "x"}
    assert json.dumps(json_safe(doc), allow_nan=False) == '{"a": null, "b": [0.5, 3, [null, 1]], "c": "x"}'
