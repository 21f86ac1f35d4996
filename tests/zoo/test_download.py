"""Fetching one file from a local server: checked, resumed, refused when it is not the one
published, and never a half file under the final name."""
import hashlib

import pytest

from manypose.zoo.download import ChecksumMismatch, DownloadError, fetch_file, file_sha256

from file_server import FileServer

PAYLOAD = bytes(range(256)) * 40_000  # 10 MB: several reads, a progress bar


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv("MANYPOSE_OFFLINE")


@pytest.fixture
def server():
    with FileServer({"model.pt": PAYLOAD}) as running:
        yield running


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_good_file_lands_whole_under_its_name(server, tmp_path):
    target = tmp_path / "cache" / "model.pt"
    assert fetch_file(f"{server.url}/model.pt", target, digest(PAYLOAD), progress=False) == target
    assert target.read_bytes() == PAYLOAD and file_sha256(target) == digest(PAYLOAD)
    assert [p.name for p in target.parent.iterdir()] == ["model.pt"]


def test_a_wrong_digest_is_refused_and_nothing_is_left(server, tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(ChecksumMismatch, match=f"sha256 {digest(PAYLOAD)} is not the published 00"):
        fetch_file(f"{server.url}/model.pt", target, "00" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_published_prefix_is_checked_too(server, tmp_path):
    fetch_file(f"{server.url}/model.pt", tmp_path / "a.pt", sha256_prefix=digest(PAYLOAD)[:8], progress=False)
    with pytest.raises(ChecksumMismatch):
        fetch_file(f"{server.url}/model.pt", tmp_path / "b.pt", sha256_prefix="deadbeef", progress=False)


def test_a_cut_connection_keeps_what_arrived_and_the_next_try_resumes(server, tmp_path):
    target = tmp_path / "model.pt"
    server.cut_after["model.pt"] = 3_000_000
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch_file(f"{server.url}/model.pt", target, digest(PAYLOAD), progress=False)
    assert not target.exists() and (tmp_path / "model.pt.part").stat().st_size == 3_000_000
    fetch_file(f"{server.url}/model.pt", target, digest(PAYLOAD), progress=False)
    assert target.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("model.pt", "bytes=3000000-")


def test_a_whole_partial_file_is_checked_without_fetching_again(server, tmp_path):
    (tmp_path / "model.pt.part").write_bytes(PAYLOAD)
    fetch_file(f"{server.url}/model.pt", tmp_path / "model.pt", digest(PAYLOAD), progress=False)
    assert (tmp_path / "model.pt").read_bytes() == PAYLOAD


def test_a_stale_partial_file_is_refused_and_removed(server, tmp_path):
    (tmp_path / "model.pt.part").write_bytes(b"something else entirely")
    with pytest.raises(ChecksumMismatch):
        fetch_file(f"{server.url}/model.pt", tmp_path / "model.pt", digest(PAYLOAD), progress=False)
    assert list(tmp_path.iterdir()) == []
    fetch_file(f"{server.url}/model.pt", tmp_path / "model.pt", digest(PAYLOAD), progress=False)


def test_a_missing_file_names_the_address_and_the_status(server, tmp_path):
    with pytest.raises(DownloadError, match=r"/nothing.pt: HTTP 404"):
        fetch_file(f"{server.url}/nothing.pt", tmp_path / "nothing.pt", "00" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_never_connects(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MANYPOSE_OFFLINE", "1")
    with pytest.raises(DownloadError, match="MANYPOSE_OFFLINE is set"):
        fetch_file(f"{server.url}/model.pt", tmp_path / "model.pt", digest(PAYLOAD), progress=False)
    assert server.requests == []
