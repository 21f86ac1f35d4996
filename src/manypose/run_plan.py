"""What a run reads and what it writes, checked before any work: no output replaces an input.

An output is refused when it is an input, however spelled (`./a.jpg`, `d/../a.jpg`) or reached
(a symlink: writes follow it, see atomic_files, so its target would be replaced). A hard link to
an input is not refused: outputs are written to a temporary sibling and renamed over their name,
which replaces the link and leaves the input's own name and bytes whole. A folder written as a
whole (a model folder, a training run) is refused when it is or holds an input; a file written
into an input folder under a new name (a drawn image beside its photo) is fine.
"""
from __future__ import annotations

import os
import stat
from typing import Iterable, Iterator, Optional

from .atomic_files import STDOUT
from .data.images import expand_image_paths

Named = tuple  # (what it is, its path); a path of None is left out


class OverwritesInput(ValueError):
    """An output of a run would replace one of its inputs."""


def refuse_overwriting_inputs(inputs: Iterable[Named], files: Iterable[Named] = (),
                              folders: Iterable[Named] = ()) -> None:
    """Raise OverwritesInput, naming both, for an output file that would replace an input, or an
    output folder that is or holds one. `-` (stdout) replaces nothing."""
    read = _Inputs(inputs)
    for what, path in _given(files):
        found = read.replaced_by(path)
        if found:
            raise OverwritesInput(f"{path}: {what} would overwrite {found[0]} {found[1]}; choose another "
                                  "output (inputs are never written over)")
    for what, folder in _given(folders):
        found = read.replaced_by(folder) or read.inside(folder)
        if found:
            raise OverwritesInput(f"{folder}: {what} cannot be, or hold, {found[0]} {found[1]}; choose "
                                  "another folder (inputs are never written over)")


def image_folder_inputs(folder, what: str, each: str) -> list[Named]:
    """A folder of images and the images in it; none for None."""
    if folder is None:
        return []
    files, _ = expand_image_paths([folder])
    return [(what, folder)] + [(each, file) for file in files]


class _Inputs:
    """The inputs by real path, and by file identity for one file under two spellings that
    realpath does not unify (a bind mount, a case-insensitive file system)."""

    def __init__(self, named: Iterable[Named]):
        self.by_real_path: dict[str, Named] = {}
        self.by_identity: dict[tuple[int, int], Named] = {}
        for what, path in _given(named):
            self.by_real_path.setdefault(os.path.realpath(path), (what, path))
            identity = _identity(path)
            if identity:
                self.by_identity.setdefault(identity, (what, path))

    def replaced_by(self, output) -> Optional[Named]:
        """The input that writing `output` would replace."""
        found = self.by_real_path.get(os.path.realpath(output))
        identity = _identity(output, single_name=True)
        if found is None and identity:
            found = self.by_identity.get(identity)
        return found

    def inside(self, folder) -> Optional[Named]:
        """An input somewhere in `folder`."""
        prefix = os.path.join(os.path.realpath(folder), "")
        return next((named for path, named in self.by_real_path.items() if path.startswith(prefix)), None)


def _identity(path, single_name: bool = False) -> Optional[tuple[int, int]]:
    """(device, inode) of an existing path; with `single_name`, only for a file with no other
    hard link (a hard link is a name of its own, which an atomic write replaces alone)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if single_name and info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
        return None
    return info.st_dev, info.st_ino


def _given(named: Iterable[Named]) -> Iterator[Named]:
    return ((what, path) for what, path in named if path is not None and str(path) != STDOUT)
