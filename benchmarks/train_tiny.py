"""A tiny YOLO-pose network trained from scratch on 8 coco-mini train2017 images learns them:
the training loop, the loss and the targets working together, on a CPU in minutes.

    python benchmarks/train_tiny.py [--steps 600] [--lr 0.002] [--size 320]

Prints the COCO AP on those 8 images before (random weights) and after training, and the
seconds it took. No augmentation, so that the network can learn exactly what it is shown.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch
from common import TRAIN_ANNOTATIONS, TRAIN_IMAGES, benchmark_parser

from manypose import modelfile
from manypose.data.augment import AugmentOptions
from manypose.heads import PoseObjectsHead
from manypose.models import build_network
from manypose.models.yolo_pose import architecture
from manypose.skeleton import COCO17
from manypose.train import Trainer, TrainOptions
from manypose.zoo import find_model

IMAGES = 8


def eight_images(folder: Path) -> Path:
    """The first 8 images with people, as an annotation file of their own."""
    data = json.loads(TRAIN_ANNOTATIONS.read_text())
    with_people = sorted({a["image_id"] for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]})
    chosen = set(with_people[:IMAGES])
    data["images"] = [i for i in data["images"] if i["id"] in chosen]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in chosen]
    path = folder / "eight.json"
    path.write_text(json.dumps(data))
    return path


def tiny_model(folder: Path, size: int) -> Path:
    """yolo11-pose at an eighth of the n width, initialised, as a model folder."""
    torch.manual_seed(0)
    arch = {**architecture("yolo11-pose", "n"), "width": 0.125, "size": "tiny"}
    heads = (PoseObjectsHead(COCO17),)
    network = build_network(arch, heads)
    base = find_model("yolo11n-pose").description
    description = {"name": "yolo11-pose-tiny", "architecture": arch, "skeleton": COCO17.to_dict(),
                   "input": {**base["input"], "size": size}, "heads": [h.to_dict() for h in heads],
                   "provenance": {"initialised": "torch defaults, seed 0"}, "license": base["license"],
                   "license_note": "initialised weights"}
    weights = {k: v.numpy() for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    return modelfile.save(folder / "tiny", description, weights, dtype="float32")


def training_ap(model: Path, annotations: Path, complete_poses: bool | None = None) -> float:
    import manypose
    from manypose.evaluate import evaluate

    estimator = manypose.load(str(model), backend="torch", score_threshold=0.01, complete_poses=complete_poses)
    stats, _, _ = evaluate(estimator, annotations, TRAIN_IMAGES, progress=False)
    return stats["AP"]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--lr", type=float, default=2e-3, help="from scratch (the trainer cannot tell that the "
                                                                "folder's weights are untrained)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="manypose-tiny-"))
    annotations = eight_images(folder)
    model = tiny_model(folder, args.size)
    before = training_ap(model, annotations)
    still = AugmentOptions(size=args.size, scale=(1.0, 1.0), translate=0.0, flip=0.0, hsv=(0.0, 0.0, 0.0))
    options = TrainOptions(annotations, TRAIN_IMAGES, folder / "run", model=str(model), epochs=1,
                           repeats=args.steps, batch_size=IMAGES, optimizer=args.optimizer, lr=args.lr, workers=0,
                           augment=still,
                           ema_decay=0.99)
    started = time.perf_counter()
    Trainer(options).run(progress=False)
    seconds = time.perf_counter() - started
    after = training_ap(folder / "run" / "last", annotations)
    print(f"tiny yolo11-pose (width 0.125, {args.size} px) from scratch on {IMAGES} images, {args.steps} steps of "
          f"{args.optimizer}: training-set AP {before:.3f} -> {after:.3f} in {seconds:.0f} s on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
