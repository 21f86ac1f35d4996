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


UNTRAINED: dict[str, Architecture] = {
    name: Architecture(f"OpenPifPaf {name} architecture, untrained (train it from scratch)", _pifpaf)
    for name in ("shufflenetv2k16", "shufflenetv2k30", "resnet50")}


def untrained_model(name: str) -> modelfile.ModelFile:
    """The named architecture with its heads and input, no weights; needs torch."""
    return modelfile.ModelFile(UNTRAINED[name].describe(name), {})
