"""What every importer ends with: the weights checked to load into the network their
architecture and heads describe (torch needed), and the in-memory model, before anything is
written."""
from __future__ import annotations

from .. import modelfile
from ..optional import require
from .torch_pickle import CheckpointError


def imported_model(source, name: str, arch: dict, heads, input_spec, weights: dict, provenance: dict,
                   license: str, license_note: str, error_type=CheckpointError) -> modelfile.ModelFile:
    """A model from an importer's pieces; raises `error_type` naming the `source` file if the
    weights do not fit."""
    check_weights_fit(arch, heads, weights, source, error_type)
    description = {
        "name": name,
        "architecture": arch,
        "skeleton": heads[0].skeleton.to_dict(),
        "input": input_spec.to_dict(),
        "heads": [head.to_dict() for head in heads],
        "provenance": provenance,
        "license": license,
        "license_note": license_note,
    }
    return modelfile.ModelFile(description, weights)


def check_weights_fit(arch: dict, heads, weights: dict, source, error_type=CheckpointError) -> None:
    require("torch", "converting a checkpoint")
    from ..models import build_network, load_weights

    try:
        load_weights(build_network(arch, heads), weights)
    except ValueError as error:
        raise error_type(f"{source}: {error}") from None
