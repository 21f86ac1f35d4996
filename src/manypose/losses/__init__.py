"""Training losses, one per head kind, computed from the network's raw (undecoded) outputs."""
from __future__ import annotations

from .pose_objects import LOSS_NAMES, PoseLossGains, PoseObjectsLoss

__all__ = ["LOSS_NAMES", "PoseLossGains", "PoseObjectsLoss"]
