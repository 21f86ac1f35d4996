"""Fine-tuning yolo11n-pose with `manypose train`'s defaults, measured where it cannot fool itself:
on the images it trains on, on held-out images that chose nothing, and on the dev set, after 2 and
after 10 epochs; beside Ultralytics' `model.train` (scratch venv, never a dependency) with its
careful settings (SGD lr 0.001, no warm-up) and its defaults, on the same data.

    python benchmarks/finetune.py [--epochs 2 10] [--batch 8] [--size 640] [--skip-peer]

coco-mini train2017 is split into four folds by image id (ids[k::4]): folds A and B chose the
defaults (trained on A, checked on B); the figures come from training on fold C and holding out
fold D. AP is COCO OKS AP from pycocotools (`manypose eval`, score threshold 0.01; Ultralytics'
result converted by `manypose convert`). Seconds per epoch are the whole training call over the
epochs divided by them, start-up included. The last line is one JSON object of every figure.
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

FOLDS = 4
TRAIN_FOLD, HELD_OUT_FOLD = 2, 3  # C and D: A and B chose the defaults
PEER_SCRIPT = """
import json, sys, time
from ultralytics import YOLO
data, weights, epochs, batch, size, project, careful = sys.argv[1:8]
model = YOLO(weights)
settings = dict(optimizer="SGD", lr0=0.001, warmup_epochs=0) if careful == "1" else {}
started = time.perf_counter()
model.train(data=data, epochs=int(epochs), batch=int(batch), imgsz=int(size), device="cpu", workers=2,
            project=project, name="run", exist_ok=True, plots=False, verbose=False, val=False, **settings)
print(json.dumps({"seconds": time.perf_counter() - started, "last": str(model.trainer.last)}))
"""


def write_folds(annotations: Path, folder: Path) -> list[Path]:
    """The annotation file split into FOLDS files by image id, ids[k::FOLDS] in fold k."""
    data = json.loads(annotations.read_text())
    ids = sorted(image["id"] for image in data["images"])
    paths = []
    for fold in range(FOLDS):
        kept = set(ids[fold::FOLDS])
        part = {**data, "images": [i for i in data["images"] if i["id"] in kept],
                "annotations": [a for a in data["annotations"] if a["image_id"] in kept]}
        path = folder / f"fold{fold}.json"
        path.write_text(json.dumps(part))
        paths.append(path)
    return paths


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


def ap(model: str, annotations: Path, images: Path) -> float:
    done = subprocess.run([sys.executable, "-m", "manypose.cli", "eval", "--model", model, "--quiet", "--annotations",
                           str(annotations), "--images", str(images)], capture_output=True, text=True, check=True)
    return float(re.search(r"^AP ([0-9.]+)", done.stdout, re.M).group(1))


def measured(model: str, folds: list[Path]) -> dict:
    return {"train_ap": ap(model, folds[TRAIN_FOLD], TRAIN_IMAGES),
            "held_out_ap": ap(model, folds[HELD_OUT_FOLD], TRAIN_IMAGES),
            "dev_ap": ap(model, VAL_ANNOTATIONS, VAL_IMAGES)}


def run_ours(args, epochs: int, folds: list[Path], scratch: Path) -> dict:
    output = scratch / f"ours-{epochs}"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "manypose.cli", "train", "--quiet", "--output", str(output),
                    "--train-annotations", str(folds[TRAIN_FOLD]), "--train-images", str(TRAIN_IMAGES),
                    "--epochs", str(epochs), "--batch-size", str(args.batch), "--size", str(args.size)], check=True)
    seconds = time.perf_counter() - started
    return {"seconds_per_epoch": seconds / epochs, **measured(str(output / "last"), folds)}


def run_peer(args, epochs: int, careful: bool, folds: list[Path], scratch: Path) -> dict:
    data = scratch / "yolo"
    if not data.exists():
        yolo_labels(folds[TRAIN_FOLD], TRAIN_IMAGES, data, "train")
        (data / "data.yaml").write_text(f"path: {data}\ntrain: images/train\nval: images/train\nkpt_shape: [17, 3]\n"
                                        f"flip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]\n"
                                        f"names: {json.dumps({0: 'person'})}\n")
    project = scratch / f"peer-{epochs}-{int(careful)}"
    done = subprocess.run([str(args.peer_python), "-c", PEER_SCRIPT, str(data / "data.yaml"), str(args.weights),
                           str(epochs), str(args.batch), str(args.size), str(project), str(int(careful))],
                          capture_output=True, text=True, check=True, cwd=scratch)
    result = last_line_json(done.stdout)
    converted = scratch / f"converted-{epochs}-{int(careful)}"
    subprocess.run([sys.executable, "-m", "manypose.cli", "convert", result["last"], str(converted)], check=True,
                   capture_output=True)
    return {"seconds_per_epoch": result["seconds"] / epochs, **measured(str(converted), folds)}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--epochs", type=int, nargs="+", default=[2, 10])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=640)
    add_peer_arguments(parser)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    peer = not args.skip_peer and args.peer_python.exists()
    scratch = Path(tempfile.mkdtemp(prefix="manypose-finetune-"))
    try:
        folds = write_folds(TRAIN_ANNOTATIONS, scratch)
        rows = {"start (yolo11n-pose)": measured("yolo11n-pose", folds)}
        for epochs in args.epochs:
            rows[f"manypose, {epochs} epochs"] = run_ours(args, epochs, folds, scratch)
            for careful in (True, False) if peer else ():
                name = f"ultralytics {'careful' if careful else 'defaults'}, {epochs} epochs"
                rows[name] = run_peer(args, epochs, careful, folds, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"fine-tuning on coco-mini train2017 fold C ({TRAIN_FOLD}), held out fold D ({HELD_OUT_FOLD}): batch "
          f"{args.batch}, {args.size} px, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}"
          + ("" if peer else f"; Ultralytics not run ({args.peer_python} missing or --skip-peer)"))
    print(f"{'':36} {'train AP':>8} {'held AP':>8} {'dev AP':>7} {'s/epoch':>8}")
    for name, row in rows.items():
        seconds = f"{row['seconds_per_epoch']:8.1f}" if "seconds_per_epoch" in row else f"{'':8}"
        print(f"{name:36} {row['train_ap']:8.3f} {row['held_out_ap']:8.3f} {row['dev_ap']:7.3f} {seconds}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
