"""Annotations to training targets, one encoder per head kind."""
from __future__ import annotations

from ..decoders.paf import OPENPOSE18_LIMBS
from ..heads import PafHead
from .paf import PafEncoder, coco17_to_openpose18

__all__ = ["PafEncoder", "coco17_to_openpose18", "encoder_for"]


def encoder_for(head):
    """The target encoder for a head's metadata (the counterpart of decoders.decoder_for)."""
    if isinstance(head, PafHead):
        return PafEncoder(limbs=head.limbs or OPENPOSE18_LIMBS, num_parts=len(head.skeleton), stride=head.stride)
    raise ValueError(f"no encoder for head kind {getattr(head, 'kind', head)!r} yet")
