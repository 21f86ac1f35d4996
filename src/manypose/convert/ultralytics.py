"""Import Ultralytics YOLOv8-pose / YOLO11-pose `.pt` checkpoints without ultralytics or torch."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads import PoseObjectsHead
from ..skeleton import COCO17, Skeleton
from .imported import imported_model
from .torch_pickle import CheckpointError, PickledObject, load_checkpoint, module_tensors

KNOWN_BLOCKS = {"Conv", "C2f", "C3k2", "SPPF", "C2PSA", "nn.Upsample", "Concat", "Pose"}
LICENSE = "AGPL-3.0"


def read_ultralytics(path, checkpoint=None) -> tuple[dict, PoseObjectsHead, dict[str, np.ndarray], dict]:
    """(architecture description, head, state dict, provenance) of an Ultralytics pose
    checkpoint; `checkpoint` is the file's content when it has been read already."""
    checkpoint = load_checkpoint(path) if checkpoint is None else checkpoint
    if not isinstance(checkpoint, dict) or not ({"model", "ema"} & checkpoint.keys()):
        raise CheckpointError(f"{path}: not an Ultralytics checkpoint (no 'model' entry)")
    model = checkpoint.get("ema") or checkpoint.get("model")
    if not isinstance(model, PickledObject):
        raise CheckpointError(f"{path}: the 'model' entry holds no module tree")
    if not model.qualified_name.endswith("PoseModel"):
        raise CheckpointError(f"{path}: not a pose model (its model is {model.qualified_name})")
    arch, head = _architecture_and_head(path, vars(model))
    tensors = module_tensors(model)
    _check_distribution_bins(path, tensors)
    provenance = {
        "source_file": Path(path).name,
        "source_sha256": modelfile.file_sha256(path),
        "source_format": "ultralytics",
        "source_version": str(checkpoint.get("version", "unknown")),
        "source_date": str(checkpoint.get("date", "unknown")),
    }
    return arch, head, tensors, provenance


def architecture_spec(path, model_state: dict, known_blocks) -> tuple[dict, list]:
    """The model's architecture description (its yaml) and its layers, checked to hold only `known_blocks`."""
    spec = model_state.get("yaml")
    if not isinstance(spec, dict) or "backbone" not in spec or "head" not in spec:
        raise CheckpointError(f"{path}: the model carries no architecture description (yaml)")
    layers = spec["backbone"] + spec["head"]
    unknown = sorted({str(layer[2]) for layer in layers} - known_blocks)
    if unknown:
        raise CheckpointError(f"{path}: unsupported blocks in the architecture: {', '.join(unknown)}")
    return spec, layers


def _architecture_and_head(path, model_state: dict) -> tuple[dict, PoseObjectsHead]:
    spec, layers = architecture_spec(path, model_state, KNOWN_BLOCKS)
    size = spec.get("scale") or _size_from_file_name(spec.get("yaml_file", ""))
    if "scales" in spec and size in spec["scales"]:
        depth, width, max_channels = spec["scales"][size]
    elif "depth_multiple" in spec:
        depth, width, max_channels = spec["depth_multiple"], spec["width_multiple"], 1024
    else:
        raise CheckpointError(f"{path}: cannot tell the model size (no scale in the description)")
    keypoint_shape = list(model_state.get("kpt_shape") or spec.get("kpt_shape") or [])
    if len(keypoint_shape) != 2 or keypoint_shape[1] not in (2, 3):
        raise CheckpointError(f"{path}: bad keypoint shape {keypoint_shape!r}")
    arch = {
        "family": "yolo_pose",
        "variant": "yolo11-pose" if any(layer[2] == "C3k2" for layer in layers) else "yolov8-pose",
        "size": size,
        "depth": float(depth),
        "width": float(width),
        "max_channels": int(max_channels),
        "backbone": spec["backbone"],
        "head": spec["head"],
    }
    head = PoseObjectsHead(skeleton_for(keypoint_shape), num_classes=int(model_state.get("nc") or 1),
                           keypoint_dims=int(keypoint_shape[1]))
    return arch, head


def _size_from_file_name(name: str):
    match = re.search(r"(?:yolov8|yolo11|yolov?\d+)([nsmlx])", str(name))
    return match.group(1) if match else None


def _check_distribution_bins(path, tensors: dict) -> None:
    """The DFL layer holds fixed bin values 0..15; we compute them, so only check and drop them."""
    for key in [k for k in tensors if k.endswith(".dfl.conv.weight")]:
        bins = tensors.pop(key).reshape(-1)
        if not np.allclose(bins, np.arange(bins.size)):
            raise CheckpointError(f"{path}: unexpected box-distribution weights in {key}")


def skeleton_for(keypoint_shape) -> Skeleton:
    count = keypoint_shape[0]
    if count == len(COCO17):
        return COCO17
    names = tuple(f"keypoint_{i}" for i in range(count))
    return Skeleton(name=f"custom{count}", keypoints=names, edges=(), sigmas=(0.05,) * count)


def ultralytics_model_file(checkpoint, name: str | None = None, content=None) -> modelfile.ModelFile:
    """An Ultralytics pose checkpoint as an in-memory manypose model (weights checked to fit).
    Input: letterboxed RGB in 0..1, padded with grey 114, as Ultralytics predicts."""
    arch, head, tensors, provenance = read_ultralytics(checkpoint, content)
    return imported_model(checkpoint, name or Path(checkpoint).stem, arch, (head,), InputSpec(), tensors, provenance,
                          LICENSE, "Weights by Ultralytics, AGPL-3.0; converted to the manypose format.")
