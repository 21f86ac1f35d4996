"""Importers of published checkpoints into the manypose model format."""
from __future__ import annotations

from pathlib import Path

from .. import modelfile
from ..run_plan import refuse_overwriting_inputs
from .graphdef import GraphDefError
from .kapao import is_kapao_checkpoint, kapao_model_file
from .lightweight_openpose import lightweight_openpose_model_file
from .movenet import is_movenet_graph, movenet_model_file
from .openpifpaf import is_openpifpaf_checkpoint, openpifpaf_model_file
from .posenet import posenet_model_file
from .tf_pose import tf_pose_model_file
from .tfjs import read_tfjs_graph
from .torch_pickle import CheckpointError, PickledObject, UnsafeCheckpointError, is_zip_archive, load_checkpoint
from .ultralytics import read_ultralytics, ultralytics_model_file

__all__ = ["CheckpointError", "UnsafeCheckpointError", "GraphDefError", "read_ultralytics",
           "model_file_from_checkpoint", "convert"]


def model_file_from_checkpoint(path, name=None) -> modelfile.ModelFile:
    """A published checkpoint as an in-memory model: Ultralytics YOLOv8/YOLO11-pose, KAPAO, OpenPifPaf
    or Lightweight OpenPose (.pt / .pth / .pkl, PyTorch zips), tf-pose-estimation's MobileNetV2
    OpenPose (.pb, a frozen TensorFlow graph), PoseNet or MoveNet MultiPose (.json, TensorFlow.js
    graph models, told apart by their content)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if is_zip_archive(path):
        content = load_checkpoint(path)
        if is_openpifpaf_checkpoint(content):  # told from Ultralytics' by the pickled classes' modules
            return openpifpaf_model_file(path, name, content)
        if is_kapao_checkpoint(content):  # YOLOv5's models.yolo.Model, not an ultralytics.* class
            return kapao_model_file(path, name, content)
        if isinstance(content, dict) and isinstance(content.get("ema") or content.get("model"), PickledObject):
            return ultralytics_model_file(path, name, content)
        return lightweight_openpose_model_file(path, name, content=content)
    if path.suffix == ".pb":
        return tf_pose_model_file(path, name)
    if path.suffix == ".json":
        nodes = read_tfjs_graph(path)
        if is_movenet_graph(nodes):
            return movenet_model_file(path, name, nodes)
        return posenet_model_file(path, name, nodes)
    if path.suffix == ".onnx":
        raise CheckpointError(f"{path}: an ONNX file is an export of a model, not a model: pass the model "
                              "folder it came from (model.json + weights.safetensors), or a checkpoint")
    raise CheckpointError(f"{path}: not a supported checkpoint (an Ultralytics, KAPAO, OpenPifPaf or Lightweight "
                          "OpenPose PyTorch zip, a tf-pose .pb frozen graph, or a PoseNet or MoveNet TensorFlow.js .json)")


def convert(checkpoint, out_folder, name=None, dtype="float16", force: bool = False):
    """Convert a published checkpoint into a manypose model folder. A folder that holds a model
    already is replaced only with `force` (its exported ONNX forms are removed: they belong to
    the old weights); one that is or holds the checkpoint never."""
    out_folder = Path(out_folder)
    refuse_overwriting_inputs([("the checkpoint", checkpoint)], folders=[("the model folder", out_folder)])
    if (out_folder / modelfile.DESCRIPTION_FILE).exists() and not force:
        raise ValueError(f"{out_folder}: holds a model already; pass --force to replace it")
    model = model_file_from_checkpoint(checkpoint, name or out_folder.name)
    for exported in (modelfile.ONNX_FILE, modelfile.INT8_ONNX_FILE):
        (out_folder / exported).unlink(missing_ok=True)
    return modelfile.save(out_folder, model.description, model.weights, dtype=dtype)
