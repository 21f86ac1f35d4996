"""File output that never loses data: a crash or a full disk never leaves a half-written file
behind. A symlink stays a symlink (its target is replaced by the new file); what is not a
regular file (a FIFO, a device, `-` for stdout) is written through rather than replaced."""
from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

STDOUT = "-"
SPECIAL_FOLDERS = ("/dev/", "/proc/")


def atomic_write_bytes(path, data: bytes) -> None:
    if str(path) == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(path)
    if _written_through(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    target = Path(os.path.realpath(path))  # a symlink stays, its target is replaced
    check_writable(target, "the file")
    try:
        with temporary_sibling(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
            publish(tmp, target)
    except OSError as error:  # name the user's path, not the temporary file
        raise OSError(f"{path}: cannot write ({error.strerror or error})") from None


def _written_through(path: Path) -> bool:
    """FIFOs, devices and sockets, and /dev/stdout and the like even when they lead to a
    regular file (the shell holds it open): there is no file to replace."""
    if str(path).startswith(SPECIAL_FOLDERS) or os.path.realpath(path).startswith(SPECIAL_FOLDERS):
        return True
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_writable(path, what: str) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder, or a file in a
    folder that is missing and cannot be made, or is not writable."""
    if str(path) == STDOUT:
        return
    path = Path(path)
    if path.is_dir():
        raise OSError(f"{path}: is a directory; {what} needs a file name")
    if _written_through(path):
        return
    parent = Path(os.path.realpath(path)).parent
    _check_folder(parent, what)


def check_writable_folder(folder, what: str) -> None:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OSError(f"{folder}: is a file; {what} needs a folder")
    _check_folder(folder, what)


def _check_folder(folder: Path, what: str) -> None:
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OSError(f"{folder}: cannot write {what} there (no permission, or not a folder)")


@contextlib.contextmanager
def temporary_sibling(path: Path, suffix: str = ".tmp"):
    """A temporary path next to `path` (same file system, so `publish` is atomic), removed on
    exit unless it was published."""
    name = _new_sibling(path, suffix)
    try:
        yield name
    finally:
        name.unlink(missing_ok=True)


def _new_sibling(path: Path, suffix: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    return Path(name)


class GrowingFile:
    """A file written over a long run (a video, a JSON Lines log) that appears under its name
    only when closed, also after Ctrl-C, holding everything written until then. `path` is where
    to write meanwhile, made on first use: a hidden sibling with the same suffix (encoders choose
    the container from it), or the path itself where it is not a regular file (a FIFO, a device)."""

    def __init__(self, target, what: str):
        self.target = Path(target)
        check_writable(self.target, what)
        self.written_through = _written_through(self.target)
        self._path = self.target if self.written_through else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = _new_sibling(Path(os.path.realpath(self.target)), f".tmp{self.target.suffix}")
        return self._path

    def publish(self) -> None:
        if not self.written_through and self._path is not None:
            publish(self._path, os.path.realpath(self.target))

    def discard(self) -> None:
        if not self.written_through and self._path is not None:
            self._path.unlink(missing_ok=True)


def publish(tmp, path) -> None:
    """Move a finished temporary file into place with the usual file mode (mkstemp's is
    private), its data on disk first: after a crash the name holds the old file or the new one,
    never a part of it (long runs and exports publish through here too)."""
    _sync(tmp)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def _sync(path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
