"""Painting poses onto images with the skeleton's edges and colours."""
from __future__ import annotations

import cv2
import numpy as np

BOX_COLOUR = (60, 220, 60)
POINT_COLOUR = (255, 255, 255)


def draw_poses(image: np.ndarray, poses, keypoint_threshold: float = 0.5, boxes: bool = True) -> np.ndarray:
    """Draw in place on a BGR image and return it. Line width follows the image size."""
    thickness = max(1, round(max(image.shape[:2]) / 400))
    skeleton = poses.skeleton
    for keypoints, box in zip(poses.keypoints, poses.boxes):
        if boxes:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(image, (x1, y1), (x2, y2), BOX_COLOUR, thickness, cv2.LINE_AA)
        visible = keypoints[:, 2] >= keypoint_threshold
        points = np.round(keypoints[:, :2]).astype(int)
        for (a, b), colour in zip(skeleton.edges, skeleton.edge_colours):
            if visible[a] and visible[b]:
                cv2.line(image, tuple(points[a]), tuple(points[b]), colour, thickness + 1, cv2.LINE_AA)
        for point in points[visible]:
            cv2.circle(image, tuple(point), thickness + 2, POINT_COLOUR, -1, cv2.LINE_AA)
    return image
