"""Tracking people across video frames: persistent ids and keypoint smoothing.

`PoseTracker.update(poses, timestamp)` matches a frame's people to the tracks ByteTrack's way:
confident people first, then the doubtful ones against the tracks still unmatched, so a person
whose score dips (motion blur, partial occlusion) keeps the track instead of being dropped.
Similarity is the mean of OKS (the keypoints, scaled by the person's size) and box IoU against
each track's constant-velocity prediction (velocity from the keypoints, which an obstacle cutting
the box does not move), blended with appearance (colour histograms of torso and legs, see
manypose.appearance) where the frame is given, assigned with the Hungarian method. A part of a
person found beside the whole (a box mostly inside a larger one, with the same keypoints) counts once.
A track is tentative until seen in `confirm_frames` frames running, then confirmed (it gets an id
and is reported), lost while unseen (kept `max_lost_frames` frames, so a person hidden for a while
keeps the id), then removed. A lost track is taken up again by a person who looks like it and is
within reach of where it would have walked, even where its motion no longer predicts the person;
a new track within that reach waits a few frames more for its id, until the looks can tell.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from .appearance import DESCRIPTOR_SIZE, appearance_descriptors, appearance_similarity
from .decoders.nms import box_area, box_extent, box_iou, box_scale, box_share_inside
from .option_checks import check_number, check_switch, check_whole_number
from .poses import Poses
from .similarity import object_keypoint_similarity, pose_similarity
from .skeleton import Skeleton

TENTATIVE, CONFIRMED, LOST = "tentative", "confirmed", "lost"
DUPLICATE_INSIDE, DUPLICATE_OKS = 0.8, 0.7  # a box this much inside another, keypoints this alike: one person
MIN_SHARED_KEYPOINTS = 3  # keypoints seen in both frames from which they tell the motion


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
    appearance: bool = True          # colours of torso and legs help tell people apart (needs the frames)
    appearance_weight: float = 0.3   # how much unlike looks discount the motion similarity
    reid_similarity: float = 0.75    # the appearance from which a lost track is taken up again
    reid_reach: float = 1.0          # how far from its prediction: person heights, plus this many per second lost
    reid_wait_frames: int = 8        # more frames a new track within reach of a lost one waits for its id
    max_crowding: float = 0.3        # a person overlapping another more (box IoU) does not update its looks
    max_inside: float = 0.7          # a new person with more of their box inside a followed one's starts no track

    def __post_init__(self):
        for name in ("high_score", "low_score", "min_similarity", "min_low_similarity", "appearance_weight",
                     "reid_similarity", "max_crowding", "max_inside"):
            check_number(name, getattr(self, name), 0, 1)
        if self.low_score > self.high_score:
            raise ValueError(f"low_score ({self.low_score}) must not be above high_score ({self.high_score})")
        check_whole_number("confirm_frames", self.confirm_frames, 1)
        check_whole_number("max_lost_frames", self.max_lost_frames, 0)
        check_whole_number("reid_wait_frames", self.reid_wait_frames, 0)
        check_switch("smooth", self.smooth)
        check_switch("appearance", self.appearance)
        check_number("reid_reach", self.reid_reach, 0)
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
    looks: np.ndarray = field(default_factory=lambda: np.zeros(DESCRIPTOR_SIZE, np.float32))  # appearance
    seen: np.ndarray | None = None  # the keypoints as last found, unsmoothed: what matching compares

    @property
    def last_found(self) -> np.ndarray:
        """The keypoints as last found (smoothing, which lags, is for reporting)."""
        return self.keypoints if self.seen is None else self.seen

    def predicted(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints as last found and box, moved at the track's velocity to `time`."""
        shift = self.velocity * (time - self.time)
        keypoints = self.last_found.copy()
        keypoints[:, :2] += shift
        return keypoints, self.box + np.tile(shift, 2)

    @property
    def scale(self) -> float:
        return box_scale(self.box)


class PoseTracker:
    """Frame by frame: `update(poses, timestamp)` returns the frame's tracked people, with
    `track_ids` filled (ids count from 1 in order of confirmation)."""

    def __init__(self, skeleton: Skeleton, options: TrackerOptions | None = None,
                 keypoint_threshold: float = 0.5):
        self.skeleton = skeleton
        self.options = options or TrackerOptions()
        self.keypoint_threshold = keypoint_threshold
        self.tracks: list[Track] = []
        self.appearances: dict[int, np.ndarray] = {}  # each id's latest looks, for offline tracking
        self._ids = itertools.count(1)
        self._started = False

    def update(self, poses: Poses, timestamp: float, image: np.ndarray | None = None) -> Poses:
        """The frame's tracked people; `image`, the frame the poses were found in, lets
        appearance help (see TrackerOptions.appearance)."""
        options = self.options
        poses = self._without_duplicates(poses)
        high = np.flatnonzero(poses.scores >= options.high_score)
        low = np.flatnonzero((poses.scores >= options.low_score) & (poses.scores < options.high_score))
        active = [t for t in self.tracks if t.state != TENTATIVE]
        tentative = [t for t in self.tracks if t.state == TENTATIVE]
        frame = self._frame_looks(poses, image)

        first, high_left, active_left = self._match(active, high, poses, timestamp, options.min_similarity, frame)
        # only then by looks alone: a lost track must not take a person that motion explains
        lost = [t for t in active_left if t.state == LOST]
        found, high_left, _ = self._match(lost, high_left, poses, timestamp, options.reid_similarity, frame, True)
        still_seen = [t for t in active_left if t.state == CONFIRMED]
        second, _, _ = self._match(still_seen, low, poses, timestamp, options.min_low_similarity, frame)
        third, high_left, _ = self._match(tentative, high_left, poses, timestamp, options.min_similarity, frame)

        matched = first + found + second + third
        for track, person in matched:
            self._follow(track, poses, person, timestamp, frame)
        high_left = self._not_inside(high_left, [person for _, person in matched], poses)
        born = [self._start(poses, person, timestamp, frame) for person in high_left]
        seen = {id(track) for track, _ in matched} | {id(track) for track in born}
        self._age(seen)
        self._started = self._started or bool(born)
        return self._report(poses, matched + list(zip(born, high_left)))

    def _without_duplicates(self, poses: Poses) -> Poses:
        """One person per body: a box mostly inside a larger one whose keypoints agree with it is
        the same person found twice (box suppression keeps the part of a person that an obstacle
        or another person leaves whole); the larger box stays, with the higher score of the two."""
        if len(poses) < 2:
            return poses
        inside = box_share_inside(poses.boxes[:, None], poses.boxes[None])
        areas = box_area(poses.boxes)
        oks, shared = object_keypoint_similarity(poses.keypoints, poses.boxes, poses.keypoints,
                                                 self.skeleton.sigmas, self.keypoint_threshold)
        same = (inside >= DUPLICATE_INSIDE) & shared & (oks >= DUPLICATE_OKS) & (areas[:, None] < areas[None])
        if not same.any():
            return poses
        scores = poses.scores.copy()
        for part, whole in zip(*np.nonzero(same)):
            scores[whole] = max(scores[whole], poses.scores[part])
        kept = np.flatnonzero(~same.any(axis=1))
        return replace(poses, keypoints=poses.keypoints[kept], scores=scores[kept], boxes=poses.boxes[kept])

    def _not_inside(self, people, followed, poses: Poses):
        """The people who may start a track: not a part of someone followed in this frame (a
        second box on the half of a person that an obstacle cuts off would start a rival track)."""
        if len(people) == 0 or len(followed) == 0:
            return people
        inside = box_share_inside(poses.boxes[people][:, None], poses.boxes[followed][None])
        return np.asarray(people)[inside.max(axis=1) < self.options.max_inside]

    def _frame_looks(self, poses: Poses, image):
        """The people's appearance descriptors and whether each is clear of the others, or None
        without a frame (or with appearance off)."""
        if image is None or not self.options.appearance:
            return None
        looks = appearance_descriptors(image, poses.keypoints, poses.boxes, self.keypoint_threshold)
        overlaps = box_iou(poses.boxes[:, None], poses.boxes[None]) if len(poses) else np.zeros((0, 0))
        np.fill_diagonal(overlaps, 0.0)
        clear = overlaps.max(axis=1, initial=0.0) <= self.options.max_crowding
        return looks, clear

    def _match(self, tracks, people, poses, timestamp, min_similarity, frame, by_looks: bool = False):
        """Hungarian assignment of tracks to people (`by_looks`: lost tracks by appearance within
        reach); returns the pairs, the people left and the tracks left."""
        if len(tracks) == 0 or len(people) == 0 or (by_looks and frame is None):
            return [], np.asarray(people), tracks
        similarity = (self._reidentification if by_looks else self._similarity)(tracks, people, poses, timestamp, frame)
        rows, columns = linear_sum_assignment(-similarity)
        pairs = [(tracks[r], people[c]) for r, c in zip(rows, columns) if similarity[r, c] >= min_similarity]
        paired_people = {person for _, person in pairs}
        paired_tracks = {id(track) for track, _ in pairs}
        return (pairs, np.asarray([p for p in people if p not in paired_people], dtype=int),
                [t for t in tracks if id(t) not in paired_tracks])

    def _similarity(self, tracks, people, poses, timestamp, frame) -> np.ndarray:
        """(tracks, people) similarity: motion (pose and box against the prediction), discounted
        for unlike looks."""
        predictions = [t.predicted(timestamp) for t in tracks]
        motion = pose_similarity(np.stack([k for k, _ in predictions]), np.stack([b for _, b in predictions]),
                                 poses.keypoints[people], poses.boxes[people], self.skeleton.sigmas,
                                 self.keypoint_threshold)
        if frame is None:
            return motion
        looks, known = self._looks(tracks, people, frame)
        # appearance only discounts motion: it tells apart people near a prediction, and never
        # makes a match of someone far from it
        return np.where(known, motion * (1 - self.options.appearance_weight * (1 - looks)), motion)

    def _reidentification(self, tracks, people, poses, timestamp, frame) -> np.ndarray:
        """(lost tracks, people) appearance similarity, 0 beyond reach of where each track was heading."""
        looks, known = self._looks(tracks, people, frame)
        return np.where(known & self._within_reach(tracks, poses.boxes[people], timestamp), looks, 0.0)

    def _within_reach(self, tracks, boxes, timestamp) -> np.ndarray:
        """(lost tracks, boxes): whether each box's centre is within reach of where each track
        was heading (its height, plus reid_reach of it per second lost)."""
        lost_seconds = np.array([timestamp - t.time for t in tracks])[:, None]
        reach = np.array([box_extent(t.box) for t in tracks])[:, None] * (1 + self.options.reid_reach * lost_seconds)
        predicted = np.stack([t.predicted(timestamp)[1] for t in tracks])
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        distance = np.linalg.norm((predicted[:, None, :2] + predicted[:, None, 2:]) / 2 - centres[None], axis=-1)
        return distance <= reach

    def _may_be_lost(self, track: Track, timestamp: float) -> bool:
        """Whether a new track may be a lost one coming back (within its reach) whose looks do
        not tell yet (a person coming out from behind an obstacle shows a sliver first): it
        waits up to reid_wait_frames for re-identification to take its person."""
        lost = [t for t in self.tracks if t.state == LOST and t.looks.any()]
        if track.hits >= self.options.confirm_frames + self.options.reid_wait_frames or not lost:
            return False
        return bool(self._within_reach(lost, track.box[None], timestamp).any())

    @staticmethod
    def _looks(tracks, people, frame):
        """Appearance similarity of tracks and people, and where both have a look at all."""
        descriptors = frame[0][people]
        known = np.stack([t.looks.any() for t in tracks])[:, None] & descriptors.any(axis=1)[None]
        return appearance_similarity(np.stack([t.looks for t in tracks]), descriptors), known

    def _follow(self, track: Track, poses: Poses, person: int, timestamp: float, frame) -> None:
        box = poses.boxes[person].astype(np.float64)
        elapsed = timestamp - track.time
        if elapsed > 0:
            moved = self._displacement(track, poses.keypoints[person], box) / elapsed
            track.velocity = moved if track.hits == 1 else 0.5 * (track.velocity + moved)
        track.box = box
        track.keypoints = self._smoothed(track, poses.keypoints[person], timestamp)
        track.seen = poses.keypoints[person].astype(np.float64)
        track.time = timestamp
        track.hits += 1
        track.missed = 0
        self._remember_looks(track, person, frame)
        if track.state == LOST or (track.state == TENTATIVE and track.hits >= self.options.confirm_frames
                                   and not self._may_be_lost(track, timestamp)):
            self._confirm(track)

    def _displacement(self, track: Track, keypoints: np.ndarray, box: np.ndarray) -> np.ndarray:
        """How far the person moved since the track last saw them: the median shift of the
        keypoints seen both times (a box cut by an obstacle shrinks and its centre moves where
        the person does not), else the box centre's shift."""
        before = track.last_found
        both = (before[:, 2] >= self.keypoint_threshold) & (keypoints[:, 2] >= self.keypoint_threshold)
        if both.sum() >= MIN_SHARED_KEYPOINTS:
            return np.median(keypoints[both, :2] - before[both, :2], axis=0)
        return ((box[:2] + box[2:]) - (track.box[:2] + track.box[2:])) / 2

    def _smoothed(self, track: Track, keypoints: np.ndarray, timestamp: float) -> np.ndarray:
        keypoints = keypoints.astype(np.float64)
        if track.smoother is not None:
            keypoints[:, :2] = track.smoother(keypoints[:, :2], timestamp, track.scale)
        return keypoints

    def _remember_looks(self, track: Track, person: int, frame) -> None:
        """A running mean of the person's appearance, from frames where no one else overlaps them."""
        if frame is None or not frame[1][person] or not frame[0][person].any():
            return
        looks = frame[0][person]
        track.looks = looks if not track.looks.any() else 0.9 * track.looks + 0.1 * looks
        if track.track_id > 0:
            self.appearances[track.track_id] = track.looks

    def _start(self, poses: Poses, person: int, timestamp: float, frame=None) -> Track:
        options = self.options
        smoother = OneEuroFilter(options.min_cutoff_hz, options.beta) if options.smooth else None
        track = Track(poses.keypoints[person].astype(np.float64), poses.boxes[person].astype(np.float64),
                      timestamp, smoother=smoother)
        track.keypoints = self._smoothed(track, poses.keypoints[person], timestamp)
        track.seen = poses.keypoints[person].astype(np.float64)
        self._remember_looks(track, person, frame)
        if not self._started or options.confirm_frames == 1:  # the first people seen have no history to wait for
            self._confirm(track)
        self.tracks.append(track)
        return track

    def _confirm(self, track: Track) -> None:
        if track.track_id < 0:
            track.track_id = next(self._ids)
            if track.looks.any():
                self.appearances[track.track_id] = track.looks
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
