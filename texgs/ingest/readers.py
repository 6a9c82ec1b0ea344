"""Image I/O: headers without decoding, and pixels at full precision.

Formats: PNG (8/16-bit grey, grey+alpha, RGB, RGBA, palette) through OpenCV
(imageio/Pillow would silently reduce 16-bit RGB to 8 bits), JPEG and TGA
through Pillow, EXR (half/float, any channel names) through ``OpenEXR``.
The file's content decides the format (its first bytes), not its extension, so
a text file named ``.png`` is reported, not half-read.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Largest side of a source image texgs reads, checked from the header before
#: decoding: a 16384 x 16384 RGBA float32 decode is already 4 GiB. Smaller than
#: the largest side a file encodes (format.layout.MAX_ENCODED_SIDE) and the
#: native renderers' limit (constants.MAX_SIDE).
MAX_INPUT_SIDE = 16384

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_EXR_MAGIC = b"\x76\x2f\x31\x01"


@dataclass(frozen=True)
class ImageHeader:
    """What a file holds, read without decoding pixels.

    channels: the file's channel names in the order ``read_image`` returns
        them: ("Y",), ("Y", "A"), ("R", "G", "B") or ("R", "G", "B", "A") for
        PNG/JPEG/TGA; the stored names for EXR (e.g. ("R", "G", "B") or
        ("diffuse.R", "Z")).
    bits: 8 or 16 for integer formats; 0 for EXR (half or float, known only
        once read; both are kept as stored).
    """

    path: Path
    format: str  # "png" | "jpeg" | "tga" | "exr"
    width: int
    height: int
    channels: tuple[str, ...]
    bits: int
    is_float: bool

    @property
    def has_alpha(self) -> bool:
        return any(channel_letter(c) == "A" for c in self.channels)

    @property
    def is_grey(self) -> bool:
        return len([c for c in self.channels if channel_letter(c) != "A"]) == 1

    def describe(self) -> str:
        """e.g. "PNG 1024x1024 RGBA 8-bit" or "EXR 512x512 R,G,B float"."""
        if self.format == "exr":
            depth, chans = "float", ",".join(self.channels)
        else:
            depth, chans = f"{self.bits}-bit", "".join(self.channels)
        return f"{self.format.upper()} {self.width}x{self.height} {chans} {depth}"


def channel_letter(channel: str) -> str:
    """EXR layer channels "diffuse.R" -> "R"; image letters stay as they are."""
    return channel.rsplit(".", 1)[-1]


def _fail(path: Path, problem: str) -> InputError:
    return InputError(f"{path}: {problem}")


def _sniff(path: Path, head: bytes) -> str:
    if head.startswith(_PNG_SIG):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_EXR_MAGIC):
        return "exr"
    if path.suffix.lower() == ".tga":
        return "tga"  # TGA has no magic number; Pillow validates the header
    ext = path.suffix.lower().lstrip(".") or "image"
    raise _fail(path, f"not a valid {ext.upper()} file (content does not start with an image signature)")


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise _fail(path, f"zero-size image ({width}x{height})")
    if width > MAX_INPUT_SIDE or height > MAX_INPUT_SIDE:
        raise _fail(path, f"image is {width}x{height}, larger than the limit of {MAX_INPUT_SIDE} texels a side")


# --------------------------------------------------------------------------- headers


def _png_header(path: Path, data: bytes) -> ImageHeader:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _fail(path, "truncated or corrupt PNG (no IHDR chunk)")
    width, height, bits, colour_type = struct.unpack(">IIBB", data[16:26])
    _check_size(path, width, height)
    # A palette image has alpha when a tRNS chunk precedes the pixel data.
    has_trns = False
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if ctype == b"tRNS":
            has_trns = True
        if ctype in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    layouts = {
        0: ("Y",),
        2: ("R", "G", "B"),
        4: ("Y", "A"),
        6: ("R", "G", "B", "A"),
        3: ("R", "G", "B", "A") if has_trns else ("R", "G", "B"),
    }
    if colour_type not in layouts:
        raise _fail(path, f"corrupt PNG (unknown colour type {colour_type})")
    return ImageHeader(path, "png", width, height, layouts[colour_type], 16 if bits == 16 else 8, False)


@contextmanager
def _pillow_limit():
    """Let Pillow open anything within MAX_INPUT_SIDE (its own bomb limit is lower)."""
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_INPUT_SIDE * MAX_INPUT_SIDE
    try:
        yield Image
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _pillow_header(path: Path, fmt: str) -> ImageHeader:
    try:
        with _pillow_limit() as Image, Image.open(path) as im:
            mode, (width, height) = im.mode, im.size
    except Exception as e:  # Pillow raises many types for bad files
        raise _fail(path, f"not a readable {fmt.upper()} file ({e})") from None
    _check_size(path, width, height)
    layouts = {
        "L": ("Y",),
        "LA": ("Y", "A"),
        "RGB": ("R", "G", "B"),
        "RGBA": ("R", "G", "B", "A"),
        "P": ("R", "G", "B"),
        "PA": ("R", "G", "B", "A"),
        "I;16": ("Y",),
    }
    if mode not in layouts:
        raise _fail(path, f"unsupported {fmt.upper()} pixel mode {mode} (use grey, RGB or RGBA)")
    return ImageHeader(path, fmt, width, height, layouts[mode], 16 if mode == "I;16" else 8, False)


def _exr_order(names: list[str]) -> list[str]:
    """Layer by layer; within a layer Y, R, G, B, A first, then other names."""
    rank = {"Y": 0, "R": 1, "G": 2, "B": 3, "A": 4}

    def key(n: str):
        layer, _, last = n.rpartition(".")
        return (layer, rank.get(last, 5), last)

    return sorted(names, key=key)


def _exr_header(path: Path) -> ImageHeader:
    import OpenEXR

    try:
        header = OpenEXR.File(str(path), header_only=True).header()
    except Exception as e:
        raise _fail(path, f"not a readable EXR file ({e})") from None
    (x0, y0), (x1, y1) = header["dataWindow"]
    width, height = int(x1) - int(x0) + 1, int(y1) - int(y0) + 1
    _check_size(path, width, height)
    chans = header["channels"]
    if not chans:
        raise _fail(path, "EXR file has no channels")
    for c in chans:
        if c.xSampling != 1 or c.ySampling != 1:
            raise _fail(path, f"EXR channel {c.name} is subsampled; texgs needs full-resolution channels")
    # The pixel type (half/float) is not known without reading: bits = 0.
    return ImageHeader(path, "exr", width, height, tuple(_exr_order([c.name for c in chans])), 0, True)


def read_header(path: str | Path) -> ImageHeader:
    """The size and channels of an image file, without decoding its pixels.

    Raises InputError naming the file when it is missing, not an image, zero
    size or over MAX_INPUT_SIDE.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as e:
        if path.is_symlink() and not path.exists():
            raise _fail(
                path, f"cannot read file (broken symbolic link: its target {os.readlink(path)} does not exist)"
            ) from None
        raise _fail(path, f"cannot read file ({e.strerror})") from None
    if not head:
        raise _fail(path, "empty file")
    fmt = _sniff(path, head)
    if fmt == "png":
        return _png_header(path, head)
    if fmt == "exr":
        return _exr_header(path)
    return _pillow_header(path, fmt)


# --------------------------------------------------------------------------- pixels


def read_image(path: str | Path, header: ImageHeader | None = None) -> tuple[ImageHeader, np.ndarray]:
    """Decode an image at full precision.

    Returns (header, pixels): pixels [H, W, C] float32, channels in
    ``header.channels`` order; 8-bit values / 255, 16-bit / 65535, EXR half and
    float as stored. Raises InputError for truncated or corrupt files and for
    NaN/Inf in EXR data.
    """
    header = header or read_header(path)
    path = header.path
    if header.format == "png":
        pixels = _read_png(header)
    elif header.format == "exr":
        pixels = _read_exr(header)
    else:
        pixels = _read_pillow(header)
    if pixels.shape != (header.height, header.width, len(header.channels)):
        raise _fail(
            path,
            f"decoded to shape {pixels.shape}, header says "
            f"{header.height}x{header.width}x{len(header.channels)}; file is corrupt",
        )
    return header, pixels


@contextmanager
def _captured_stderr():
    """Collect what native code writes to file descriptor 2 (libpng prints its
    errors and warnings there) instead of letting it reach the user's
    terminal beside texgs's own one-line message. Yields a list that holds the
    captured text once the block ends."""
    out: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2: nothing to protect
        yield out
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


def _png_damage(path: Path) -> str:
    """Where a PNG the decoder refused is broken, from its chunk structure."""
    data = path.read_bytes()
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            return f"file ends inside its {ctype.decode('latin-1')} chunk at byte {len(data)}: truncated"
        if ctype == b"IEND":
            return "decoder failed"
        pos += 12 + length
    return f"no IEND chunk: truncated at byte {len(data)}"


def _read_png(header: ImageHeader) -> np.ndarray:
    import cv2

    with _captured_stderr() as said:
        raw = cv2.imread(str(header.path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        lines = [ln.strip() for ln in "".join(said).splitlines() if "libpng error" in ln]
        detail = lines[0].split(":", 1)[1].strip() if lines else _png_damage(header.path)
        raise _fail(header.path, f"truncated or corrupt PNG ({detail})")
    if raw.ndim == 2:
        raw = raw[:, :, None]
    # OpenCV returns B,G,R(,A); grey+alpha and palette+tRNS come back as BGRA.
    if raw.shape[2] >= 3:
        raw = raw[:, :, [2, 1, 0] + ([3] if raw.shape[2] == 4 else [])]
    names = header.channels
    if names[0] == "Y":
        raw = raw[:, :, [0] + ([raw.shape[2] - 1] if "A" in names else [])]
    elif len(names) == 3 and raw.shape[2] == 4:
        raw = raw[:, :, :3]  # colour-key transparency: not a data channel
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    return raw.astype(np.float32) / np.float32(scale)


def _read_pillow(header: ImageHeader) -> np.ndarray:
    try:
        with _pillow_limit() as Image, Image.open(header.path) as im:
            target = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[len(header.channels)]
            if im.mode == "I;16":
                arr = np.asarray(im, dtype=np.uint16)
            else:
                im.load()
                arr = np.asarray(im if im.mode == target else im.convert(target))
    except InputError:
        raise
    except Exception as e:
        raise _fail(header.path, f"truncated or corrupt {header.format.upper()} ({e})") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    return arr.astype(np.float32) / np.float32(scale)


def _read_exr(header: ImageHeader) -> np.ndarray:
    import OpenEXR

    try:
        chans = OpenEXR.File(str(header.path), separate_channels=True).channels()
        raw = [chans[name].pixels for name in header.channels]
    except Exception as e:
        raise _fail(header.path, f"truncated or corrupt EXR ({e})") from None
    for name, plane in zip(header.channels, raw):
        if plane.dtype.kind != "f":
            raise _fail(header.path, f"EXR channel {name} holds integers ({plane.dtype}); use half or float")
    planes = [plane.astype(np.float32) for plane in raw]
    pixels = np.stack(planes, axis=-1)
    bad = ~np.isfinite(pixels)
    if bad.any():
        where = [header.channels[c] for c in np.unique(np.nonzero(bad)[2])]
        raise _fail(header.path, f"{int(bad.sum())} NaN/Inf values in EXR channel(s) {', '.join(where)}")
    return pixels
