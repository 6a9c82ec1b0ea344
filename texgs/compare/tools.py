"""Finding the external encoders, their versions, and what to say when one is missing.

Every row of a comparison names the encoder (and version) that produced it, so
the lookup lives here, in one place. A missing tool is not fatal for
`texgs compare`: the methods that need it are skipped with `MissingTool`'s
message and the others still run.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

from ..errors import TexgsError

#: tool -> how to install it (Debian package or PyPI package).
INSTALL_HINTS = {
    "nvcompress": "apt-get install libnvtt-bin astcenc",
    "astcenc": "apt-get install libnvtt-bin astcenc",
    "etcpak": "pip install etcpak",
    "texture2ddecoder": "pip install texture2ddecoder",
    "imagecodecs": "pip install imagecodecs",  # AVIF, JPEG XL, WebP references
}

#: Said in every report: the paper's encoders for BC7/ASTC are not reachable here.
NVTT3_NOTE = (
    "NVIDIA Texture Tools 3 (the paper's BC7/ASTC encoder) is a proprietary download and is "
    "not available here: BC1 comes from NVIDIA Texture Tools 2 (nvcompress), BC7 from bc7enc "
    "(PyPI etcpak) and ASTC from ARM astcenc."
)


class MissingTool(TexgsError):
    """An external encoder or decoder is not installed."""

    def __init__(self, tool: str, detail: str = ""):
        self.tool = tool
        hint = INSTALL_HINTS.get(tool, "")
        msg = f"{tool} not found" + (f" ({detail})" if detail else "")
        if hint:
            msg += f"; install it with: {hint}"
        super().__init__(msg)


def _first_line_match(cmd: list[str], pattern: str) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else None


def find_executable(name: str) -> str:
    """Absolute path of a command-line tool on PATH, or raise MissingTool."""
    path = shutil.which(name)
    if path is None:
        raise MissingTool(name, "not on PATH")
    return path


@functools.cache
def _cached_version(name: str, path: str) -> str:
    if name == "nvcompress":
        # The banner says only "2.0"; the Debian package knows the patch level.
        v = _first_line_match(["dpkg-query", "-W", "-f=${Version}", "libnvtt-bin"], r"^(\S+)")
        return (
            f"NVIDIA Texture Tools {v}"
            if v
            else "NVIDIA Texture Tools " + (_first_line_match([path], r"Texture Tools (\S+)") or "2 (version unknown)")
        )
    if name == "astcenc":
        v = _first_line_match([path, "-help"], r"astcenc v([0-9][0-9.]*[0-9])")
        return f"ARM astcenc {v or '(version unknown)'}"
    return name


def tool_version(name: str) -> str:
    """'<encoder> <version>' for a command-line tool; raises MissingTool when absent."""
    return _cached_version(name, find_executable(name))


def python_module(name: str):
    """Import a Python encoder/decoder module, or raise MissingTool."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise MissingTool(name, f"Python module not importable: {e}") from None


def python_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "(version unknown)"
