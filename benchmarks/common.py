"""What the benchmark scripts share: where ../shared and its data lie, and their common arguments.
Run as `python benchmarks/NAME.py`, a script finds this module as `common` (its folder is on sys.path).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

SHARED = Path(os.environ.get("MANYPOSE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
COCO_MINI = SHARED / "data/coco-mini"
VAL_ANNOTATIONS = COCO_MINI / "annotations/person_keypoints_val2017.json"  # the dev set
VAL_IMAGES = COCO_MINI / "val2017"
TRAIN_ANNOTATIONS = COCO_MINI / "annotations/person_keypoints_train2017.json"
TRAIN_IMAGES = COCO_MINI / "train2017"
MODELS = SHARED / "models"
YOLO11N_POSE_CHECKPOINT = MODELS / "yolo11n-pose.pt"
PEERS_PYTHON = Path("/tmp/manypose-peers/venv/bin/python")  # built by ../shared/peers/setup_peers.sh
# Ultralytics' pipeline timed in its own interpreter: argv checkpoint, folder of JPEGs, rounds;
# prints its end to end (a pass over the folder) and latency (one image), ms/image, as JSON
ULTRALYTICS_TIMER = r"""
import glob, json, statistics, sys, time
from ultralytics import YOLO
images = sorted(glob.glob(sys.argv[2] + "/*.jpg"))
model = YOLO(sys.argv[1])
for path in images[:3]:
    model.predict(path, imgsz=640, conf=0.25, device="cpu", verbose=False)
times, passes = [], []
for _ in range(int(sys.argv[3])):
    pass_start = time.perf_counter()
    for path in images:
        start = time.perf_counter()
        result = model.predict(path, imgsz=640, conf=0.25, device="cpu", verbose=False)
        result[0].keypoints.data.cpu().numpy()
        times.append(time.perf_counter() - start)
    passes.append((time.perf_counter() - pass_start) / len(images))
print(json.dumps({"e2e_ms_median": statistics.median(passes) * 1e3, "latency_ms_median": statistics.median(times) * 1e3,
                  "images": len(images)}))
"""


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser whose --help shows the script's docstring `doc` as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_annotations_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotations", default=str(VAL_ANNOTATIONS))


def add_peer_arguments(parser: argparse.ArgumentParser) -> None:
    """--weights (the Ultralytics checkpoint) and --peer-python (the venv that runs it)."""
    parser.add_argument("--weights", type=Path, default=YOLO11N_POSE_CHECKPOINT)
    parser.add_argument("--peer-python", type=Path, default=PEERS_PYTHON)


def add_stats_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stats-output", help="write the figures as JSON")


def write_stats_output(path: str | None, figures: dict) -> None:
    """Write `figures` as JSON to --stats-output's `path`, if one was given."""
    if path:
        Path(path).write_text(json.dumps(figures, indent=1))


def last_line_json(stdout: str) -> dict:
    """The JSON object a subprocess printed on its last line."""
    return json.loads(stdout.strip().splitlines()[-1])
