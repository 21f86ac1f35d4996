"""Fine-tuning yolo11n-pose on coco-mini train2017 with default settings: `manypose train` beside
Ultralytics' `model.train` (scratch venv, never a dependency), same data, epochs, batch and size.

    python benchmarks/finetune.py [--epochs 2] [--batch 8] [--size 640] [--skip-peer]

Prints the dev-set (coco-mini val2017) COCO AP before and after for both, measured the same way
(`manypose eval`, pycocotools, score threshold 0.01; Ultralytics' result converted by `manypose
convert`), and the seconds per epoch of both: the whole training call over the epochs, each
validating on val2017 after every epoch (as Ultralytics always does), start-up included. Ultralytics reads its own label format: the script
writes it into a scratch folder from the same COCO annotations.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (TRAIN_ANNOTATIONS, TRAIN_IMAGES, VAL_ANNOTATIONS, VAL_IMAGES, add_peer_arguments,
                    benchmark_parser, last_line_json)

PEER_SCRIPT = """
import json, sys, time
from ultralytics import YOLO
data, weights, epochs, batch, size, project = sys.argv[1:7]
model = YOLO(weights)
started = time.perf_counter()
model.train(data=data, epochs=int(epochs), batch=int(batch), imgsz=int(size), device="cpu", workers=2,
            project=project, name="run", exist_ok=True, plots=False, verbose=False)
print(json.dumps({"seconds": time.perf_counter() - started, "last": str(model.trainer.last)}))
"""


def yolo_labels(annotations: Path, images: Path, folder: Path, split: str) -> None:
    """Ultralytics' layout: images/<split> (links) and labels/<split>/<stem>.txt, one person per
    line: class, box centre and size, then x, y, visibility per keypoint, all normalized."""
    data = json.loads(annotations.read_text())
    (folder / "images" / split).mkdir(parents=True)
    (folder / "labels" / split).mkdir(parents=True)
    lines = {image["id"]: [] for image in data["images"]}
    sizes = {image["id"]: (image["width"], image["height"]) for image in data["images"]}
    for annotation in data["annotations"]:
        if annotation.get("iscrowd"):
            continue
        width, height = sizes[annotation["image_id"]]
        x, y, w, h = annotation["bbox"]
        values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
        keypoints = annotation["keypoints"]
        for i in range(0, len(keypoints), 3):
            values += [keypoints[i] / width, keypoints[i + 1] / height, keypoints[i + 2]]
        lines[annotation["image_id"]].append("0 " + " ".join(f"{v:.6g}" for v in values))
    for image in data["images"]:
        os.symlink(images / image["file_name"], folder / "images" / split / image["file_name"])
        stem = Path(image["file_name"]).stem
        (folder / "labels" / split / f"{stem}.txt").write_text("\n".join(lines[image["id"]]) + "\n")


def dev_ap(model: str) -> float:
    done = subprocess.run([sys.executable, "-m", "manypose.cli", "eval", "--model", model, "--quiet", "--annotations",
                           str(VAL_ANNOTATIONS), "--images", str(VAL_IMAGES)],
                          capture_output=True, text=True, check=True)
    return float(re.search(r"^AP ([0-9.]+)", done.stdout, re.M).group(1))


def run_ours(args, scratch: Path) -> dict:
    output = scratch / "ours"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "manypose.cli", "train", "--quiet", "--output", str(output),
                    "--train-annotations", str(TRAIN_ANNOTATIONS),
                    "--train-images", str(TRAIN_IMAGES), "--epochs", str(args.epochs),
                    "--val-annotations", str(VAL_ANNOTATIONS), "--val-images", str(VAL_IMAGES),
                    "--batch-size", str(args.batch), "--size", str(args.size)], check=True)
    seconds = time.perf_counter() - started
    return {"seconds_per_epoch": seconds / args.epochs, "ap": dev_ap(str(output / "last"))}


def run_peer(args, scratch: Path) -> dict:
    data = scratch / "yolo"
    yolo_labels(TRAIN_ANNOTATIONS, TRAIN_IMAGES, data, "train")
    yolo_labels(VAL_ANNOTATIONS, VAL_IMAGES, data, "val")
    names = json.dumps({0: "person"})
    (data / "data.yaml").write_text(f"path: {data}\ntrain: images/train\nval: images/val\nkpt_shape: [17, 3]\n"
                                    f"flip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]\n"
                                    f"names: {names}\n")
    done = subprocess.run([str(args.peer_python), "-c", PEER_SCRIPT, str(data / "data.yaml"), str(args.weights),
                           str(args.epochs), str(args.batch), str(args.size), str(scratch / "peer")],
                          capture_output=True, text=True, check=True, cwd=scratch)
    result = last_line_json(done.stdout)
    return {"seconds_per_epoch": result["seconds"] / args.epochs, "ap": dev_ap(result["last"])}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=640)
    add_peer_arguments(parser)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="manypose-finetune-"))
    try:
        rows = {"before (yolo11n-pose)": {"ap": dev_ap("yolo11n-pose")}}
        rows["manypose train"] = run_ours(args, scratch)
        if not args.skip_peer:
            rows["ultralytics train"] = run_peer(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"fine-tuning on coco-mini train2017: {args.epochs} epochs, batch {args.batch}, {args.size} px, "
          f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}")
    print(f"{'':24} {'dev AP':>7} {'s/epoch':>8}")
    for name, row in rows.items():
        seconds = f"{row['seconds_per_epoch']:8.1f}" if "seconds_per_epoch" in row else f"{'':8}"
        print(f"{name:24} {row['ap']:7.3f} {seconds}")


if __name__ == "__main__":
    main()
