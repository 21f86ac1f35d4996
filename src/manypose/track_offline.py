"""Offline tracking of a recording (`manypose video --offline`): a second pass over the online
tracker's results, which can look ahead.

1. Gap closing: a track that ends and one that starts later (within `max_gap_seconds`) are one
   person when they look alike (the online tracker's appearance of each) and the later one starts
   within reach of where the earlier one was heading; pairs are chosen together (Hungarian), so
   two people hidden at once are not crossed.
2. Interpolation: a person missing for up to `max_interpolated_seconds` between two sightings is
   filled in, keypoints and box on the straight line between them, confidences the lower of the
   two ends (so a weak keypoint stays weak); those people are marked `interpolated`.
3. Smoothing: each keypoint's path is low-passed forwards and backwards (no lag, unlike the
   online One-Euro filter), over runs where it is seen.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import butter, filtfilt

from .decoders.nms import box_extent
from .option_checks import check_number
from .poses import Poses

FILTER_ORDER = 2
MIN_SMOOTHED_RUN = 10  # filtfilt pads 3 * (order + 1) samples on each side; shorter runs stay as they are
VELOCITY_FRAMES = 5    # the last sightings a track's heading is measured over


@dataclass(frozen=True)
class OfflineOptions:
    max_gap_seconds: float = 3.0           # tracks further apart in time are never joined
    min_link_looks: float = 0.7            # how alike two tracks must look to be joined
    link_reach: float = 1.0                # person heights from the heading, plus this many per second of gap
    max_interpolated_seconds: float = 1.0  # longer gaps are left empty
    smoothing_hz: float = 2.0              # cutoff of the forward-backward low-pass; 0: no smoothing

    def __post_init__(self):
        for name in ("max_gap_seconds", "link_reach", "max_interpolated_seconds", "smoothing_hz"):
            check_number(name, getattr(self, name), 0)
        check_number("min_link_looks", self.min_link_looks, 0, 1)


@dataclass
class Tracklet:
    track_id: int
    frames: list = field(default_factory=list)  # positions in the recording, rising
    people: list = field(default_factory=list)  # (keypoints, box, score) at each
    interpolated: list = field(default_factory=list)  # whether each was filled in

    def centre(self, at: int) -> np.ndarray:
        box = self.people[at][1]
        return (box[:2] + box[2:]) / 2

    def extent(self, at: int) -> float:
        return box_extent(self.people[at][1])


def refine_tracks(frames: list[Poses], timestamps, looks: dict, options: OfflineOptions = OfflineOptions()) -> list[Poses]:
    """The frames' tracked poses after gap closing, interpolation and smoothing; `looks` maps
    track ids to their appearance descriptors (PoseTracker.appearances)."""
    times = np.asarray(timestamps, dtype=np.float64)
    tracklets = _tracklets(frames)
    joined = _joined(tracklets, times, looks, options)
    for tracklet in joined:
        _interpolate(tracklet, times, options.max_interpolated_seconds)
        if options.smoothing_hz > 0:
            _smooth(tracklet, times, options.smoothing_hz, frames[0].keypoint_threshold if frames else 0.5)
    return _frames_of(joined, frames)


def _tracklets(frames: list[Poses]) -> list[Tracklet]:
    by_id: dict[int, Tracklet] = {}
    for position, poses in enumerate(frames):
        for person, track_id in enumerate(poses.track_ids if poses.track_ids is not None else []):
            tracklet = by_id.setdefault(int(track_id), Tracklet(int(track_id)))
            tracklet.frames.append(position)
            tracklet.people.append((poses.keypoints[person].astype(np.float64), poses.boxes[person].astype(np.float64),
                                    float(poses.scores[person])))
    return sorted(by_id.values(), key=lambda t: t.frames[0])


def _joined(tracklets: list[Tracklet], times, looks: dict, options: OfflineOptions) -> list[Tracklet]:
    """Tracklets joined into people, each keeping its first tracklet's id."""
    score = np.full((len(tracklets), len(tracklets)), -np.inf)
    for a, earlier in enumerate(tracklets):
        for b, later in enumerate(tracklets):
            score[a, b] = _link_score(earlier, later, times, looks, options)
    rows, columns = linear_sum_assignment(np.where(np.isfinite(score), -score, 1e9))
    follows = {b: a for a, b in zip(rows, columns) if np.isfinite(score[a, b])}
    people, owner = [], {}
    for index, tracklet in enumerate(tracklets):  # in order of start: a tracklet's predecessor comes first
        if index in follows:
            person = owner[follows[index]]
            person.frames += tracklet.frames
            person.people += tracklet.people
        else:
            person = Tracklet(tracklet.track_id, list(tracklet.frames), list(tracklet.people))
            people.append(person)
        owner[index] = person
    return people


def _link_score(earlier: Tracklet, later: Tracklet, times, looks: dict, options: OfflineOptions) -> float:
    """How well `later` continues `earlier` (higher is better), or -inf where it cannot."""
    gap = times[later.frames[0]] - times[earlier.frames[-1]]
    if gap <= 0 or gap > options.max_gap_seconds:
        return -np.inf
    a, b = looks.get(earlier.track_id), looks.get(later.track_id)
    alike = float(np.clip(a @ b, 0, 1)) if a is not None and b is not None and a.any() and b.any() else 0.0
    if alike < options.min_link_looks:
        return -np.inf
    heading = _velocity(earlier, times)
    expected = earlier.centre(-1) + heading * gap
    reach = earlier.extent(-1) * (1 + options.link_reach * gap)
    distance = float(np.linalg.norm(later.centre(0) - expected))
    return -np.inf if distance > reach else alike - 0.5 * distance / reach


def _velocity(tracklet: Tracklet, times) -> np.ndarray:
    """Pixels per second of the box centre over the last sightings."""
    first = max(len(tracklet.frames) - VELOCITY_FRAMES, 0)
    elapsed = times[tracklet.frames[-1]] - times[tracklet.frames[first]]
    if elapsed <= 0:
        return np.zeros(2)
    return (tracklet.centre(-1) - tracklet.centre(first)) / elapsed


def _interpolate(tracklet: Tracklet, times, max_seconds: float) -> None:
    frames, people, interpolated = [], [], []
    for index, position in enumerate(tracklet.frames):
        if index:
            start, end = tracklet.frames[index - 1], position
            if 1 < end - start and times[end] - times[start] <= max_seconds:
                for missing in range(start + 1, end):
                    share = (times[missing] - times[start]) / (times[end] - times[start])
                    frames.append(missing)
                    people.append(_between(tracklet.people[index - 1], tracklet.people[index], share))
                    interpolated.append(True)
        frames.append(position)
        people.append(tracklet.people[index])
        interpolated.append(False)
    tracklet.frames, tracklet.people, tracklet.interpolated = frames, people, interpolated


def _between(before, after, share: float):
    keypoints = before[0] + share * (after[0] - before[0])
    keypoints[:, 2] = np.minimum(before[0][:, 2], after[0][:, 2])
    return keypoints, before[1] + share * (after[1] - before[1]), min(before[2], after[2])


def _smooth(tracklet: Tracklet, times, cutoff_hz: float, keypoint_threshold: float) -> None:
    """Each keypoint's x and y low-passed forwards and backwards over runs of consecutive frames
    where it is seen."""
    positions = np.asarray(tracklet.frames)
    keypoints = np.stack([person[0] for person in tracklet.people])
    steps = np.diff(times[positions])
    if len(positions) < MIN_SMOOTHED_RUN or not (steps > 0).any():
        return
    rate = 1.0 / np.median(steps[steps > 0])
    if cutoff_hz >= rate / 2:
        return
    filter_b, filter_a = butter(FILTER_ORDER, cutoff_hz / (rate / 2))
    consecutive = np.diff(positions) == 1
    for joint in range(keypoints.shape[1]):
        seen = keypoints[:, joint, 2] >= keypoint_threshold
        for start, stop in _runs(seen, consecutive):
            if stop - start >= MIN_SMOOTHED_RUN:
                keypoints[start:stop, joint, :2] = filtfilt(filter_b, filter_a, keypoints[start:stop, joint, :2], axis=0)
    tracklet.people = [(keypoints[i], box, score) for i, (_, box, score) in enumerate(tracklet.people)]


def _runs(seen: np.ndarray, consecutive: np.ndarray):
    """(start, stop) of the runs of seen samples with no frame missing between them."""
    start = None
    for index in range(len(seen)):
        if start is not None and not (seen[index] and consecutive[index - 1]):
            yield start, index
            start = None
        if start is None and seen[index]:
            start = index
    if start is not None:
        yield start, len(seen)


def _frames_of(people: list[Tracklet], frames: list[Poses]) -> list[Poses]:
    """The people back into their frames, by id within each."""
    per_frame = [[] for _ in frames]
    for person in people:
        for position, (keypoints, box, score), filled in zip(person.frames, person.people, person.interpolated):
            per_frame[position].append((person.track_id, keypoints, box, score, filled))
    refined = []
    for poses, found in zip(frames, per_frame):
        found.sort(key=lambda entry: entry[0])
        if not found:
            refined.append(replace(poses, track_ids=np.zeros(0, np.int64)))
            continue
        refined.append(replace(
            poses, keypoints=np.stack([f[1] for f in found]).astype(np.float32),
            boxes=np.stack([f[2] for f in found]).astype(np.float32), scores=np.array([f[3] for f in found], np.float32),
            track_ids=np.array([f[0] for f in found], np.int64), interpolated=np.array([f[4] for f in found])))
    return refined
