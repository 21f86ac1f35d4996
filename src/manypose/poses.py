"""The result of pose estimation on one image."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from .skeleton import COCO17, Skeleton


@dataclass
class Poses:
    """People found in one image, in original-image pixels.

    keypoints: (N, K, 3) x, y, confidence; scores: (N,) person scores; boxes: (N, 4) x1, y1, x2, y2;
    track_ids: (N,) ids that persist across the frames of a video, when tracked (else None);
    interpolated: (N,) True for people filled in between two sightings by offline tracking;
    keypoint_objects: KAPAO's keypoints found as objects of their own (decoders.kapao_fusion
    KeypointObjects, image pixels), for models that find them.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    skeleton: Skeleton = COCO17
    image_size: tuple[int, int] = (0, 0)  # width, height
    keypoint_threshold: float = 0.5  # confidence from which the model's keypoints count as seen
    track_ids: Optional[np.ndarray] = None
    interpolated: Optional[np.ndarray] = None
    keypoint_objects: Optional[object] = None

    @classmethod
    def empty(cls, skeleton: Skeleton = COCO17, image_size: tuple[int, int] = (0, 0)) -> "Poses":
        return cls(np.zeros((0, len(skeleton.keypoints), 3), np.float32), np.zeros(0, np.float32),
                   np.zeros((0, 4), np.float32), skeleton, image_size)

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        tracked = ", tracked" if self.track_ids is not None else ""
        return f"Poses({len(self)} people, skeleton={self.skeleton.name}, image_size={self.image_size}{tracked})"

    def enlarged(self, factor: float, image_size: tuple[int, int]) -> "Poses":
        """These poses on the same picture `factor` times larger, (width, height) `image_size`
        (found on a reduced decoding of it), kept inside it."""
        width, height = image_size
        keypoints, boxes = self.keypoints.copy(), self.boxes * np.float32(factor)
        keypoints[..., :2] *= np.float32(factor)
        clip_into_image(keypoints, boxes, width, height)
        parts = None if self.keypoint_objects is None else self.keypoint_objects.mapped(lambda xy: xy * factor)
        return replace(self, keypoints=keypoints, boxes=boxes, image_size=(int(width), int(height)),
                       keypoint_objects=parts)

    def to_coco(self, image_id, category_id: int = 1) -> list[dict]:
        """COCO results format (keypoints flattened as x, y, confidence; bbox as x, y, w, h)."""
        results = []
        for keypoints, score, box in zip(self.keypoints, self.scores, self.boxes):
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append({
                "image_id": image_id,
                "category_id": category_id,
                "keypoints": [round(float(v), 2) for v in keypoints.reshape(-1)],
                "score": round(float(score), 5),
                "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
            })
        return results

    def to_dicts(self) -> list[dict]:
        """One plain dict per person, for JSON output."""
        people = []
        for person, (keypoints, score, box) in enumerate(zip(self.keypoints, self.scores, self.boxes)):
            entry = {"track_id": int(self.track_ids[person])} if self.track_ids is not None else {}
            if self.interpolated is not None and self.interpolated[person]:
                entry["interpolated"] = True
            entry.update({
                "score": round(float(score), 5),
                "box": [round(float(v), 2) for v in box],
                "keypoints": [[round(float(v), 2) for v in point] for point in keypoints],
            })
            people.append(entry)
        return people

    def draw(self, image: np.ndarray, keypoint_threshold: float | None = None, boxes: bool = True,
             keypoint_objects: bool = False) -> np.ndarray:
        """A copy of the BGR image with skeletons (and boxes) drawn on it; with `keypoint_objects`,
        the boxes of KAPAO's keypoint objects too."""
        from .draw import draw_poses

        threshold = self.keypoint_threshold if keypoint_threshold is None else keypoint_threshold
        return draw_poses(image.copy(), self, threshold, boxes, keypoint_objects)


def clip_into_image(keypoints: np.ndarray, boxes: np.ndarray, width: float, height: float) -> None:
    """Keypoints (N, K, 2+) and boxes xyxy (N, 4) moved, in place, inside a width x height image."""
    np.clip(keypoints[..., 0], 0, width, out=keypoints[..., 0])
    np.clip(keypoints[..., 1], 0, height, out=keypoints[..., 1])
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
