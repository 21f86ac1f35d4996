"""A damaged model folder is the user's input to fix, not a bug of ours: each kind of damage
to each of its files ends as one line naming the file and what is wrong, exit 2, never as
'unexpected ... please report it'."""
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from manypose.cli import main
from manypose.zoo import DEMO_IMAGE, find_model


@pytest.fixture
def model(tmp_path) -> Path:
    """A copy of the bundled model folder, to damage."""
    return Path(shutil.copytree(find_model().folder, tmp_path / "model"))


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def unreadable(path: Path) -> None:
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("this user reads files whatever their mode (root)")


def resealed(path: Path) -> None:
    """Weights damaged after their checksum was taken anew: the checksum passes, the file does not."""
    truncated(path)
    description = json.loads((path.parent / "model.json").read_text())
    description["weights"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / "model.json").write_text(json.dumps(description))


def without_weights_or_onnx(folder: Path) -> None:
    (folder / "weights.safetensors").unlink()
    (folder / "model.onnx").unlink()


def refused_in_one_line(model: Path, capsys, options=()) -> str:
    code = main(["predict", str(DEMO_IMAGE), "--model", str(model), "--quiet", *options])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("manypose predict: error: ") and "please report" not in lines[-1]
    return lines[-1]


@pytest.mark.parametrize("damage", [truncated, garbage, unreadable])
def test_a_damaged_onnx_file(model, capsys, damage):
    damage(model / "model.onnx")
    assert f"{model / 'model.onnx'}: unreadable ONNX model (" in refused_in_one_line(model, capsys)


def test_a_damaged_onnx_file_to_quantize(model, capsys):
    truncated(model / "model.onnx")
    (model / "model-int8.onnx").unlink()
    assert f"{model / 'model.onnx'}: unreadable ONNX model (" in refused_in_one_line(model, capsys, ["--int8"])


@pytest.mark.parametrize("damage, message", [
    (truncated, "checksum mismatch, the weights file is damaged"),
    (garbage, "checksum mismatch, the weights file is damaged"),
    (resealed, "unreadable weights (Error while deserializing header"),
    (unreadable, "unreadable weights (Permission denied"),
])
def test_damaged_weights(model, capsys, damage, message):
    pytest.importorskip("torch")  # the torch backend reads the weights; ONNX Runtime needs none
    damage(model / "weights.safetensors")
    assert f"{model / 'weights.safetensors'}: {message}" in refused_in_one_line(model, capsys, ["--backend", "torch"])


@pytest.mark.parametrize("damage, message", [
    (truncated, "unreadable model description (Unterminated string"),
    (garbage, "unreadable model description ("),
    (unreadable, "unreadable model description (Permission denied"),
])
def test_a_damaged_description(model, capsys, damage, message):
    damage(model / "model.json")
    assert f"{model / 'model.json'}: {message}" in refused_in_one_line(model, capsys)


@pytest.mark.parametrize("remove, message", [
    (lambda folder: (folder / "model.json").unlink(), "model: not a manypose model folder (no model.json)"),
    (without_weights_or_onnx, "weights.safetensors: weights file is missing"),
])
def test_a_missing_file(model, capsys, remove, message):
    remove(model)
    assert message in refused_in_one_line(model, capsys)
