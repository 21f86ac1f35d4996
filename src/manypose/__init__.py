"""manypose: multi-person 2D human pose estimation, fast on CPU and offline out of the box.

    import manypose
    estimator = manypose.load()            # the bundled default model, yolo11n-pose
    poses = estimator("photo.jpg")         # or a BGR numpy array
    poses.keypoints                        # (N, 17, 3) x, y, confidence
    poses.to_coco(image_id=1); poses.draw(image)
    for poses in estimator.track(frames):  # video frames: poses.track_ids persist across frames
        ...
"""
from __future__ import annotations

from .estimator import PoseEstimator
from .loading import load
from .poses import Poses
from .skeleton import COCO17, CROWDPOSE14, OPENPOSE18, Skeleton

__version__ = "0.1.0"
__all__ = ["load", "PoseEstimator", "Poses", "Skeleton", "COCO17", "OPENPOSE18", "CROWDPOSE14"]
