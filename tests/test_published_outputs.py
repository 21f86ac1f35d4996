"""How every output is published (manypose.atomic_files): the mode a new or replaced file gets,
symlinks kept with their targets replaced, FIFOs and other non-regular files written through or
refused, never replaced, and no temporary file left behind, on success or failure."""
from __future__ import annotations

import errno
import json
import os
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from manypose import atomic_files
from manypose.atomic_files import (GrowingFile, atomic_write_bytes, atomic_write_text, check_writable,
                                   check_writable_folder)
from manypose.video.writers import JsonLinesWriter

UMASKS = [0o022, 0o077, 0o002]


def write_json_lines(path, text):
    writer = JsonLinesWriter(path)
    writer.write({"text": text})
    writer.close()


def write_growing_file(path, text):
    grown = GrowingFile(path, "the test output")
    with open(grown.path, "w") as f:
        f.write(text)
    grown.publish()


# every way an output is published: (write path and text, the text read back from a file)
WRITERS = {
    "atomic_write_bytes": (lambda path, text: atomic_write_bytes(path, text.encode()), lambda data: data.decode()),
    "atomic_write_text": (atomic_write_text, lambda data: data.decode()),
    "growing_file": (write_growing_file, lambda data: data.decode()),
    "json_lines": (write_json_lines, lambda data: json.loads(data)["text"]),
}


@pytest.fixture(params=UMASKS, ids=oct)
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.fixture(params=sorted(WRITERS))
def writer(request):
    return WRITERS[request.param]


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_open_mode(folder) -> int:
    """The mode open() gives a new file here now (the umask applied by the system, not by us)."""
    folder.mkdir(exist_ok=True)
    reference = folder / "reference"
    with open(reference, "w"):
        pass
    mode = stat.S_IMODE(reference.stat().st_mode)
    reference.unlink()
    return mode


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def finishes(function, *args, timeout: float = 5.0):
    """function(*args) on a thread: the test fails, rather than hangs, if it blocks (a FIFO)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = function(*args)
        except BaseException as error:  # raised again on the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still blocked after {timeout} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def test_a_new_output_gets_the_mode_plain_open_gives(tmp_path, umask, writer):
    write, read_back = writer
    (tmp_path / "out").mkdir()
    finishes(write, tmp_path / "out" / "new.json", "fresh")
    assert mode_of(tmp_path / "out" / "new.json") == plain_open_mode(tmp_path / "reference")
    assert read_back((tmp_path / "out" / "new.json").read_bytes()) == "fresh"
    assert names(tmp_path / "out") == ["new.json"]  # no temporary left
    assert current_umask() == umask  # reading the umask puts it back


@pytest.mark.parametrize("old_mode", [0o600, 0o644], ids=oct)
def test_a_replaced_output_gets_the_usual_mode_not_its_old_one(tmp_path, umask, writer, old_mode):
    # publish() documents "the usual file mode": that of a new file, whatever the old one had
    write, read_back = writer
    target = tmp_path / "out" / "old.json"
    target.parent.mkdir()
    target.write_text("the previous run")
    os.chmod(target, old_mode)
    finishes(write, target, "fresh")
    assert mode_of(target) == plain_open_mode(tmp_path / "reference")
    assert read_back(target.read_bytes()) == "fresh" and names(target.parent) == ["old.json"]


@pytest.mark.parametrize("link_kind", ["relative", "absolute", "chain", "dangling"])
def test_a_symlinked_output_stays_a_link_and_its_target_gets_the_bytes(tmp_path, umask, writer, link_kind):
    write, read_back = writer
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    target = data / "target.json"
    if link_kind != "dangling":
        target.write_text("the previous run")
        os.chmod(target, 0o600)
    pointing = {"relative": "../data/target.json", "absolute": str(target), "chain": "middle.json",
                "dangling": "../data/target.json"}[link_kind]
    if link_kind == "chain":
        (out / "middle.json").symlink_to("../data/target.json")
    link = out / "link.json"
    link.symlink_to(pointing)
    links_before = names(out)
    finishes(write, link, "fresh")
    assert link.is_symlink() and os.readlink(link) == pointing and names(out) == links_before
    assert read_back(target.read_bytes()) == "fresh"
    assert mode_of(target) == plain_open_mode(tmp_path / "reference")
    assert names(data) == ["target.json"]  # the temporary was next to the target, and is gone


def test_the_temporary_of_a_symlinked_output_is_made_beside_the_target(tmp_path, writer, monkeypatch):
    # on the target's file system, where a rename is atomic, not beside the link
    write, _ = writer
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link.json").symlink_to("../data/target.json")
    renames, real_replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda source, destination: renames.append(
        (os.path.dirname(source), os.path.dirname(destination))) or real_replace(source, destination))
    finishes(write, tmp_path / "out" / "link.json", "fresh")
    assert renames == [(str(tmp_path / "data"), str(tmp_path / "data"))]


@pytest.fixture
def fifo(tmp_path):
    """A FIFO in a folder of its own, with a reader already waiting (a non-blocking end)."""
    (tmp_path / "pipes").mkdir()
    path = tmp_path / "pipes" / "out.fifo"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    yield path, reader
    os.close(reader)


def read_available(reader) -> bytes:
    try:
        return os.read(reader, 1 << 16)
    except BlockingIOError:  # a writer opened it but wrote nothing
        return b""


@pytest.mark.parametrize("through_a_link", [False, True])
def test_a_fifo_output_is_written_through_and_stays_a_fifo(tmp_path, fifo, writer, through_a_link):
    write, read_back = writer
    path, reader = fifo
    if through_a_link:
        (tmp_path / "pipes" / "link").symlink_to(path.name)
    finishes(write, tmp_path / "pipes" / "link" if through_a_link else path, "streamed")
    assert read_back(read_available(reader)) == "streamed"
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert names(path.parent) == (["link", "out.fifo"] if through_a_link else ["out.fifo"])  # no temporary made


def test_an_empty_run_into_a_fifo_leaves_the_fifo(fifo):
    # a writer closed without lines discards its output: for a FIFO there is nothing to discard
    path, reader = fifo
    finishes(JsonLinesWriter(path).close)
    grown = GrowingFile(path, "the test output")
    assert grown.path == path
    finishes(grown.discard)
    assert stat.S_ISFIFO(os.lstat(path).st_mode) and names(path.parent) == ["out.fifo"]


def test_a_socket_output_is_refused_and_left_as_it_is(tmp_path, monkeypatch):
    # written through like a FIFO, a socket cannot be opened as a file: an error, not a replacement
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    server = socket.socket(socket.AF_UNIX)
    server.bind("out.sock")
    try:
        with pytest.raises(OSError):
            finishes(atomic_write_bytes, "out.sock", b"data")
        assert stat.S_ISSOCK(os.lstat("out.sock").st_mode) and names(tmp_path) == ["out.sock"]
    finally:
        server.close()


def test_a_folder_as_output_is_refused_and_left_empty(tmp_path, writer):
    write, _ = writer
    (tmp_path / "out.json").mkdir()
    with pytest.raises(OSError, match="is a directory;"):
        finishes(write, tmp_path / "out.json", "data")
    assert names(tmp_path) == ["out.json"] and names(tmp_path / "out.json") == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, failing):
    # a full disk at the last moment: the error names the user's file, the old file is whole
    target = tmp_path / "out.json"
    target.write_text("the previous run")

    def full_disk(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, full_disk)
    with pytest.raises(OSError) as error:
        atomic_write_bytes(target, b"fresh")
    assert str(error.value).startswith(f"{target}: cannot write") and os.strerror(errno.ENOSPC) in str(error.value)
    assert names(tmp_path) == ["out.json"] and target.read_text() == "the previous run"


def test_a_write_that_raises_leaves_no_temporary(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "out.json", "text, not bytes")
    assert names(tmp_path) == []


def recorded_syncs_and_renames(monkeypatch) -> list:
    """(fsync, inode, size) and (replace, inode of the source, None), in the order they happen."""
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.fstat(fd).st_ino, os.fstat(fd).st_size))
        real_fsync(fd)

    def replace(source, destination):
        events.append(("replace", os.stat(source).st_ino, None))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def test_the_data_is_flushed_and_synced_before_it_is_published(tmp_path, monkeypatch):
    # what a crash right after the rename would find on disk must be the whole file
    events = recorded_syncs_and_renames(monkeypatch)
    atomic_write_bytes(tmp_path / "out.bin", b"x" * 1000)  # less than Python's buffer holds unflushed
    published = (tmp_path / "out.bin").stat().st_ino
    assert events == [("fsync", published, 1000), ("replace", published, None)]


def test_a_long_run_is_synced_before_it_appears(tmp_path, monkeypatch):
    # videos and JSON Lines logs publish the same way: a crash leaves the whole run or none
    grown = GrowingFile(tmp_path / "log.jsonl", "the test output")
    grown.path.write_text("a whole run\n")
    events = recorded_syncs_and_renames(monkeypatch)
    grown.publish()
    published = (tmp_path / "log.jsonl").stat().st_ino
    assert events == [("fsync", published, 12), ("replace", published, None)]


def test_a_growing_file_appears_only_when_published_and_a_discarded_one_leaves_nothing(tmp_path):
    grown = GrowingFile(tmp_path / "log.jsonl", "the test output")
    grown.path.write_text("half a run\n")
    assert grown.path.name.startswith(".") and grown.path.suffix == ".jsonl"  # hidden, same suffix
    assert not (tmp_path / "log.jsonl").exists()
    grown.discard()
    assert names(tmp_path) == []
    finished = GrowingFile(tmp_path / "log.jsonl", "the test output")
    finished.path.write_text("a whole run\n")
    finished.publish()
    assert names(tmp_path) == ["log.jsonl"] and (tmp_path / "log.jsonl").read_text() == "a whole run\n"


def test_publish_gives_the_usual_mode_to_any_temporary(tmp_path, umask):
    # export's ONNX files are published by publish() alone, from mkstemp's private 0600
    with atomic_files.temporary_sibling(tmp_path / "model.onnx") as tmp:
        assert mode_of(tmp) == 0o600
        tmp.write_bytes(b"onnx")
        atomic_files.publish(tmp, tmp_path / "model.onnx")
    assert mode_of(tmp_path / "model.onnx") == plain_open_mode(tmp_path / "reference")
    assert names(tmp_path) == ["model.onnx", "reference"]


def test_dash_writes_to_standard_output(capfdbinary):
    atomic_write_bytes("-", b"poses\n")
    assert capfdbinary.readouterr().out == b"poses\n"


def test_outputs_in_missing_folders_are_written_with_their_folders(tmp_path):
    check_writable(tmp_path / "a" / "b" / "out.json", "the JSON output")  # nothing made yet
    atomic_write_text(tmp_path / "a" / "b" / "out.json", "{}")
    assert (tmp_path / "a" / "b" / "out.json").read_text() == "{}"


@pytest.mark.parametrize("mode", [0o644, 0o755], ids=["plain", "executable"])
def test_a_file_where_a_folder_should_be_is_refused_naming_the_output(tmp_path, mode):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    blocker.chmod(mode)
    for write, what in ((lambda: atomic_write_bytes(blocker / "out.json", b"x"), "the file"),
                        (lambda: GrowingFile(blocker / "run.jsonl", "the JSON Lines log"), "the JSON Lines log"),
                        (lambda: check_writable_folder(blocker / "drawn", "the drawn images"), "the drawn images")):
        with pytest.raises(OSError) as error:
            write()
        assert f"cannot write {what} there" in str(error.value)
    assert blocker.read_text() == "a file, not a folder"


def test_a_folder_the_user_may_not_write_is_refused(tmp_path, monkeypatch):
    # tests run as root here, so permission is denied through os.access, as for a normal user
    monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK)
    with pytest.raises(OSError, match="no permission"):
        check_writable(tmp_path / "out.json", "the JSON output")


def test_a_file_given_as_output_folder_is_refused(tmp_path):
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(OSError, match="is a file; the drawn images needs a folder"):
        check_writable_folder(tmp_path / "taken", "the drawn images")
    check_writable_folder(tmp_path / "new" / "folder", "the drawn images")


def test_a_failed_rename_says_why_in_words(tmp_path, monkeypatch):
    def refuse(source, destination):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError) as error:
        atomic_write_bytes(tmp_path / "out.json", b"x")
    assert str(error.value) == f"{tmp_path / 'out.json'}: cannot write (Permission denied)"


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm here")
def test_a_link_into_dev_is_written_in_place_not_replaced(tmp_path):
    # /dev/stdout, /proc/self/fd/N and their like are files the shell holds open: never replaced
    descriptor, name = tempfile.mkstemp(dir="/dev/shm")
    os.close(descriptor)
    target = Path(name)
    try:
        (tmp_path / "link").symlink_to(target)
        inode = target.stat().st_ino
        atomic_write_bytes(tmp_path / "link", b"through")
        assert target.read_bytes() == b"through" and target.stat().st_ino == inode
    finally:
        target.unlink()


def test_discarding_a_run_whose_file_is_already_gone_is_quiet(tmp_path):
    grown = GrowingFile(tmp_path / "video.mp4", "the video")
    grown.path.write_bytes(b"frames")
    grown.path.unlink()
    grown.discard()
    assert names(tmp_path) == []
