"""Crash-safe output: whole-directory atomic replacement and an output-folder lock.

A material's outputs are written into a temporary sibling directory and moved
into place with one rename, so a reader (or the next run after a kill) sees
either the complete old outputs or the complete new ones, never a mix.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError, TexgsError

TMP_PREFIX = ".texgs-tmp-"
OLD_PREFIX = ".texgs-old-"
LOCK_NAME = ".texgs-bake.lock"


class LockedError(TexgsError):
    """Another bake holds the output folder."""


def os_error(path: Path, e: OSError, what: str = "cannot write") -> str:
    """One line naming the path and the cause, e.g. 'out: cannot write: No space
    left on device (ENOSPC)'."""
    name = errno.errorcode.get(e.errno, "") if e.errno else ""
    cause = e.strerror or str(e)
    where = e.filename if e.filename and str(e.filename).startswith(str(path)) else path
    return f"{where}: {what}: {cause}" + (f" ({name})" if name else "")


def prepare_dir(path: Path, what: str = "output folder") -> None:
    """Create `path` (and its parents) as a folder, or raise OutputError saying why not."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: the {what} is not a directory (ENOTDIR)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(os_error(path, e, f"cannot create the {what}")) from None


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a single file atomically (temporary file in the same folder, fsync,
    rename); on failure nothing is left and OutputError names the path and cause."""
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise OutputError(os_error(path, e)) from None


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write relative path -> bytes under `folder` (a fresh staging folder)."""
    for rel, data in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def new_staging_dir(out_root: Path, name: str) -> Path:
    d = out_root / f"{TMP_PREFIX}{os.getpid()}-{name}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def commit_dir(staging: Path, final: Path) -> None:
    """Replace `final` by `staging` (same parent folder). Two renames: the old copy
    is moved aside first; if we die in between, `clean_stale` restores it."""
    old = final.with_name(f"{OLD_PREFIX}{os.getpid()}-{final.name}")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(final.parent)


def clean_stale(out_root: Path) -> None:
    """Remove leftovers of an interrupted run: staging dirs are dropped; an old
    copy whose replacement never landed is put back."""
    if not out_root.is_dir():
        return
    for p in out_root.iterdir():
        if p.name.startswith(TMP_PREFIX):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        elif p.name.startswith(OLD_PREFIX):
            name = p.name[len(OLD_PREFIX) :].split("-", 1)[1]
            final = p.with_name(name)
            if final.exists():
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.replace(p, final)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def output_lock(out_root: Path):
    """Hold an exclusive lock on the output folder for the duration of a bake.

    The lock is an fcntl lock on a file: the kernel drops it when the process
    dies, so a killed bake never leaves a stale lock behind.
    """
    prepare_dir(out_root)
    path = out_root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OutputError(os_error(out_root, e, "cannot write the output folder")) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockedError(
                f"{out_root}: another texgs bake (pid {holder}) is writing to this output folder; "
                "wait for it to finish or choose another -o"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as e:
            raise OutputError(os_error(out_root, e, "cannot write the output folder")) from None
        yield
    finally:
        os.close(fd)
