"""What every head kind provides: a metadata dataclass and a codec, registered together.

The metadata is the one description of a head (stored in model.json's `heads` list): the
keypoint set, the stride and what the network outputs; the network's head modules are sized
from it. The codec claims the heads it handles, one or several (a composite-field decoder
takes two), and owns both directions, annotations -> training targets and network outputs ->
poses, plus the export policies that depend on its layout. For training it states its contract
(heads.training) and fits its heads to a data set's keypoint set (`retarget`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import ClassVar, Optional

import numpy as np

from ..decoders.finite import FiniteDecoder
from ..decoders.options import DecoderOptions
from ..skeleton import Skeleton
from .training import TrainingContract


@dataclass(frozen=True)
class HeadMeta:
    """Base of the head metadata dataclasses; `kind` names the kind in model.json."""

    skeleton: Skeleton
    kind: ClassVar[str] = ""

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the network outputs this head produces, in order."""
        return (self.kind,)

    def to_dict(self) -> dict:
        data = {"kind": self.kind}
        for field in fields(self):
            if field.name != "skeleton":  # stored once at the top of the description
                data[field.name] = _jsonable(getattr(self, field.name))
        return data

    @classmethod
    def from_dict(cls, data: dict, skeleton: Skeleton) -> "HeadMeta":
        values = {k: _frozen(v) for k, v in data.items() if k != "kind"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(values.keys() - known)
        if unknown:
            raise ValueError(f"head kind {cls.kind!r} has no field {', '.join(unknown)}")
        return cls(skeleton=skeleton, **values)


class Codec:
    """Network outputs <-> poses for the heads it claims. Subclasses set `kinds` (the head kinds
    they take) and `honoured_options` (the decoder options they apply), and implement `decode`."""

    kinds: ClassVar[tuple[str, ...]] = ()
    honoured_options: ClassVar[tuple[str, ...]] = ()
    keypoint_threshold: ClassVar[float] = 0.5  # confidence from which a keypoint is drawn as seen
    needs_float32: ClassVar[bool] = False  # bfloat16 changes its results: reduced-precision runtimes keep float32
    # test-time views merged as candidates before decoding (merged_view_outputs), not as poses after
    merges_view_candidates: ClassVar[bool] = False

    def __init__(self, heads):
        self.heads = tuple(heads)

    @classmethod
    def claim(cls, heads) -> Optional["Codec"]:
        """A codec for the heads of its kinds among `heads`, or None if there are none."""
        mine = [head for head in heads if head.kind in cls.kinds]
        return cls(mine) if mine else None

    @property
    def name(self) -> str:
        return "+".join(head.kind for head in self.heads)

    @property
    def skeleton(self) -> Skeleton:
        """The keypoint set of the poses it returns."""
        return self.heads[0].skeleton

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for head in self.heads for name in head.output_names)

    def decoder(self, options: DecoderOptions):
        """A callable: one image's outputs (by name, batch dimension removed) -> boxes xyxy
        (N, 4), scores (N,), keypoints (N, K, 3), in network-input pixels, finite whatever the
        outputs hold (decoders.finite). Options the method cannot honour are refused here,
        before any image is run."""
        options.check_honoured(self.honoured_options, f"the {self.name} decoder")
        return FiniteDecoder(self._decoder(options))

    def _decoder(self, options: DecoderOptions):
        raise NotImplementedError

    def encoder(self):
        """The training-target encoder of these heads."""
        raise NotImplementedError(f"the {self.name} heads have no training-target encoder yet")

    def training(self) -> TrainingContract:
        """What training these heads takes: targets, loss and its named terms (heads.training)."""
        raise NotImplementedError(f"training {self.name} heads is not supported yet")

    def retarget(self, skeleton: Skeleton) -> tuple[HeadMeta, ...]:
        """These heads for another keypoint set (a data set's own), which brings its flip map and
        sigmas; heads of the same keypoints stay as they are (their skeleton's sigmas, colours)."""
        if skeleton.keypoints == self.heads[0].skeleton.keypoints:
            return self.heads
        return tuple(self._retargeted(head, skeleton) for head in self.heads)

    def _retargeted(self, head: HeadMeta, skeleton: Skeleton) -> HeadMeta:
        """One head for a new keypoint set; kinds whose layout names keypoints say how."""
        return replace(head, skeleton=skeleton)

    def float_layers(self) -> Optional[re.Pattern]:
        """ONNX node names that INT8 export keeps in float (their consumers stay float too);
        None: only what follows the last convolution."""
        return None

    def reduced_precision_cut(self, graph_outputs):
        """For runtimes that compute in reduced precision (OpenVINO's bfloat16): the indices of
        the tensors to stop at among `graph_outputs`, every operation's output in topological
        order as (operation type, shape with None for dynamic dimensions); None runs the whole
        graph. `outputs_from_cut` then finishes in float32 numpy."""
        return None

    def outputs_from_cut(self, values: list[np.ndarray]) -> dict[str, np.ndarray]:
        """The named outputs computed in float32 from the values at the cut (batched); the values
        are the runtime's buffers, reused by its next run: compute new arrays, keep none of them."""
        raise NotImplementedError


HEAD_KINDS: dict[str, type[HeadMeta]] = {}
CODECS: list[type[Codec]] = []


def register(meta: type[HeadMeta], codec: type[Codec]) -> None:
    """Make a head kind known: its metadata reads from model.json, its codec decodes it."""
    HEAD_KINDS[meta.kind] = meta
    if codec not in CODECS:
        CODECS.append(codec)


def head_from_dict(data: dict, skeleton: Skeleton) -> HeadMeta:
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in HEAD_KINDS:
        raise ValueError(f"unknown head kind {kind!r}; known: {', '.join(HEAD_KINDS)}")
    return HEAD_KINDS[kind].from_dict(data, skeleton)


def codec_for(heads) -> Codec:
    """The codec that claims every head of a model (one decoder per model; one codec may take
    several heads, as a composite-field decoder takes its intensity and association heads)."""
    partial = []
    for codec_class in CODECS:
        codec = codec_class.claim(heads)
        if codec is not None and len(codec.heads) == len(heads):
            return codec
        if codec is not None:
            partial.append(codec.name)
    kinds = ", ".join(head.kind for head in heads) or "(none)"
    taken = f" (only partly: {'; '.join(partial)})" if partial else ""
    raise ValueError(f"no decoder takes the heads {kinds} together{taken}")


def single_head(heads, kind: str) -> HeadMeta:
    """The one head of a network that has a single head of `kind`."""
    if len(heads) != 1 or heads[0].kind != kind:
        raise ValueError(f"this network has one {kind} head, not {', '.join(h.kind for h in heads) or 'none'}")
    return heads[0]


def edges_for_fields(skeleton: Skeleton, kind: str) -> tuple[tuple[int, int], ...]:
    """The skeleton's edges, for heads of `kind` that have a field per edge: refused when there are none."""
    if not skeleton.edges:
        raise ValueError(f"{kind} heads have a field per keypoint pair, and the keypoint set {skeleton.name!r} "
                         "has no edges to take them from")
    return skeleton.edges


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _frozen(value):
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
