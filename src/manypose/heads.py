"""Head metadata: one small dataclass per head type, threading skeleton -> network head -> decoder.

A model description lists its heads as dicts with a `kind`; `head_from_dict` turns them into
these dataclasses and the decoder (and later the encoder and painter) is chosen by type.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .skeleton import Skeleton


@dataclass(frozen=True)
class PoseObjectsHead:
    """Poses as objects (YOLO-pose): per anchor a box, a person score and K keypoints."""

    skeleton: Skeleton
    num_classes: int = 1
    strides: tuple[int, ...] = (8, 16, 32)
    kind: str = "pose_objects"

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("skeleton")  # stored once at the top of the description
        data["strides"] = list(self.strides)
        return data


@dataclass(frozen=True)
class PafHead:
    """Bottom-up OpenPose fields: keypoint heatmaps (plus background) and part affinity fields,
    one (x, y) pair of channels per limb in `limbs`."""

    skeleton: Skeleton
    heatmaps: int = 19
    pafs: int = 38
    stride: int = 8
    limbs: tuple[tuple[int, int], ...] = ()
    kind: str = "paf"

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("skeleton")
        data["limbs"] = [list(limb) for limb in self.limbs]
        return data


HEAD_TYPES = {"pose_objects": PoseObjectsHead, "paf": PafHead}


def head_from_dict(data: dict, skeleton: Skeleton):
    fields = dict(data)
    kind = fields.get("kind")
    if kind not in HEAD_TYPES:
        raise ValueError(f"unknown head kind {kind!r}; known: {', '.join(HEAD_TYPES)}")
    for key in ("strides", "limbs"):
        if key in fields:
            fields[key] = tuple(tuple(v) if isinstance(v, list) else v for v in fields[key])
    return HEAD_TYPES[kind](skeleton=skeleton, **fields)
