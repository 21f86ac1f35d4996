import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from manypose import modelfile
from manypose.convert import CheckpointError, UnsafeCheckpointError, convert, read_ultralytics
from manypose.models import build_network, load_weights
from manypose.models.yolo_pose import architecture

from conftest import coco_pose_heads, shared_path, shared_scope
from fake_ultralytics import write_checkpoint

SCORE_ROWS = [4] + [5 + 3 * k + 2 for k in range(17)]
COORDINATE_ROWS = [r for r in range(56) if r not in SCORE_ROWS]


def ultralytics_yaml(family: str, size: str) -> dict:
    arch = architecture(family, size)
    return {"nc": 80, "kpt_shape": [17, 3], "scales": {size: [arch["depth"], arch["width"], arch["max_channels"]]},
            "backbone": arch["backbone"], "head": arch["head"], "scale": size,
            "yaml_file": f"{family.replace('-pose', '')}{size}-pose.yaml"}


@pytest.fixture(scope=shared_scope)
def converted_yolo11n(tmp_path_factory, yolo11n_checkpoint):
    return convert(yolo11n_checkpoint, tmp_path_factory.mktemp("models") / "yolo11n-pose")


@pytest.mark.parametrize("image_id", [139, 802])
def test_network_output_matches_the_original(converted_yolo11n, image_id):
    reference = np.load(shared_path(f"reference/yolo11n-pose_raw_{image_id}.npz"))
    model = modelfile.read_model_folder(converted_yolo11n)
    network = load_weights(build_network(model.architecture, model.heads), model.weights).eval().fold_batch_norms()
    with torch.no_grad():
        output = network(torch.from_numpy(reference["input"])).numpy()
    expected = reference["output"]
    assert output.shape == expected.shape
    assert np.abs(output[:, COORDINATE_ROWS] - expected[:, COORDINATE_ROWS]).max() < 0.05
    assert np.abs(output[:, SCORE_ROWS] - expected[:, SCORE_ROWS]).max() < 1e-3


def test_converted_folder_describes_the_model(converted_yolo11n, yolo11n_checkpoint):
    description = json.loads((converted_yolo11n / "model.json").read_text())
    assert description["architecture"]["variant"] == "yolo11-pose"
    assert description["architecture"]["size"] == "n"
    assert description["heads"] == [{"kind": "pose_objects", "num_classes": 1, "keypoint_dims": 3,
                                     "strides": [8, 16, 32], "box_bins": 16, "keypoint_objects": False,
                                     "keypoint_object_size": 0.05}]
    assert "num_classes" not in description["architecture"], "head facts live in the heads only"
    assert description["skeleton"]["name"] == "coco17"
    assert description["license"] == "AGPL-3.0"
    assert description["provenance"]["source_version"] == "8.2.100"
    assert description["weights"]["dtype"] == "float16"
    assert not any(name.endswith(".pt") or name.endswith(".pkl") for name in os.listdir(converted_yolo11n))


@pytest.mark.parametrize("family,size", [("yolov8-pose", "s"), ("yolo11-pose", "m")])
def test_other_sizes_convert_and_reproduce_their_network(tmp_path, family, size):
    torch.manual_seed(1)
    original = build_network(architecture(family, size), coco_pose_heads()).eval()
    checkpoint = tmp_path / f"{family}{size}.pt"
    write_checkpoint(checkpoint, original, ultralytics_yaml(family, size))
    folder = convert(checkpoint, tmp_path / "converted", dtype="float32")
    model = modelfile.read_model_folder(folder)
    assert model.architecture["variant"] == family and model.architecture["size"] == size
    rebuilt = load_weights(build_network(model.architecture, model.heads), model.weights).eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(original(image), rebuilt(image), atol=1e-5)


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-checkpoint",))


def test_checkpoint_that_runs_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"model": RunsCode()}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError, match="system"):
        read_ultralytics(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned-by-checkpoint").exists()


def test_detection_model_is_not_a_pose_model(tmp_path):
    network = build_network(architecture("yolo11-pose", "n"), coco_pose_heads())
    write_checkpoint(tmp_path / "det.pt", network, ultralytics_yaml("yolo11-pose", "n"), class_name="DetectionModel")
    with pytest.raises(CheckpointError, match="not a pose model"):
        read_ultralytics(tmp_path / "det.pt")


def test_weights_of_another_size_are_reported(tmp_path):
    network = build_network(architecture("yolo11-pose", "n"), coco_pose_heads())
    write_checkpoint(tmp_path / "mixed.pt", network, ultralytics_yaml("yolo11-pose", "s"))
    with pytest.raises(CheckpointError, match="wrong shape"):
        convert(tmp_path / "mixed.pt", tmp_path / "out")
    assert not (tmp_path / "out" / "model.json").exists()


@pytest.mark.parametrize("content,message", [
    (b"", "not a PyTorch zip"),
    (b"this is plain text, not a checkpoint", "not a PyTorch zip"),
])
def test_foreign_files_are_rejected(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_ultralytics(path)


def test_truncated_checkpoint_is_rejected(tmp_path, yolo11n_checkpoint):
    path = tmp_path / "truncated.pt"
    path.write_bytes(yolo11n_checkpoint.read_bytes()[: 3_000_000])
    with pytest.raises(CheckpointError):
        read_ultralytics(path)


def test_zip_without_pickle_and_pickle_without_model(tmp_path):
    with zipfile.ZipFile(tmp_path / "nopkl.pt", "w") as archive:
        archive.writestr("x/readme.txt", "hello")
    with pytest.raises(CheckpointError, match="without data.pkl"):
        read_ultralytics(tmp_path / "nopkl.pt")
    with zipfile.ZipFile(tmp_path / "dict.pt", "w") as archive:
        archive.writestr("x/data.pkl", pickle.dumps({"weights": [1, 2, 3]}, protocol=2))
    with pytest.raises(CheckpointError, match="no 'model' entry"):
        read_ultralytics(tmp_path / "dict.pt")


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        read_ultralytics(tmp_path / "absent.pt")
