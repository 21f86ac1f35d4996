"""Painting poses onto images with the skeleton's edges and colours."""
from __future__ import annotations

import cv2
import numpy as np

BOX_COLOUR = (60, 220, 60)
POINT_COLOUR = (255, 255, 255)
KEYPOINT_OBJECT_COLOUR = (0, 255, 255)  # as KAPAO's demo draws them
GOLDEN_ANGLE = 0.381966  # hue steps that keep consecutive track ids far apart in colour


def draw_poses(image: np.ndarray, poses, keypoint_threshold: float = 0.5, boxes: bool = True,
               keypoint_objects: bool = False) -> np.ndarray:
    """Draw in place on a BGR image and return it. Line width follows the image size; tracked
    people get a box colour and a label of their id; with `keypoint_objects`, the boxes of
    KAPAO's keypoint objects (where the poses have them)."""
    thickness = max(1, round(max(image.shape[:2]) / 400))
    skeleton = poses.skeleton
    for person, (keypoints, box) in enumerate(zip(poses.keypoints, poses.boxes)):
        track_id = None if poses.track_ids is None else int(poses.track_ids[person])
        if boxes:
            _draw_box(image, box, track_id, thickness)
        visible = keypoints[:, 2] >= keypoint_threshold
        points = np.round(keypoints[:, :2]).astype(int)
        for (a, b), colour in zip(skeleton.edges, skeleton.edge_colours):
            if visible[a] and visible[b]:
                cv2.line(image, tuple(points[a]), tuple(points[b]), colour, thickness + 1, cv2.LINE_AA)
        for point in points[visible]:
            cv2.circle(image, tuple(point), thickness + 2, POINT_COLOUR, -1, cv2.LINE_AA)
    if keypoint_objects and poses.keypoint_objects is not None:
        _draw_keypoint_objects(image, poses.keypoint_objects, thickness)
    return image


def _draw_keypoint_objects(image: np.ndarray, objects, thickness: int) -> None:
    for box in objects.boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), KEYPOINT_OBJECT_COLOUR, thickness, cv2.LINE_AA)


def _draw_box(image: np.ndarray, box, track_id, thickness: int) -> None:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    colour = BOX_COLOUR if track_id is None else track_colour(track_id)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
    if track_id is not None:
        scale = 0.4 * thickness + 0.2
        cv2.putText(image, f"id {track_id}", (x1 + 2, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    colour, thickness, cv2.LINE_AA)


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A bright BGR colour of its own for each track id."""
    hue = int((track_id * GOLDEN_ANGLE) % 1.0 * 180)
    pixel = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(v) for v in pixel)
