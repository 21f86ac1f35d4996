import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from manypose import modelfile
from manypose.data.transforms import InputSpec
from manypose.modelfile import ModelFileError

from synthetic_weights import synthetic_state_dict


def small_model(tmp_path, dtype="float16"):
    weights = {"a.weight": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
               "b.count": np.arange(3, dtype=np.int64)}
    folder = modelfile.save(tmp_path / "m", {"name": "m", "architecture": {"family": "x"}, "skeleton": "coco17",
                                             "input": InputSpec().to_dict(), "heads": [{"kind": "pose_objects"}]},
                            weights, dtype=dtype)
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


FORMAT1 = Path(__file__).resolve().parent / "fixtures" / "format1"


def test_a_format1_yolo_folder_migrates_and_runs_as_the_bundled_model(tmp_path):
    """model.json as the previous release wrote it, beside the bundled weights."""
    import manypose
    from manypose.zoo import DEMO_IMAGE, find_model

    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(FORMAT1 / "yolo11n-pose.json", folder / "model.json")
    shutil.copy(find_model().folder / "weights.safetensors", folder)
    model = modelfile.read_model_folder(folder)
    assert model.description["format_version"] == modelfile.FORMAT_VERSION
    assert "keypoint_shape" not in model.architecture and "num_classes" not in model.architecture
    assert model.heads[0].keypoint_shape == (17, 3) and model.heads[0].strides == (8, 16, 32)
    old = manypose.load(folder, backend="torch")(DEMO_IMAGE)
    bundled = manypose.load(backend="torch")(DEMO_IMAGE)
    np.testing.assert_allclose(old.keypoints, bundled.keypoints, atol=1e-3)


def test_a_format1_openpose_folder_migrates_to_the_published_limbs(tmp_path):
    from manypose.heads.paf import OPENPOSE18_LIMBS
    from manypose.models import inference_network

    description = json.loads((FORMAT1 / "lightweight-openpose.json").read_text())
    assert description["heads"][0]["limbs"] == []  # format 1 meant the published limbs
    network_weights = _lightweight_openpose_weights()
    folder = modelfile.save(tmp_path / "new", {"name": "x"}, network_weights)
    description["weights"] = json.loads((folder / "model.json").read_text())["weights"]
    (folder / "model.json").write_text(json.dumps(description))
    model = modelfile.read_model_folder(folder)
    assert model.heads[0].limbs == OPENPOSE18_LIMBS and "heatmaps" not in model.architecture
    assert inference_network(model).initial_stage.pafs.output.out_channels == 38


def test_a_format1_head_that_contradicts_its_architecture_is_refused(tmp_path):
    description = json.loads((FORMAT1 / "lightweight-openpose.json").read_text())
    description["architecture"]["pafs"] = 40
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match="cannot read this format-1 description.*40 fields"):
        modelfile.read_model_folder(folder)


@pytest.mark.parametrize("entry, value, message", [
    ("heatmaps", 19, "heatmap_channels"),               # OpenPose channel counts over a YOLO head
    ("keypoint_shape", [17], "index out of range"),      # a keypoint shape without its dimensions
], ids=["heatmaps", "short-keypoint-shape"])
def test_a_format1_yolo_architecture_that_does_not_fit_is_refused(tmp_path, entry, value, message):
    """Found by fuzzing (fuzz/targets.py: modelfile): escaped as an AttributeError and an IndexError."""
    description = json.loads((FORMAT1 / "yolo11n-pose.json").read_text())
    description["architecture"][entry] = value
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match=f"cannot read this format-1 description.*{message}"):
        modelfile.read_model_folder(folder)


@pytest.mark.parametrize("version", ["yolo11n", 1.5, True, 0, None])
def test_a_format_version_that_is_not_a_whole_number_is_refused(tmp_path, version):
    """Found by fuzzing (fuzz/targets.py: modelfile, a ten-minute run): a string escaped as a TypeError."""
    description = json.loads((FORMAT1 / "yolo11n-pose.json").read_text())
    description["format_version"] = version
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match="format_version must be a whole number from 1"):
        modelfile.read_model_folder(folder)


def test_a_missing_entry_is_named():
    model = modelfile.ModelFile({"name": "m", "skeleton": "coco17"})
    with pytest.raises(ModelFileError, match="no 'heads'"):
        model.heads


def _lightweight_openpose_weights():
    from manypose.convert.lightweight_openpose import map_state_dict

    shapes = json.loads((Path(__file__).resolve().parent / "data/lightweight_openpose/state_dict_shapes.json").read_text())
    return map_state_dict(synthetic_state_dict(shapes))[2]


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.pop("heads"), "has no 'heads' entry"),
    (lambda d: d.pop("weights"), "has no 'weights' entry"),
    (lambda d: d["heads"].append({"kind": "spline"}), "unknown head kind 'spline'"),
    (lambda d: d["input"].update(resize="crop"), "input resize 'crop'"),
    (lambda d: d.update(skeleton="horse"), "unknown skeleton 'horse'"),
])
def test_a_damaged_description_is_named_with_what_is_wrong(tmp_path, damage, message):
    folder, _ = small_model(tmp_path)
    description = json.loads((folder / "model.json").read_text())
    damage(description)
    (folder / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match=f"model.json: .*{message}"):
        modelfile.read_model_folder(folder)


@pytest.mark.parametrize("header", [
    {"a.weight": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 16]}},  # shape over its bytes
    {"a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1 << 40]}},             # offsets past the end
    {"a.weight": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}},                  # negative size
])
def test_crafted_safetensors_headers_are_refused(tmp_path, header):
    folder, _ = small_model(tmp_path)
    encoded = json.dumps(header).encode()
    data = len(encoded).to_bytes(8, "little") + encoded + bytes(16)
    (folder / "weights.safetensors").write_bytes(data)
    description = json.loads((folder / "model.json").read_text())
    description["weights"]["sha256"] = modelfile.file_sha256(folder / "weights.safetensors")
    (folder / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match="unreadable weights"):
        modelfile.read_model_folder(folder).weights
