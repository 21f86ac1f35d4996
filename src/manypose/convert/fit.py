"""The check every importer ends with: the weights load into the network built from the
architecture they describe (torch needed), before anything is written."""
from __future__ import annotations

from ..optional import require
from .torch_pickle import CheckpointError


def check_weights_fit(arch: dict, weights: dict, source, error_type=CheckpointError) -> None:
    require("torch", "converting a checkpoint")
    from ..models import build_network, load_weights

    try:
        load_weights(build_network(arch), weights)
    except ValueError as error:
        raise error_type(f"{source}: {error}") from None
