"""Block-codec encoders (the real tools) and decoders (texture2ddecoder).

A `Codec` turns an 8-bit texture of 1-3 channels into the block payload an
engine would upload, and back. Images are padded to whole blocks here (edge
texels repeated) and cropped after decoding, so every encoder sees the same
input and the payload size is exactly blocks x bytes per block. Container
headers (DDS, .astc) are stripped: the runtime cost is the payload.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TexgsError
from ..writers import write_png
from . import tools


@dataclass(frozen=True)
class Codec:
    """One block format produced by one encoder."""

    format: str  # "BC1", "BC7", "ASTC 6x6", ...
    family: str  # rate-curve family the points belong to: "BC1", "BC7", "ASTC", ...
    block: tuple[int, int]  # block width, height in texels
    block_bytes: int  # bytes per block (8 or 16)
    channels: int  # texture channels the format stores: 3 (RGB), 2 (BC5), 1 (BC4)
    encoder: str  # "nvcompress", "astcenc", "etcpak"
    options: dict = field(default_factory=dict, compare=False)

    @property
    def bits_per_texel(self) -> float:
        return 8.0 * self.block_bytes / (self.block[0] * self.block[1])

    def encoder_version(self) -> str:
        """'<encoder> <version>', raising tools.MissingTool when the encoder or decoder is absent."""
        tools.python_module("texture2ddecoder")
        if self.encoder == "etcpak":
            tools.python_module("etcpak")
            kind = "bc7enc" if self.format == "BC7" else "etcpak"
            return f"{kind} (PyPI etcpak {tools.python_version('etcpak')})"
        return tools.tool_version(self.encoder)

    def encode(self, image: np.ndarray, threads: int = 1) -> bytes:
        """image: [h, w, self.channels] uint8 -> block payload for the padded image."""
        img = _check_image(image, self.channels)
        padded = pad_to_blocks(img, self.block)
        rgb = _to_rgba(padded)
        if self.encoder == "etcpak":
            return _encode_etcpak(self, rgb)
        if self.encoder == "nvcompress":
            return _encode_nvcompress(self, rgb[..., :3])
        if self.encoder == "astcenc":
            return _encode_astcenc(self, rgb[..., :3], threads)
        raise ValueError(f"unknown encoder {self.encoder!r}")

    def decode(self, payload: bytes, height: int, width: int) -> np.ndarray:
        """Block payload of an image of height x width -> [height, width, self.channels] uint8."""
        t2d = tools.python_module("texture2ddecoder")
        ph, pw = padded_size(height, width, self.block)
        expected = (ph // self.block[1]) * (pw // self.block[0]) * self.block_bytes
        if len(payload) != expected:
            raise TexgsError(f"{self.format}: payload is {len(payload)} bytes, expected {expected}")
        fmt = self.format
        if fmt.startswith("ASTC"):
            raw = t2d.decode_astc(payload, pw, ph, self.block[0], self.block[1])
        else:
            raw = {"BC1": t2d.decode_bc1, "BC4": t2d.decode_bc4, "BC5": t2d.decode_bc5, "BC7": t2d.decode_bc7}[fmt](
                payload, pw, ph
            )
        rgba = np.frombuffer(raw, np.uint8).reshape(ph, pw, 4)[..., [2, 1, 0, 3]]  # BGRA -> RGBA
        return np.ascontiguousarray(rgba[:height, :width, : self.channels])

    def payload_bytes(self, height: int, width: int) -> int:
        ph, pw = padded_size(height, width, self.block)
        return (ph // self.block[1]) * (pw // self.block[0]) * self.block_bytes


# -- the codecs ---------------------------------------------------------------

BC1 = Codec("BC1", "BC1", (4, 4), 8, 3, "nvcompress")
BC4 = Codec("BC4", "BC4", (4, 4), 8, 1, "etcpak")
BC5 = Codec("BC5", "BC5", (4, 4), 16, 2, "etcpak")


def bc7(perceptual: bool = True) -> Codec:
    """BC7 by bc7enc. perceptual=True keeps bc7enc's default (perceptual channel weights),
    which is what reproduces reference/block_codecs_bench.csv; False weighs R, G, B equally."""
    return Codec("BC7", "BC7", (4, 4), 16, 3, "etcpak", {"perceptual": perceptual})


#: The block sizes of reference/block_codecs_bench.csv, and all 2D ASTC footprints.
ASTC_REFERENCE_BLOCKS = ("4x4", "6x6", "8x8", "12x12")
ASTC_ALL_BLOCKS = (
    "4x4",
    "5x4",
    "5x5",
    "6x5",
    "6x6",
    "8x5",
    "8x6",
    "8x8",
    "10x5",
    "10x6",
    "10x8",
    "10x10",
    "12x10",
    "12x12",
)


def astc(block: str, preset: str = "-thorough") -> Codec:
    """ASTC <block> by ARM astcenc (LDR linear '-cl' profile: the error it minimises is the
    one PSNR measures on stored values). Normal maps are encoded as plain RGB, without
    '-normal': docs/METRICS.md measures the stored X, Y, Z, and the reference table does the same."""
    try:
        bw, bh = (int(v) for v in block.lower().split("x"))
    except ValueError:
        raise TexgsError(f"ASTC block size {block!r} is not of the form WxH") from None
    if f"{bw}x{bh}" not in ASTC_ALL_BLOCKS:
        raise TexgsError(f"ASTC block size {block!r} is not a 2D ASTC footprint ({', '.join(ASTC_ALL_BLOCKS)})")
    return Codec(f"ASTC {bw}x{bh}", "ASTC", (bw, bh), 16, 3, "astcenc", {"preset": preset})


# -- helpers -------------------------------------------------------------------


def padded_size(height: int, width: int, block: tuple[int, int]) -> tuple[int, int]:
    bw, bh = block
    return -(-height // bh) * bh, -(-width // bw) * bw


def pad_to_blocks(image: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """[h, w, k] -> [h', w', k] with h', w' whole blocks, edge texels repeated."""
    h, w = image.shape[:2]
    ph, pw = padded_size(h, w, block)
    if (ph, pw) == (h, w):
        return image
    return np.pad(image, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")


def _check_image(image: np.ndarray, channels: int) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != channels:
        raise ValueError(f"expected [h, w, {channels}] uint8, got {image.shape} {image.dtype}")
    return image


def _to_rgba(image: np.ndarray) -> np.ndarray:
    """[h, w, k<=3] uint8 -> [h, w, 4] uint8: missing colour channels 0, alpha 255.
    BC4 reads R and BC5 reads R, G, so the texture's channels go first."""
    h, w, k = image.shape
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :k] = image
    out[..., 3] = 255
    return out


def _run(cmd: list[str], what: str) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise TexgsError(f"{what} failed (exit {out.returncode}): {' | '.join(tail)}")


def _encode_etcpak(codec: Codec, rgba: np.ndarray) -> bytes:
    etcpak = tools.python_module("etcpak")
    h, w = rgba.shape[:2]
    data = rgba.tobytes()
    if codec.format == "BC7":
        params = etcpak.BC7CompressBlockParams()
        if not codec.options.get("perceptual", True):
            params.init_linear_weights()
        return bytes(etcpak.compress_bc7(data, w, h, params))
    if codec.format == "BC4":
        return bytes(etcpak.compress_bc4(data, w, h))
    if codec.format == "BC5":
        return bytes(etcpak.compress_bc5(data, w, h))
    raise ValueError(f"etcpak cannot write {codec.format}")


def _encode_nvcompress(codec: Codec, rgb: np.ndarray) -> bytes:
    exe = tools.find_executable("nvcompress")
    flag = {"BC1": "-bc1"}[codec.format]
    h, w = rgb.shape[:2]
    with tempfile.TemporaryDirectory(prefix="texgs-nvtt-") as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.dds"
        write_png(src, rgb)
        _run(_fixed_addresses() + [exe, "-nomips", "-nocuda", flag, str(src), str(dst)], f"nvcompress {flag}")
        dds = dst.read_bytes()
    return dds_payload(dds, h, w, codec)


def _fixed_addresses() -> list[str]:
    """Command prefix that turns off address-space randomisation for the child.

    nvcompress 2.0.8's default BC1 encoder writes different blocks on every run (about 2 % of
    blocks, +-0.15 dB at one mip level) unless its memory addresses are the same each time: its
    output depends on them. `setarch -R` (util-linux) fixes them, which makes BC1 rows
    reproducible. Without setarch the rows are still valid measurements, just not repeatable."""
    exe = shutil.which("setarch")
    return [exe, platform.machine(), "-R"] if exe else []


def dds_payload(dds: bytes, height: int, width: int, codec: Codec) -> bytes:
    """The first surface of a legacy (or DX10) DDS file, checked against the expected size."""
    if len(dds) < 128 or dds[:4] != b"DDS ":
        raise TexgsError("nvcompress wrote something that is not a DDS file")
    h, w = struct.unpack_from("<II", dds, 12)
    fourcc = dds[84:88]
    start = 148 if fourcc == b"DX10" else 128
    if (h, w) != (height, width):
        raise TexgsError(f"nvcompress wrote a {w}x{h} DDS for a {width}x{height} image")
    n = codec.payload_bytes(height, width)
    if len(dds) < start + n:
        raise TexgsError(f"nvcompress DDS is truncated ({len(dds)} bytes)")
    return dds[start : start + n]


def _encode_astcenc(codec: Codec, rgb: np.ndarray, threads: int) -> bytes:
    exe = tools.find_executable("astcenc")
    h, w = rgb.shape[:2]
    bw, bh = codec.block
    with tempfile.TemporaryDirectory(prefix="texgs-astc-") as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.astc"
        write_png(src, rgb)
        cmd = [
            exe,
            "-cl",
            str(src),
            str(dst),
            f"{bw}x{bh}",
            codec.options.get("preset", "-thorough"),
            "-silent",
            "-j",
            str(max(1, threads)),
        ]
        _run(cmd, f"astcenc {bw}x{bh}")
        data = dst.read_bytes()
    if len(data) < 16 or struct.unpack_from("<I", data, 0)[0] != 0x5CA1AB13:
        raise TexgsError("astcenc wrote something that is not an .astc file")
    fw, fh = data[7] | data[8] << 8 | data[9] << 16, data[10] | data[11] << 8 | data[12] << 16
    if (data[4], data[5], fw, fh) != (bw, bh, w, h):
        raise TexgsError(f"astcenc wrote a {data[4]}x{data[5]} block {fw}x{fh} file for {bw}x{bh} {w}x{h}")
    payload = data[16:]
    if len(payload) != codec.payload_bytes(h, w):
        raise TexgsError(f"astcenc payload is {len(payload)} bytes, expected {codec.payload_bytes(h, w)}")
    return payload
