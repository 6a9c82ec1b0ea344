"""Incremental builds: a material is rebuilt only when its inputs, the settings
that shape its bytes, the backend, the texgs version or the packed format's
version change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import __version__
from ..format import layout

MANIFEST_NAME = "manifest.json"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_digests(files: list[Path]) -> list[tuple[str, str]]:
    """(file name, sha256) of every input, in sorted path order."""
    return [(p.name, file_digest(p)) for p in sorted(Path(f) for f in files)]


def build_key(files: list[Path], settings: dict, backend: str, digests: list[tuple[str, str]] | None = None) -> str:
    """sha256 over (file name, content digest) of every input in sorted order, the
    settings as canonical JSON, the backend, the texgs version and the format version.
    `digests`: input_digests(files), when the caller has them already."""
    digests = input_digests(files) if digests is None else digests
    h = hashlib.sha256()
    h.update(f"texgs {__version__} format {layout.VERSION_MAJOR}.{layout.VERSION_MINOR}\n".encode())
    h.update(f"backend {backend}\n".encode())
    h.update(json.dumps(settings, sort_keys=True, separators=(",", ":")).encode())
    for name, digest in digests:
        h.update(f"\n{name} {digest}".encode())
    return h.hexdigest()


def up_to_date(material_dir: Path, key: str) -> dict | None:
    """The existing manifest when material_dir holds complete, intact outputs for
    `key`: every file the manifest lists is present with the digest it recorded
    (a manifest without digests, from an older texgs, is rebuilt)."""
    path = material_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("build_key") != key:
        return None
    files = manifest.get("files")
    digests = manifest.get("digests")
    if not isinstance(files, dict) or not isinstance(digests, dict):
        return None
    for rel in files.values():
        try:
            if digests.get(rel) != file_digest(material_dir / rel):
                return None
        except OSError:
            return None
    return manifest
