"""Annotations to training targets, one encoder per head kind (chosen by its codec, see heads)."""
from __future__ import annotations

from .paf import PafEncoder

__all__ = ["PafEncoder"]
