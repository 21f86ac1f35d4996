"""Synthetic pose sequences with known identities, for tracker tests: people as COCO-17 stick
figures moving along paths, with noise, misses and occlusions."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from manypose.poses import Poses
from manypose.skeleton import COCO17

# a standing person, x and y in units of body height, origin at the box's top left
STANDING = np.array([
    [0.20, 0.06], [0.22, 0.04], [0.18, 0.04], [0.25, 0.05], [0.15, 0.05],   # face
    [0.30, 0.20], [0.10, 0.20], [0.35, 0.38], [0.05, 0.38], [0.36, 0.52],   # arms
    [0.04, 0.52], [0.27, 0.52], [0.13, 0.52], [0.28, 0.75], [0.12, 0.75],   # hips, knees
    [0.28, 0.98], [0.12, 0.98]])                                           # ankles
WIDTH = 0.40  # box width in body heights


@dataclass
class Walker:
    """A person of `height` pixels whose box's top left moves from `start` at `velocity` pixels
    per second, present from `enter` to `leave` seconds, hidden during `hidden` intervals."""

    identity: int
    start: tuple[float, float]
    velocity: tuple[float, float]
    height: float = 200.0
    enter: float = 0.0
    leave: float = np.inf
    hidden: list = field(default_factory=list)
    score: float = 0.9

    def visible(self, time: float) -> bool:
        return self.enter <= time < self.leave and not any(a <= time < b for a, b in self.hidden)

    def pose(self, time: float, rng: np.random.Generator, jitter: float):
        corner = np.asarray(self.start) + np.asarray(self.velocity) * (time - self.enter)
        points = corner + STANDING * self.height + rng.normal(0, jitter * self.height, STANDING.shape)
        keypoints = np.concatenate([points, np.full((17, 1), 0.9)], axis=1)
        box = np.concatenate([corner, corner + [WIDTH * self.height, self.height]])
        return keypoints, box


def person(corner, pose=STANDING, height=200.0, confidence=0.9):
    """Keypoints and box of a person whose box's top left is at `corner`."""
    corner = np.asarray(corner, dtype=np.float64)
    keypoints = np.concatenate([corner + pose * height, np.full((len(pose), 1), confidence)], axis=1)
    return keypoints, np.concatenate([corner, corner + [WIDTH * height, height]])


def sequence(walkers, seconds: float, fps: float, jitter: float = 0.0, miss_rate: float = 0.0,
             low_score_rate: float = 0.0, seed: int = 0):
    """[(timestamp, Poses, identities)] per frame: the poses of the people visible, each missed
    with probability `miss_rate` and given a doubtful score (0.2) with `low_score_rate`."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(int(round(seconds * fps))):
        time = index / fps
        people = [w for w in walkers if w.visible(time) and rng.random() >= miss_rate]
        poses = [w.pose(time, rng, jitter) for w in people]
        scores = [0.2 if rng.random() < low_score_rate else w.score for w in people]
        frames.append((time, poses_of(poses, scores), [w.identity for w in people]))
    return frames


def poses_of(poses, scores) -> Poses:
    if not poses:
        return Poses.empty(COCO17, (1920, 1080))
    keypoints = np.stack([k for k, _ in poses]).astype(np.float32)
    boxes = np.stack([b for _, b in poses]).astype(np.float32)
    return Poses(keypoints, np.asarray(scores, np.float32), boxes, COCO17, (1920, 1080))
