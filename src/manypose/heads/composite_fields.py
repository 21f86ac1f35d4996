"""Composite fields (OpenPifPaf): an intensity field per keypoint (CIF) and an association field
per keypoint pair (CAF), decoded together.

Output layout, per head (B, fields, components, H, W), components in OpenPifPaf's order:
- CIF, 5: spread b, confidence, (x, y) regression, keypoint scale;
- CAF, 8: spread b, confidence, (x, y) to the first keypoint, (x, y) to the second, two scales.
The network returns them as OpenPifPaf's evaluation mode does: confidence after the sigmoid,
regressions absolute in output-grid cells (cell (i, j) at input pixel (stride j, stride i)),
scales after softplus, in grid cells; b as the network gives it. Training reads the raw maps.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..decoders.finite import sigmoid
from ..skeleton import COCO17, _one_based
from .base import Codec, HeadMeta, edges_for_fields, register
from .training import LossTerm, TrainingContract

# OpenPifPaf's "dense" COCO connections: the extra pairs of its denser skeleton, beyond COCO's 19
COCO17_DENSE_ASSOCIATIONS = _one_based((
    (1, 4), (1, 5), (4, 5), (1, 6), (1, 7), (2, 6), (3, 7), (6, 13), (7, 12), (6, 10), (7, 11),
    (8, 9), (10, 11), (10, 12), (11, 13), (10, 14), (11, 15), (12, 15), (13, 14), (12, 16), (13, 17),
    (14, 17), (15, 16), (14, 15), (16, 17),
))
# seeds and people are scored with the face keypoints weighted up (OpenPifPaf's COCO weights)
COCO17_SCORE_WEIGHTS = (3.0,) * 3 + (1.0,) * 14
# INT8 keeps the head convolutions in float, and so what follows them: the regressions become
# absolute positions of up to the grid's size, where 8-bit steps would move keypoints by pixels
# (node names of models.pifpaf's ONNX export)
SENSITIVE_LAYERS = re.compile(r"^/heads\.\d+/conv/Conv$")


def _check_stride(stride: int, upsample: int) -> None:
    if stride < 1 or upsample < 1:
        raise ValueError(f"stride {stride} and upsample {upsample} must be 1 or more")


@dataclass(frozen=True)
class CifHead(HeadMeta):
    """`stride`: of the output grid, after the pixel shuffle by `upsample` (base stride / upsample)."""

    stride: int = 8
    upsample: int = 2
    score_weights: tuple[float, ...] = ()  # per keypoint; empty: all 1
    kind = "cif"
    components = 5

    def __post_init__(self):
        _check_stride(self.stride, self.upsample)
        if self.score_weights and len(self.score_weights) != len(self.skeleton):
            raise ValueError(f"{len(self.score_weights)} score weights for {len(self.skeleton)} keypoints")

    @property
    def fields(self) -> int:
        return len(self.skeleton)


@dataclass(frozen=True)
class CafHead(HeadMeta):
    """`associations`: 0-based keypoint pairs, one field each, in channel order (default: the
    skeleton's edges; COCO17.edges + COCO17_DENSE_ASSOCIATIONS is the dense variant)."""

    stride: int = 8
    upsample: int = 2
    associations: tuple[tuple[int, int], ...] = ()
    kind = "caf"
    components = 8

    def __post_init__(self):
        _check_stride(self.stride, self.upsample)
        if not self.associations:
            object.__setattr__(self, "associations", tuple(self.skeleton.edges))
        n = len(self.skeleton)
        for a, b in self.associations:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(f"association ({a}, {b}) is not a pair of keypoints in 0..{n - 1}")

    @property
    def fields(self) -> int:
        return len(self.associations)


def coco17_heads(stride: int = 8, upsample: int = 2, dense: bool = False) -> tuple[CifHead, CafHead]:
    """The heads of OpenPifPaf's COCO person models (cif + caf, optionally with the dense pairs)."""
    associations = COCO17.edges + (COCO17_DENSE_ASSOCIATIONS if dense else ())
    return (CifHead(COCO17, stride, upsample, COCO17_SCORE_WEIGHTS),
            CafHead(COCO17, stride, upsample, associations))


class CifCafCodec(Codec):
    """Seeds from the intensity fields, people grown along the association fields (see
    decoders.cifcaf); claims one CIF and one CAF head."""

    kinds = ("cif", "caf")
    honoured_options = ("score_threshold", "max_detections", "complete_poses")
    keypoint_threshold = 0.2

    @classmethod
    def claim(cls, heads):
        codec = super().claim(heads)
        if codec is not None and sorted(head.kind for head in codec.heads) != ["caf", "cif"]:
            raise ValueError("composite fields need one cif and one caf head, not "
                             + ", ".join(head.kind for head in codec.heads))
        return codec

    @property
    def cif(self) -> CifHead:
        return next(head for head in self.heads if head.kind == "cif")

    @property
    def caf(self) -> CafHead:
        return next(head for head in self.heads if head.kind == "caf")

    def _decoder(self, options):
        from ..decoders.cifcaf import CifCafDecoder

        return CifCafDecoder(self.cif, self.caf, options)

    def encoder(self):
        from ..encoders.cifcaf import CifCafEncoder

        return CifCafEncoder(self.cif, self.caf)

    def training(self):
        from ..losses.composite_fields import CompositeFieldsLoss

        loss = CompositeFieldsLoss(self.cif, self.caf)
        # every term weighs 1 in the total, and without validation the lowest total ranks checkpoints
        terms = tuple(LossTerm(name) for name in loss.names)
        return TrainingContract(loss.targets, loss, terms, raw_outputs=(self.cif.kind, self.caf.kind))

    def _retargeted(self, head, skeleton):
        if head.kind == "cif":
            return replace(head, skeleton=skeleton, score_weights=())  # the weights were the old keypoints'
        return replace(head, skeleton=skeleton, associations=edges_for_fields(skeleton, "caf"))

    def float_layers(self):
        return SENSITIVE_LAYERS

    def reduced_precision_cut(self, graph_outputs):
        """Each head's raw maps (B, fields, components, H, W), before the evaluation transforms:
        the last reshape or crop of that shape (the decoded fields are a concatenation)."""
        cut = []
        for head in self.heads:
            raw = [index for index, (op_type, shape) in enumerate(graph_outputs)
                   if op_type in ("Reshape", "Slice") and shape is not None and len(shape) == 5
                   and tuple(shape[1:3]) == (head.fields, head.components)]
            if not raw:
                return None
            cut.append(raw[-1])
        return cut

    def outputs_from_cut(self, values):
        return {name: decoded_fields(raw) for name, raw in zip(self.output_names, values)}


def decoded_fields(raw: np.ndarray) -> np.ndarray:
    """OpenPifPaf's evaluation transforms of raw maps (B, fields, components, H, W), in float32
    (as models.pifpaf's heads do them): sigmoid confidence, regressions made absolute, softplus scales."""
    fields = raw.astype(np.float32)  # a new array: the runtime reuses its buffers
    vectors = (fields.shape[2] - 2) // 3
    end_of_vectors = 2 + 2 * vectors
    fields[:, :, 1] = sigmoid(fields[:, :, 1])
    fields[:, :, 2:end_of_vectors:2] += np.arange(fields.shape[4], dtype=np.float32)
    fields[:, :, 3:end_of_vectors:2] += np.arange(fields.shape[3], dtype=np.float32)[:, None]
    fields[:, :, end_of_vectors:] = np.logaddexp(0, fields[:, :, end_of_vectors:])
    return fields


register(CifHead, CifCafCodec)
register(CafHead, CifCafCodec)
