"""Transcoding on load: a baked .texgs material -> the block-compressed textures
engines stream (BC7, BC1, BC4, BC5 or RGBA8, with mips), in DDS or KTX2 files.

The work is done by the shipped compute kernel (engine_shaders/texgs_transcode.*)
on the Vulkan device (texgs.vulkan): it samples the material with texgs_sample_point /
texgs_sample_level and encodes each 4x4 block on the GPU. See docs/transcode.md.

- ``transcode(data, ...)`` -> [Texture]: the payloads, one texture per slot;
- ``encode_files(textures, container)`` -> {file name: bytes}, a manifest included;
- ``write(out_dir, files)``: all files or none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import __version__
from ..bake.atomic import OutputError, prepare_dir, write_bytes_atomic
from ..format import unpack
from . import containers
from .formats import FORMATS, TextureFormat, mip_sizes
from .packing import DEFAULT_FORMAT, Slot, parse_formats, slots
from .runner import Texture, run

CONTAINERS = ("dds", "ktx2")
MANIFEST = "textures.json"

__all__ = [
    "CONTAINERS",
    "DEFAULT_FORMAT",
    "FORMATS",
    "MANIFEST",
    "Slot",
    "Texture",
    "TextureFormat",
    "encode_files",
    "mip_sizes",
    "parse_formats",
    "slots",
    "transcode",
    "write",
]


def transcode(
    data: bytes, formats: dict[str, str] | None = None, mips: bool = False, lang: str = "glsl", name: str = "<bytes>"
) -> list[Texture]:
    """Textures of the packed material `data`: formats as packing.slots takes them,
    the full mip chain when `mips`, the kernel compiled from GLSL or HLSL."""
    packed = unpack(data, name=name)
    return run(packed, slots(packed, formats, name), mips, lang)


def encode_files(textures: list[Texture], container: str, packed_channels=None) -> dict[str, bytes]:
    """{file name: bytes}: one <slot>.dds / .ktx2 per texture, and textures.json saying
    which material channel each component holds (packed_channels: the file's
    Channel list, for names, colour spaces and ranges)."""
    files: dict[str, bytes] = {}
    entries = []
    for t in textures:
        s = t.slot
        fname = f"{s.name}.{container}"
        if container == "dds":
            files[fname] = containers.dds(s.fmt, s.srgb, t.width, t.height, t.levels, s.opaque)
        else:
            files[fname] = containers.ktx2(s.fmt, s.srgb, t.width, t.height, t.levels, f"texgs {__version__}")
        comps = {}
        for comp, c in zip("RGBA", s.channels):
            if c is None:
                continue
            d = packed_channels[c] if packed_channels else None
            comps[comp] = {"channel": c, **({"name": d.name, "range": list(d.range)} if d else {})}
        entries.append(
            {
                "file": fname,
                "slot": s.name,
                "format": s.fmt.name,
                "srgb": s.srgb,
                "width": t.width,
                "height": t.height,
                "levels": len(t.levels),
                "components": comps,
            }
        )
    files[MANIFEST] = (json.dumps({"textures": entries}, indent=2) + "\n").encode()
    return files


def write(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file into out_dir (created if missing), each atomically; on a failure
    the files this call wrote are removed again (and out_dir, if this call made it),
    and OutputError names the path and the cause."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    prepare_dir(out_dir)
    done: list[Path] = []
    try:
        for fname, data in files.items():
            path = out_dir / fname
            write_bytes_atomic(path, data)
            done.append(path)
    except OutputError:
        for p in done:
            p.unlink(missing_ok=True)
        if created:
            try:
                os.rmdir(out_dir)
            except OSError:
                pass
        raise
    return done
