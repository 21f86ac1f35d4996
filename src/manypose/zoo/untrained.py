"""Architectures that training builds untrained by name (`manypose train --model NAME`): each
name gives a model description without weights, which the network initialises. Families add
their names to UNTRAINED; describing one imports that family's code (and torch) only then."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import modelfile


@dataclass(frozen=True)
class Architecture:
    about: str
    describe: Callable[[str], dict]  # name -> the model description, without weights


def description(name: str, architecture: dict, heads, input_spec) -> dict:
    """A model description for an untrained network of manypose's own code."""
    return {"name": name, "architecture": architecture, "skeleton": heads[0].skeleton.to_dict(),
            "input": input_spec.to_dict(), "heads": [head.to_dict() for head in heads],
            "provenance": {"untrained": "torch's initialisation"}, "license": "AGPL-3.0-or-later",
            "license_note": "an untrained network of manypose's own code"}


def _pifpaf(name: str) -> dict:
    """An OpenPifPaf architecture with the COCO cif and caf heads and OpenPifPaf's input."""
    from ..convert.openpifpaf import input_spec
    from ..heads.composite_fields import coco17_heads
    from ..models.pifpaf import architecture

    heads = coco17_heads()
    return description(name, architecture(name), heads, input_spec(heads[0]))


def _offsetguided(name: str) -> dict:
    """SimplePose V2's network with the COCO heatmaps and guiding offsets, ImageNet-normalized RGB."""
    from ..convert.openpifpaf import IMAGENET_MEAN, IMAGENET_STD, PAD_GREY
    from ..data.transforms import InputSpec
    from ..heads.guiding_offsets import GuidingOffsetsHead
    from ..models.offsetguided import architecture, input_stride
    from ..skeleton import COCO17

    arch = architecture(name)
    spec = InputSpec(size=640, stride=input_stride(arch["backbone"]), channels="RGB",
                     scale=tuple(1 / (255 * s) for s in IMAGENET_STD), pixel_mean=tuple(255 * m for m in IMAGENET_MEAN),
                     pad_value=PAD_GREY)
    return description(name, arch, (GuidingOffsetsHead(COCO17),), spec)


def _lightweight_openpose(name: str) -> dict:
    """Lightweight OpenPose with the original's one refinement stage (`manypose train
    --refinement-stages` changes it), a COCO keypoint head and the original's input."""
    from ..convert.lightweight_openpose import INPUT
    from ..heads import PafHead, codec_for
    from ..skeleton import COCO17, OPENPOSE18

    heads = codec_for((PafHead(OPENPOSE18),)).retarget(COCO17)  # a field per COCO skeleton edge
    architecture = {"family": "lightweight_openpose", "channels": 128, "refinement_stages": 1, "width": 1.0}
    return description(name, architecture, heads, INPUT)


UNTRAINED: dict[str, Architecture] = {
    **{name: Architecture(f"OpenPifPaf {name} architecture, untrained (train it from scratch)", _pifpaf)
       for name in ("shufflenetv2k16", "shufflenetv2k30", "resnet50")},
    **{name: Architecture(f"SimplePose V2 (OffsetGuided) on a {name.split('-')[1]} backbone, untrained", _offsetguided)
       for name in ("offsetguided-resnet50", "offsetguided-resnet26", "offsetguided-hourglass")},
    "lightweight-openpose": Architecture("Lightweight OpenPose (MobileNetV1, one refinement stage), untrained "
                                         "(train it from scratch)", _lightweight_openpose)}


def untrained_model(name: str) -> modelfile.ModelFile:
    """The named architecture with its heads and input, no weights; needs torch."""
    return modelfile.ModelFile(UNTRAINED[name].describe(name), {})
