"""A shared, content-addressed build cache (`texgs bake --cache DIR`).

An entry holds one material's output files, addressed by its build key (inputs,
settings, backend, texgs and format version) together with what names and
selects its files (the material's key and name, the output options), so a hit
reproduces the material's output folder exactly. Any run or shard, on any
machine that mounts DIR, can fill or use it.

Concurrency: an entry is written in full under DIR/tmp/ (its checksum file
last) and published with one rename onto DIR/<aa>/<address>. rename(2) is
atomic on a local filesystem and on NFS, so a reader sees no entry or a
complete one; when two writers race, the first rename wins and the second one
discards its copy (same key, same bytes). No lock is needed.

Integrity: ENTRY_NAME lists the sha256 and size of every file. A reader checks
every file against it before using any of it; an entry that does not match
(truncated, bit-flipped, half-deleted) is a miss: it is moved out of the way
and the material is rebuilt and stored again. A damaged entry is never shipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

from .atomic import OutputError, os_error

ENTRY_NAME = ".texgs-entry.json"
FORMAT = 1
STALE_SECONDS = 24 * 3600  # a temporary entry this old belongs to a writer that was killed


def address(build_key: str, material_key: str, name: str, outputs: dict) -> str:
    h = hashlib.sha256(f"texgs-cache {FORMAT}\n{build_key}\n{material_key}\n{name}\n".encode())
    h.update(json.dumps(outputs, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


class BuildCache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.writable = True
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if not self.root.is_dir():
                raise OutputError(os_error(self.root, e, "cannot create the build cache")) from None
            self.writable = False  # a read-only cache (a published one, say) is still read
            return
        self._drop_stale()

    def _drop_stale(self) -> None:
        cutoff = time.time() - STALE_SECONDS
        try:
            for p in (self.root / "tmp").iterdir():
                if p.lstat().st_mtime < cutoff:
                    shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass

    def _entry(self, addr: str) -> Path:
        return self.root / addr[:2] / addr

    def get(self, addr: str) -> dict[str, bytes] | None:
        """The entry's files (relative path -> bytes), each checked against its
        checksum; None on a miss or a damaged entry (which is then removed)."""
        entry = self._entry(addr)
        try:
            index = json.loads((entry / ENTRY_NAME).read_text(encoding="utf-8"))
        except FileNotFoundError:
            if entry.is_dir():  # a directory without its checksum file is damaged
                self._discard(entry)
            return None
        except (OSError, ValueError):
            self._discard(entry)
            return None
        files = {}
        try:
            for rel, meta in sorted(index["files"].items()):
                data = (entry / rel).read_bytes()
                if len(data) != meta["bytes"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
                    raise ValueError(rel)
                files[rel] = data
        except (OSError, ValueError, KeyError, TypeError):
            self._discard(entry)
            return None
        return files

    def put(self, addr: str, files: dict[str, bytes]) -> bool:
        """Store an entry unless one is there already. False when another writer won
        the race or the cache could not be written (a cache is an optimisation: a
        failure to store never fails the bake)."""
        entry = self._entry(addr)
        if not self.writable or entry.is_dir():
            return False
        tmp = self.root / "tmp" / f"{addr}.{uuid.uuid4().hex}"
        try:
            tmp.mkdir(parents=True)
            index = {"format": FORMAT, "files": {}}
            for rel, data in sorted(files.items()):
                p = tmp / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                _write_synced(p, data)
                index["files"][rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            _write_synced(tmp / ENTRY_NAME, json.dumps(index, indent=1, sort_keys=True).encode())
            entry.parent.mkdir(exist_ok=True)
            os.rename(tmp, entry)  # fails if an entry appeared meanwhile: the other writer won
            return True
        except OSError:
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _discard(self, entry: Path) -> None:
        """Move a damaged entry aside (one rename, so a concurrent reader sees it
        whole or not at all) and delete it."""
        aside = self.root / "tmp" / f"damaged.{entry.name}.{uuid.uuid4().hex}"
        try:
            os.rename(entry, aside)
        except OSError:
            return
        shutil.rmtree(aside, ignore_errors=True)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
