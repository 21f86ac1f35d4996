"""How well tracking keeps identities, and how much keypoints jitter: manypose's tracker (with
and without its One-Euro smoothing) beside Ultralytics' ByteTrack with the same yolo11n-pose
weights, on the same frames of synthetic clips with exact ground truth (synthetic_clips.py).

    python benchmarks/tracking_identity.py [--seeds 1,2,3] [--people 5] [--frames 150]
        [--size 640x360] [--split train|val] [--clips DIR] [--keep DIR]

Per clip: IDF1, MOTA, HOTA, identity switches, false positives, misses and distinct ids (the
truth's in brackets), scored by box IoU >= 0.5 against people at least 25% visible (a
prediction on a more hidden person counts neither way). Jitter: mean keypoint acceleration
|p(t+1) - 2 p(t) + p(t-1)| in pixels/frame^2 over keypoints visible in the truth and confident
(>= 0.5) in three frames running, on people standing still and people walking (moving anywhere
in the three frames), beside the mean
position error against the truth on the same keypoints and the truth's own acceleration. The
predicted person of a true one is found per frame by box overlap, whatever its id, so switches
do not count as jitter. Last line: every figure as JSON.

`--clips DIR` scores the clip-*.mp4 / clip-*.json pairs found there (clips made elsewhere, to
judge a tracker on clips it was not tuned on) instead of generating them. Ultralytics runs in
the peers' scratch venv (../shared/peers/setup_peers.sh; default /tmp/manypose-peers/venv).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from common import add_peer_arguments, benchmark_parser
from synthetic_clips import load_cutouts, parse_size, write_clip

MIN_VISIBILITY = 0.25
CONFIDENT = 0.5
# Ultralytics' tracker over the clip, one JSON line per frame: ids, boxes, keypoints (x, y, conf)
PEER_SCRIPT = """
import json, sys
from ultralytics import YOLO
clip, weights, output = sys.argv[1:4]
model = YOLO(weights)
with open(output, "w") as lines:
    for result in model.track(clip, tracker="bytetrack.yaml", persist=True, stream=True, verbose=False, imgsz=640):
        boxes, ids = result.boxes, result.boxes.id
        people = [] if ids is None else [
            {"id": int(i), "box": b, "keypoints": k}
            for i, b, k in zip(ids.tolist(), boxes.xyxy.tolist(), result.keypoints.data.tolist())]
        lines.write(json.dumps(people) + "\\n")
"""


def read_frames(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def run_manypose(frames: list[np.ndarray], fps: float) -> dict[str, list[list[dict]]]:
    """Tracked people per frame from one network pass over the frames: online with and without
    smoothing, online on motion alone (no appearance, the tracker before it), and offline (the
    online pass without smoothing, then manypose.track_offline's refinement)."""
    import manypose
    from manypose.track import TrackerOptions
    from manypose.track_offline import refine_tracks

    tracking = manypose.load().for_tracking()
    detections = [result.poses for result in tracking.stream(frames)]
    times = [index / fps for index in range(len(frames))]
    runs, online = {}, {}
    variants = (("manypose", TrackerOptions()), ("manypose --no-smooth", TrackerOptions(smooth=False)),
                ("manypose, motion only", TrackerOptions(appearance=False)))
    for name, options in variants:
        tracker = tracking.reconfigured(tracker=options).new_tracker()
        online[name] = [tracker.update(poses, time, frame) for poses, time, frame in zip(detections, times, frames)]
        runs[name] = [_people(poses) for poses in online[name]]
        if name == "manypose --no-smooth":
            offline = refine_tracks(online[name], times, tracker.appearances)
            runs["manypose --offline"] = [_people(poses) for poses in offline]
    return runs


def _people(poses) -> list[dict]:
    return [{"id": int(i), "box": b.tolist(), "keypoints": k.tolist()}
            for i, b, k in zip(poses.track_ids, poses.boxes, poses.keypoints)]


def run_ultralytics(python: Path, weights: Path, video: Path) -> list[list[dict]]:
    if not python.exists():
        sys.exit(f"{python} not found: build the peers' venv with bash ../shared/peers/setup_peers.sh")
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "tracks.jsonl"
        subprocess.run([str(python), "-c", PEER_SCRIPT, str(video), str(weights), str(output)], check=True)
        return [json.loads(line) for line in output.read_text().splitlines()]


def identity_scores(truth_frames: list[dict], predicted: list[list[dict]]) -> dict:
    from manypose.tracking_metrics import FrameTracks, score_tracking, without_ignored

    truth, kept_predictions = [], []
    for frame, people in zip(truth_frames, predicted):
        shown = [p for p in frame["people"] if p["visibility"] >= MIN_VISIBILITY]
        hidden = [p["box"] for p in frame["people"] if p["visibility"] < MIN_VISIBILITY]
        true_frame = FrameTracks([p["id"] for p in shown], [p["box"] for p in shown])
        predicted_frame = FrameTracks([p["id"] for p in people], [p["box"] for p in people])
        truth.append(true_frame)
        kept_predictions.append(without_ignored(predicted_frame, hidden, true_frame))
    return asdict(score_tracking(truth, kept_predictions))


def jitter(truth_frames: list[dict], predicted: list[list[dict]]) -> dict:
    """Mean acceleration and position error of keypoints, for still and walking people, and the
    truth's own acceleration on the same keypoints."""
    tracks = _keypoint_tracks(truth_frames, predicted)
    figures = {}
    for state in ("still", "walking"):
        accelerations, truth_accelerations, errors = [], [], []
        for (true_id, keypoint), positions in tracks.items():
            for t in range(1, len(positions) - 1):
                window = positions[t - 1:t + 2]
                if any(p is None for p in window) or _walking(window) != (state == "walking"):
                    continue
                predicted_xy = np.array([p[0] for p in window])
                true_xy = np.array([p[1] for p in window])
                accelerations.append(np.linalg.norm(predicted_xy[2] - 2 * predicted_xy[1] + predicted_xy[0]))
                truth_accelerations.append(np.linalg.norm(true_xy[2] - 2 * true_xy[1] + true_xy[0]))
                errors.append(np.linalg.norm(predicted_xy[1] - true_xy[1]))
        figures[state] = {"acceleration": _mean(accelerations), "truth_acceleration": _mean(truth_accelerations),
                          "position_error": _mean(errors), "samples": len(accelerations)}
    return figures


def _walking(window) -> bool:
    """Whether the person moves anywhere in a three-frame window (each frame says whether it
    moved since the one before)."""
    return window[1][2] or window[2][2]


def _keypoint_tracks(truth_frames, predicted) -> dict:
    """(true id, keypoint) -> per frame (predicted xy, true xy, walking) or None where the
    keypoint is hidden in the truth, unconfident or its person unmatched."""
    from manypose.tracking_metrics import FrameTracks, matched_pairs

    tracks: dict = {}
    length = len(truth_frames)
    for t, (frame, people) in enumerate(zip(truth_frames, predicted)):
        true_frame = FrameTracks([p["id"] for p in frame["people"]], [p["box"] for p in frame["people"]])
        predicted_frame = FrameTracks(range(len(people)), [p["box"] for p in people])
        for row, column in matched_pairs(true_frame, predicted_frame):
            person, guess = frame["people"][row], people[column]
            for k, ((x, y, v), (px, py, confidence)) in enumerate(zip(person["keypoints"], guess["keypoints"])):
                if v == 2 and confidence >= CONFIDENT:
                    track = tracks.setdefault((person["id"], k), [None] * length)
                    track[t] = ((px, py), (x, y), person["moving"])
    return tracks


def _mean(values) -> float:
    return float(np.mean(values)) if values else float("nan")


def clip_sources(args) -> list[tuple[str, Path, Path]]:
    """(name, video, truth) of each clip: found under --clips, or generated per seed."""
    if args.clips:
        return [(path.stem, path.with_suffix(".mp4"), path) for path in sorted(args.clips.glob("clip-*.json"))]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tracking-clips-"))
    cutouts = load_cutouts(args.split)
    clips = [write_clip(folder, seed, args.people, args.frames, args.size, args.split, cutouts=cutouts)
             for seed in args.seeds]
    return [(f"seed {seed}", video, truth) for seed, (video, truth) in zip(args.seeds, clips)]


def print_clip(name: str, truth: dict, rows: dict) -> None:
    print(f"\n{name}: {len(truth['frames'])} frames {truth['size'][0]}x{truth['size'][1]}, split {truth['split']}")
    print(f"{'':22} {'IDF1':>6} {'MOTA':>6} {'HOTA':>6} {'IDsw':>5} {'FP':>5} {'FN':>5} {'ids':>8}"
          f" | {'still acc':>9} {'err':>6} | {'walk acc':>9} {'err':>6}")
    for tracker, row in rows.items():
        s, j = row["identity"], row["jitter"]
        print(f"{tracker:24} {s['idf1']:6.3f} {s['mota']:6.3f} {s['hota']:6.3f} {s['id_switches']:5d} "
              f"{s['false_positives']:5d} {s['misses']:5d} {s['predicted_ids']:4d} ({s['true_ids']})"
              f" | {j['still']['acceleration']:9.2f} {j['still']['position_error']:6.2f}"
              f" | {j['walking']['acceleration']:9.2f} {j['walking']['position_error']:6.2f}")
    j = next(iter(rows.values()))["jitter"]
    print(f"{'truth':22} {'':>47} | {j['still']['truth_acceleration']:9.2f} {'':>6} | "
          f"{j['walking']['truth_acceleration']:9.2f}")


def print_means(results: dict) -> dict:
    """Each tracker's figures averaged over the clips."""
    means = {}
    for tracker in next(iter(results.values())):
        rows = [clip[tracker] for clip in results.values()]
        means[tracker] = {key: float(np.mean([r["identity"][key] for r in rows]))
                          for key in ("idf1", "mota", "hota", "id_switches", "predicted_ids")}
        for state in ("still", "walking"):
            accelerations = [r["jitter"][state]["acceleration"] for r in rows]
            means[tracker][f"{state}_acceleration"] = float(np.nanmean(accelerations))
    print(f"\nmean over {len(results)} clips")
    for tracker, m in means.items():
        print(f"{tracker:24} IDF1 {m['idf1']:.3f}  MOTA {m['mota']:.3f}  HOTA {m['hota']:.3f}  "
              f"switches {m['id_switches']:.1f}  ids {m['predicted_ids']:.1f}  "
              f"acceleration still {m['still_acceleration']:.2f} walking {m['walking_acceleration']:.2f}")
    return means


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=[1, 2, 3])
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--size", type=parse_size, default=(640, 360), help="WIDTHxHEIGHT")
    parser.add_argument("--split", choices=["train", "val"], default="train",
                        help="whose people the clips show (val: held out, not for tuning)")
    parser.add_argument("--clips", type=Path, help="score the clip-*.mp4 / .json pairs in this folder instead")
    parser.add_argument("--keep", type=Path, help="write the generated clips here (default: a temporary folder)")
    add_peer_arguments(parser)
    args = parser.parse_args()
    results = {}
    for name, video, truth_path in clip_sources(args):
        started = time.perf_counter()
        truth = json.loads(truth_path.read_text())
        runs = run_manypose(read_frames(video), truth["fps"])
        runs["ultralytics bytetrack"] = run_ultralytics(args.peer_python, args.weights, video)
        for tracker, people in runs.items():
            if len(people) != len(truth["frames"]):
                sys.exit(f"{tracker} gave {len(people)} frames of {video}'s {len(truth['frames'])}")
        results[name] = {tracker: {"identity": identity_scores(truth["frames"], people),
                                   "jitter": jitter(truth["frames"], people)} for tracker, people in runs.items()}
        print_clip(name, truth, results[name])
        print(f"({time.perf_counter() - started:.0f} s)")
    means = print_means(results)
    print(json.dumps({"clips": results, "means": means}))


if __name__ == "__main__":
    main()
