"""Network outputs to poses, one decoder per head kind (chosen by its codec, see heads).

Every decoder maps one image's network outputs to (boxes xyxy, scores, keypoints (N, K, 3)) in
network-input pixels.
"""
from .options import DecoderOptions

__all__ = ["DecoderOptions"]
