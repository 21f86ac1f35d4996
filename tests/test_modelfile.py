import json

import numpy as np
import pytest

from manypose import modelfile
from manypose.modelfile import ModelFileError


def small_model(tmp_path, dtype="float16"):
    weights = {"a.weight": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
               "b.count": np.arange(3, dtype=np.int64)}
    folder = modelfile.save(tmp_path / "m", {"name": "m", "architecture": {"family": "x"},
                                             "skeleton": "coco17"}, weights, dtype=dtype)
    return folder, weights


def test_round_trip_keeps_weights_and_description(tmp_path):
    folder, weights = small_model(tmp_path, dtype="float32")
    loaded = modelfile.read_model_folder(folder)
    assert loaded.name == "m" and loaded.architecture == {"family": "x"}
    assert np.array_equal(loaded.weights["a.weight"], weights["a.weight"])
    assert loaded.weights["b.count"].dtype == np.int64
    assert loaded.skeleton.name == "coco17"
    assert modelfile.read_model_folder(folder / "model.json").name == "m"


def test_float16_storage_is_close_and_loads_as_float32(tmp_path):
    folder, weights = small_model(tmp_path)
    loaded = modelfile.read_model_folder(folder)
    assert loaded.weights["a.weight"].dtype == np.float32
    assert np.allclose(loaded.weights["a.weight"], weights["a.weight"], atol=1e-3)


def test_damaged_weights_fail_the_checksum(tmp_path):
    folder, _ = small_model(tmp_path)
    data = bytearray((folder / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        modelfile.read_model_folder(folder).weights


def test_missing_parts_and_foreign_json(tmp_path):
    with pytest.raises(ModelFileError, match="not a manypose model folder"):
        modelfile.read_model_folder(tmp_path)
    folder, _ = small_model(tmp_path)
    (folder / "weights.safetensors").unlink()
    with pytest.raises(ModelFileError, match="missing"):
        modelfile.read_model_folder(folder).weights
    (folder / "model.json").write_text("{ not json")
    with pytest.raises(ModelFileError, match="unreadable"):
        modelfile.read_model_folder(folder)
    (folder / "model.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="not a manypose-model"):
        modelfile.read_model_folder(folder)


def test_newer_format_asks_for_an_upgrade(tmp_path):
    folder, _ = small_model(tmp_path)
    description = json.loads((folder / "model.json").read_text())
    description["format_version"] = 99
    (folder / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match="upgrade"):
        modelfile.read_model_folder(folder)
