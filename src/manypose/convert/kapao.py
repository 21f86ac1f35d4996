"""Import KAPAO's `.pt` checkpoints (github wmcnally/kapao, saved by its train.py) without
its code or torch: the module tree's yaml is the architecture, its Detect layer the anchors."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads.kapao import KapaoHead
from .imported import imported_model
from .torch_pickle import CheckpointError, PickledObject, load_checkpoint, module_tensors
from .ultralytics import architecture_spec, skeleton_for

KNOWN_BLOCKS = {"Focus", "Conv", "C3", "SPP", "SPPF", "nn.Upsample", "Concat", "Detect"}
MODEL_CLASS = "models.yolo.Model"
LICENSE = "GPL-3.0"
BATCH_NORM_EPS = 1e-3  # YOLOv5's initialize_weights sets it; our ConvBnAct has the same


def is_kapao_checkpoint(content) -> bool:
    """Whether a checkpoint's module tree is KAPAO's (YOLOv5's `models.yolo.Model`, not Ultralytics')."""
    model = _model(content) if isinstance(content, dict) else None
    return isinstance(model, PickledObject) and model.qualified_name == MODEL_CLASS


def read_kapao(path, content) -> tuple[dict, KapaoHead, dict[str, np.ndarray]]:
    """(architecture description, head, state dict) of a KAPAO checkpoint's content."""
    model = _model(content)
    spec, layers = architecture_spec(path, vars(model), KNOWN_BLOCKS)
    detect = _last_module(model)
    num_coords = int(vars(detect).get("num_coords") or 0)
    anchor_grid = vars(detect).get("_buffers", {}).get("anchor_grid")
    strides = vars(detect).get("stride")
    if not num_coords or num_coords % 2 or anchor_grid is None or strides is None:
        raise CheckpointError(f"{path}: its Detect layer has no keypoints, anchors or strides")
    levels = len(layers[-1][0])
    anchors = tuple(tuple(float(v) for v in row) for row in np.asarray(anchor_grid, np.float32).reshape(levels, -1))
    head = KapaoHead(skeleton_for((num_coords // 2, 2)), anchors=anchors,
                     strides=tuple(int(s) for s in np.asarray(strides).reshape(-1)))
    arch = {"family": "kapao", "depth": float(spec["depth_multiple"]), "width": float(spec["width_multiple"]),
            "backbone": spec["backbone"], "head": spec["head"]}
    tensors = module_tensors(model)
    for key in [k for k in tensors if k.endswith((".anchors", ".anchor_grid"))]:
        del tensors[key]  # the head's metadata holds the anchors
    _check_batch_norms(path, model)
    return arch, head, tensors


def kapao_model_file(checkpoint, name: str | None = None, content=None) -> modelfile.ModelFile:
    """A KAPAO checkpoint as an in-memory manypose model (weights checked to fit). Input: letterboxed
    RGB in 0..1, padded with grey 114, at KAPAO's 1280 pixels."""
    content = load_checkpoint(checkpoint) if content is None else content
    arch, head, tensors = read_kapao(checkpoint, content)
    provenance = {"source_file": Path(checkpoint).name, "source_sha256": modelfile.file_sha256(checkpoint),
                  "source_format": "kapao", "source_epoch": str(content.get("epoch", "unknown"))}
    spec = InputSpec(size=1280, stride=max(head.strides))
    return imported_model(checkpoint, name or Path(checkpoint).stem, arch, (head,), spec, tensors, provenance,
                          LICENSE, "Weights by KAPAO (W. McNally et al.), GPL-3.0; converted to the manypose format.")


def _model(content: dict):
    return content.get("ema") or content.get("model")


def _last_module(model: PickledObject):
    sequence = vars(model).get("_modules", {}).get("model")
    children = list(vars(sequence).get("_modules", {}).values()) if isinstance(sequence, PickledObject) else []
    if not children or not getattr(children[-1], "qualified_name", "").endswith(".Detect"):
        raise CheckpointError("the model's last layer is not a Detect layer")
    return children[-1]


def _check_batch_norms(path, module) -> None:
    state = vars(module) if isinstance(module, PickledObject) else {}
    if module.qualified_name.endswith("BatchNorm2d") and not np.isclose(state.get("eps", 0), BATCH_NORM_EPS):
        raise CheckpointError(f"{path}: a batch norm with eps {state.get('eps')} (expected {BATCH_NORM_EPS})")
    for child in (state.get("_modules") or {}).values():
        if isinstance(child, PickledObject):
            _check_batch_norms(path, child)
