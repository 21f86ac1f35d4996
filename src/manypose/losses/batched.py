"""Per-image targets gathered into one batch tensor for the losses."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def batched(targets: Sequence, name: str, device) -> Tensor:
    """The `name` field of each image's targets, stacked along a new batch axis, on `device`."""
    return torch.stack([torch.as_tensor(getattr(target, name)) for target in targets]).to(device)
