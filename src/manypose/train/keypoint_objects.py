"""A YOLO-pose model given KAPAO's keypoint objects: the same network whose score branch also
has one class per keypoint, to fine-tune with `manypose train --model FOLDER`.

Every weight that fits is kept; the person's score comes from the model's own, so before any
training the people and their AP are the model's, and the keypoint classes start at a low
prior at every anchor (no keypoint objects until they are learnt).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .. import modelfile
from ..models import build_network, load_matching_weights

KEYPOINT_PRIOR = 1e-3  # the keypoint classes' starting score


def with_keypoint_objects(model: modelfile.ModelFile, name: str) -> modelfile.ModelFile:
    (head,) = model.heads
    if head.kind != "pose_objects" or head.keypoint_objects or head.num_classes != 1:
        classes = getattr(head, "num_classes", None)  # other kinds of head have no classes
        what = head.kind if classes is None else f"{head.kind} with {classes} classes"
        raise ValueError(f"{model.name}: keypoint objects are added to a one-class pose_objects head, not {what}")
    new_head = replace(head, num_classes=1 + len(head.skeleton), keypoint_objects=True)
    network = build_network(model.architecture, (new_head,))
    left = load_matching_weights(network, model.weights)
    weights = {key: value.detach().numpy().copy() for key, value in network.state_dict().items()
               if not key.endswith("num_batches_tracked")}
    for key in left:  # the score branches' last convolutions: the person row from the model
        if key.endswith(".weight"):
            weights[key][1:] = 0  # every anchor starts at the prior (random rows fire here and there)
            weights[key][0] = model.weights[key][0]
        elif key.endswith(".bias"):
            weights[key][:] = math.log(KEYPOINT_PRIOR / (1 - KEYPOINT_PRIOR))
            weights[key][0] = model.weights[key][0]
    description = {**model.description, "name": name, "heads": [new_head.to_dict()]}
    return modelfile.ModelFile(description, {k: np.asarray(v) for k, v in weights.items()})

