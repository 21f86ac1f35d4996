"""Annotations to training targets, one encoder per head kind."""
from .paf import PafEncoder, coco17_to_openpose18

__all__ = ["PafEncoder", "coco17_to_openpose18"]
