"""Tracking people across video frames: persistent ids and keypoint smoothing.

`PoseTracker.update(poses, timestamp)` matches a frame's people to the tracks ByteTrack's way:
confident people first, then the doubtful ones against the tracks still unmatched, so a person
whose score dips (motion blur, partial occlusion) keeps the track instead of being dropped.
Similarity is the mean of OKS (the keypoints, scaled by the person's size) and box IoU against
each track's constant-velocity prediction, assigned with the Hungarian method. A track is
tentative until seen in `confirm_frames` frames running, then confirmed (it gets an id and is
reported), lost while unseen (kept `max_lost_frames` frames, so a person hidden for a while keeps
the id), then removed.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .option_checks import check_number, check_switch, check_whole_number
from .poses import Poses
from .similarity import pose_similarity
from .skeleton import Skeleton

TENTATIVE, CONFIRMED, LOST = "tentative", "confirmed", "lost"


@dataclass(frozen=True)
class TrackerOptions:
    high_score: float = 0.25         # people matched in the first stage, who may start a track (as predict reports)
    low_score: float = 0.1           # doubtful people, matched in the second stage only
    min_similarity: float = 0.2      # weakest match in the first stage (similarity is 0..1)
    min_low_similarity: float = 0.4  # doubtful people must overlap their track more
    confirm_frames: int = 2          # frames running before a new track is reported
    max_lost_frames: int = 30        # frames a track waits for its person to come back
    smooth: bool = True              # One-Euro filter on the keypoints
    min_cutoff_hz: float = 1.0       # One-Euro: smoothing of a still person (lower: smoother)
    beta: float = 2.0                # One-Euro: how fast the smoothing lets go with speed

    def __post_init__(self):
        for name in ("high_score", "low_score", "min_similarity", "min_low_similarity"):
            check_number(name, getattr(self, name), 0, 1)
        if self.low_score > self.high_score:
            raise ValueError(f"low_score ({self.low_score}) must not be above high_score ({self.high_score})")
        check_whole_number("confirm_frames", self.confirm_frames, 1)
        check_whole_number("max_lost_frames", self.max_lost_frames, 0)
        check_switch("smooth", self.smooth)
        check_number("min_cutoff_hz", self.min_cutoff_hz, 0, low_open=True)
        check_number("beta", self.beta, 0)


class OneEuroFilter:
    """The One-Euro filter (Casiez et al. 2012) on an array of coordinates, element-wise.

    Time is in seconds and cutoffs in hertz, so the smoothing is the same at any frame rate.
    Speed enters the cutoff in units of `scale` per second (the person's size), so a person far
    from the camera is smoothed like a near one.
    """

    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 2.0, derivative_cutoff_hz: float = 1.0):
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.derivative_cutoff_hz = derivative_cutoff_hz
        self.value = None   # filtered
        self.raw = None     # the last input: speed from raw samples does not depend on the rate
        self.speed = None
        self.time = None

    def __call__(self, value: np.ndarray, time: float, scale: float = 1.0) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self.value is None or time <= self.time:
            self.value, self.raw, self.speed, self.time = value.copy(), value.copy(), np.zeros_like(value), time
            return value
        elapsed = time - self.time
        speed = (value - self.raw) / elapsed
        self.speed += _smoothing(self.derivative_cutoff_hz, elapsed) * (speed - self.speed)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self.speed) / max(scale, 1e-6)
        self.value += _smoothing(cutoff, elapsed) * (value - self.value)
        self.raw, self.time = value.copy(), time  # the caller may smooth its array in place
        return self.value.copy()


def _smoothing(cutoff_hz, elapsed: float):
    """The weight of a new sample in an exponential low-pass with this cutoff after `elapsed` s."""
    time_constant = 1.0 / (2 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + time_constant / elapsed)


@dataclass
class Track:
    keypoints: np.ndarray  # (K, 3), smoothed when the tracker smooths
    box: np.ndarray        # (4,) x1, y1, x2, y2
    time: float
    state: str = TENTATIVE
    track_id: int = -1
    hits: int = 1
    missed: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # pixels per second
    smoother: OneEuroFilter | None = None

    def predicted(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints and box moved at the track's velocity to `time`."""
        shift = self.velocity * (time - self.time)
        keypoints = self.keypoints.copy()
        keypoints[:, :2] += shift
        return keypoints, self.box + np.tile(shift, 2)

    @property
    def scale(self) -> float:
        width, height = self.box[2:] - self.box[:2]
        return math.sqrt(max(width * height, 1.0))


class PoseTracker:
    """Frame by frame: `update(poses, timestamp)` returns the frame's tracked people, with
    `track_ids` filled (ids count from 1 in order of confirmation)."""

    def __init__(self, skeleton: Skeleton, options: TrackerOptions | None = None,
                 keypoint_threshold: float = 0.5):
        self.skeleton = skeleton
        self.options = options or TrackerOptions()
        self.keypoint_threshold = keypoint_threshold
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._started = False

    def update(self, poses: Poses, timestamp: float) -> Poses:
        options = self.options
        high = np.flatnonzero(poses.scores >= options.high_score)
        low = np.flatnonzero((poses.scores >= options.low_score) & (poses.scores < options.high_score))
        active = [t for t in self.tracks if t.state != TENTATIVE]
        tentative = [t for t in self.tracks if t.state == TENTATIVE]

        first, high_left, active_left = self._match(active, high, poses, timestamp, options.min_similarity)
        still_seen = [t for t in active_left if t.state == CONFIRMED]
        second, _, _ = self._match(still_seen, low, poses, timestamp, options.min_low_similarity)
        third, high_left, _ = self._match(tentative, high_left, poses, timestamp, options.min_similarity)

        matched = first + second + third
        for track, person in matched:
            self._follow(track, poses, person, timestamp)
        born = [self._start(poses, person, timestamp) for person in high_left]
        seen = {id(track) for track, _ in matched} | {id(track) for track in born}
        self._age(seen)
        self._started = self._started or bool(born)
        return self._report(poses, matched + list(zip(born, high_left)))

    def _match(self, tracks, people, poses, timestamp, min_similarity):
        """Hungarian assignment of tracks to people; returns the pairs, the people left and the
        tracks left."""
        if len(tracks) == 0 or len(people) == 0:
            return [], np.asarray(people), tracks
        predictions = [t.predicted(timestamp) for t in tracks]
        similarity = pose_similarity(
            np.stack([k for k, _ in predictions]), np.stack([b for _, b in predictions]),
            poses.keypoints[people], poses.boxes[people], self.skeleton.sigmas, self.keypoint_threshold)
        rows, columns = linear_sum_assignment(-similarity)
        pairs = [(tracks[r], people[c]) for r, c in zip(rows, columns) if similarity[r, c] >= min_similarity]
        paired_people = {person for _, person in pairs}
        paired_tracks = {id(track) for track, _ in pairs}
        return (pairs, np.asarray([p for p in people if p not in paired_people], dtype=int),
                [t for t in tracks if id(t) not in paired_tracks])

    def _follow(self, track: Track, poses: Poses, person: int, timestamp: float) -> None:
        box = poses.boxes[person].astype(np.float64)
        elapsed = timestamp - track.time
        if elapsed > 0:
            moved = ((box[:2] + box[2:]) - (track.box[:2] + track.box[2:])) / 2 / elapsed
            track.velocity = moved if track.hits == 1 else 0.5 * (track.velocity + moved)
        track.box = box
        track.keypoints = self._smoothed(track, poses.keypoints[person], timestamp)
        track.time = timestamp
        track.hits += 1
        track.missed = 0
        if track.state == LOST or (track.state == TENTATIVE and track.hits >= self.options.confirm_frames):
            self._confirm(track)

    def _smoothed(self, track: Track, keypoints: np.ndarray, timestamp: float) -> np.ndarray:
        keypoints = keypoints.astype(np.float64)
        if track.smoother is not None:
            keypoints[:, :2] = track.smoother(keypoints[:, :2], timestamp, track.scale)
        return keypoints

    def _start(self, poses: Poses, person: int, timestamp: float) -> Track:
        options = self.options
        smoother = OneEuroFilter(options.min_cutoff_hz, options.beta) if options.smooth else None
        track = Track(poses.keypoints[person].astype(np.float64), poses.boxes[person].astype(np.float64),
                      timestamp, smoother=smoother)
        track.keypoints = self._smoothed(track, poses.keypoints[person], timestamp)
        if not self._started or options.confirm_frames == 1:  # the first people seen have no history to wait for
            self._confirm(track)
        self.tracks.append(track)
        return track

    def _confirm(self, track: Track) -> None:
        if track.track_id < 0:
            track.track_id = next(self._ids)
        track.state = CONFIRMED

    def _age(self, seen: set) -> None:
        kept = []
        for track in self.tracks:
            if id(track) not in seen:
                track.missed += 1
                if track.state == TENTATIVE or track.missed > self.options.max_lost_frames:
                    continue
                track.state = LOST
            kept.append(track)
        self.tracks = kept

    def _report(self, poses: Poses, pairs) -> Poses:
        """The frame's people who belong to confirmed tracks, with the tracks' (smoothed) keypoints."""
        reported = sorted(((t, p) for t, p in pairs if t.state == CONFIRMED), key=lambda pair: pair[0].track_id)
        people = np.asarray([p for _, p in reported], dtype=int)
        keypoints = np.stack([t.keypoints for t, _ in reported]).astype(np.float32) if reported else \
            poses.keypoints[people]
        return Poses(keypoints, poses.scores[people], poses.boxes[people], poses.skeleton, poses.image_size,
                     poses.keypoint_threshold, np.asarray([t.track_id for t, _ in reported], dtype=np.int64))
