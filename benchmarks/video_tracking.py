"""`manypose video --track` beside Ultralytics' `model.track(..., tracker="bytetrack.yaml")` on
the same clip with the same yolo11n-pose weights, run one after the other on this machine.

    python benchmarks/video_tracking.py [--clip FILE] [--max-frames N] [--int8] [--rounds R]

Prints, for both: frames per second (model loaded, clip decoded, poses tracked; no output
written), the most people in one frame and the number of distinct track ids, and the ratio of
frame rates. With several rounds the runs alternate (peer, ours, peer, ours...) and each
keeps its fastest round, so a busy spell of a shared machine does not favour either side. Ultralytics runs in the peers' scratch venv (../shared/peers/setup_peers.sh; default
/tmp/manypose-peers/venv), never as a dependency.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from common import SHARED, add_peer_arguments, benchmark_parser, last_line_json

PEER_SCRIPT = """
import json, sys, time
from ultralytics import YOLO
clip, weights, max_frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = YOLO(weights)
frames, most, ids, started = 0, 0, set(), time.perf_counter()
for result in model.track(clip, tracker="bytetrack.yaml", stream=True, verbose=False, imgsz=640):
    boxes = result.boxes
    most = max(most, len(boxes))
    if boxes.id is not None:
        ids.update(int(i) for i in boxes.id.tolist())
    frames += 1
    if frames == max_frames:
        break
seconds = time.perf_counter() - started
print(json.dumps({"frames": frames, "seconds": seconds, "most_people": most, "track_ids": len(ids)}))
"""


def run_ours(clip: Path, max_frames: int, int8: bool) -> dict:
    import manypose
    from manypose.video import FrameRange, open_source, run_video

    estimator = manypose.load(int8=int8)  # tracking lowers the score threshold to the tracker's low score
    report = run_video(estimator, open_source(clip), FrameRange(max_frames=max_frames), track=True, progress=False)
    return {"frames": report.frames, "seconds": report.seconds, "most_people": report.most_people,
            "track_ids": len(report.track_ids)}


def run_peer(python: Path, clip: Path, weights: Path, max_frames: int) -> dict:
    if not python.exists():
        sys.exit(f"{python} not found: build the peers' venv with bash ../shared/peers/setup_peers.sh")
    done = subprocess.run([str(python), "-c", PEER_SCRIPT, str(clip), str(weights), str(max_frames)],
                          capture_output=True, text=True, check=True)
    return last_line_json(done.stdout)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--clip", type=Path, default=SHARED / "data/videos/one-by-one-person-detection.mp4")
    add_peer_arguments(parser)
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (default: the whole clip)")
    parser.add_argument("--int8", action="store_true", help="also run manypose's INT8 model")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; each side keeps its fastest")
    args = parser.parse_args()
    limit = args.max_frames or None
    runs = {"ultralytics track": lambda: run_peer(args.peer_python, args.clip, args.weights, args.max_frames or -1),
            "manypose video --track": lambda: run_ours(args.clip, limit, int8=False)}
    if args.int8:
        runs["manypose video --track --int8"] = lambda: run_ours(args.clip, limit, int8=True)
    rows = {}
    for _ in range(args.rounds):
        for name, run in runs.items():
            row = run()
            if name not in rows or row["seconds"] < rows[name]["seconds"]:
                rows[name] = row
    peer_fps = rows["ultralytics track"]["frames"] / rows["ultralytics track"]["seconds"]
    print(f"{args.clip.name}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}, fastest of {args.rounds} round(s)")
    print(f"{'':32} {'frames':>7} {'frames/s':>9} {'x peer':>7} {'most people':>12} {'track ids':>10}")
    for name, row in rows.items():
        fps = row["frames"] / row["seconds"]
        print(f"{name:32} {row['frames']:7d} {fps:9.1f} {fps / peer_fps:7.2f} {row['most_people']:12d} "
              f"{row['track_ids']:10d}")


if __name__ == "__main__":
    main()
