"""A tiny network trained from scratch on a few coco-mini train2017 images learns them: the
training loop, the loss and the targets working together, on a CPU in minutes.

    python benchmarks/train_tiny.py [--model yolo-pose|lightweight-openpose|offsetguided] [--steps N] [--lr LR]
        [--size PX]

--model picks the tiny network (TINY_MODELS), which brings its own number of images, steps,
input size and learning rate (the options override them):
- yolo-pose (default): yolo11-pose at an eighth of the n width, 8 images, 320 px, 600 steps;
- lightweight-openpose: its MobileNetV1 at a quarter width, a 32-channel CPM and stages, one
  refinement stage, 4 images, 192 px, letterboxed square at inference as in training, its
  batch norms learning their statistics;
- offsetguided: SimplePose V2's network with a narrow one-block-a-stage ResNet, 4 images,
  256 px, 400 steps, its batch norms learning their statistics.
Prints the COCO AP on those images before (random weights) and after training, then one JSON
line last: "AP" (after), "seconds" (training), "loss_start" and "loss_end" (the training loss
of all the images as one batch before and after training). No augmentation, so that the
network can learn exactly what it is shown.
"""
from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from common import TRAIN_ANNOTATIONS, TRAIN_IMAGES, benchmark_parser

from manypose import modelfile
from manypose.data.augment import AugmentOptions
from manypose.heads import PoseObjectsHead
from manypose.models import build_network
from manypose.models.yolo_pose import architecture
from manypose.skeleton import COCO17
from manypose.train import Trainer, TrainOptions
from manypose.train.batches import collate
from manypose.zoo import find_model, untrained_model

IMAGES = 8


def first_images(folder: Path, count: int = IMAGES) -> Path:
    """The first `count` images with people, as an annotation file of their own."""
    data = json.loads(TRAIN_ANNOTATIONS.read_text())
    with_people = sorted({a["image_id"] for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]})
    chosen = set(with_people[:count])
    data["images"] = [i for i in data["images"] if i["id"] in chosen]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in chosen]
    path = folder / f"first{count}.json"
    path.write_text(json.dumps(data))
    return path


def saved_initialised(folder: Path, description: dict) -> Path:
    """The described network initialised (seed 0) as a model folder."""
    torch.manual_seed(0)
    network = build_network(description["architecture"], modelfile.ModelFile(description).heads)
    weights = {k: v.numpy() for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    return modelfile.save(folder / "tiny", {**description, "provenance": {"initialised": "torch defaults, seed 0"}},
                          weights, dtype="float32")


def tiny_yolo_pose(folder: Path, size: int) -> Path:
    """yolo11-pose at an eighth of the n width."""
    arch = {**architecture("yolo11-pose", "n"), "width": 0.125, "size": "tiny"}
    heads = (PoseObjectsHead(COCO17),)
    base = find_model("yolo11n-pose").description
    return saved_initialised(folder, {
        "name": "yolo11-pose-tiny", "architecture": arch, "skeleton": COCO17.to_dict(),
        "input": {**base["input"], "size": size}, "heads": [h.to_dict() for h in heads],
        "license": base["license"], "license_note": "initialised weights"})


def tiny_lightweight_openpose(folder: Path, size: int) -> Path:
    """Lightweight OpenPose, narrow: the backbone at a quarter width, 32 channels after it; its
    input letterboxed square, as its training inputs are (it knows only that geometry)."""
    base = untrained_model("lightweight-openpose").description
    arch = {**base["architecture"], "width": 0.25, "channels": 32, "refinement_stages": 1}
    return saved_initialised(folder, {**base, "name": "lightweight-openpose-tiny", "architecture": arch,
                                      "input": {**base["input"], "size": size, "square": True}})


def tiny_offsetguided(folder: Path, size: int) -> Path:
    """SimplePose V2 (OffsetGuided), narrow: a ResNet of one bottleneck a stage at an eighth of
    ResNet-26's width, 48 channels at stride 4; its input letterboxed square, as in training."""
    base = untrained_model("offsetguided-resnet26").description
    backbone = {**base["architecture"]["backbone"], "stem_channels": 16, "stage_widths": [8, 16, 32, 64],
                "stage_repeats": [1, 1, 1, 1]}
    arch = {**base["architecture"], "backbone": backbone, "neck_channels": 48}
    return saved_initialised(folder, {**base, "name": "offsetguided-tiny", "architecture": arch,
                                      "input": {**base["input"], "size": size, "square": True}})


@dataclass(frozen=True)
class TinyModel:
    build: Callable[[Path, int], Path]  # (folder, input size) -> an initialised model folder
    images: int
    steps: int
    size: int
    lr: float
    # the trainer cannot tell the folder's weights are untrained: "updated" lets batch norms learn
    # their statistics, as training from scratch does (YOLO-pose's identity statistics also work)
    batch_norm: str = "auto"


TINY_MODELS = {
    "yolo-pose": TinyModel(tiny_yolo_pose, images=IMAGES, steps=600, size=320, lr=2e-3),
    "lightweight-openpose": TinyModel(tiny_lightweight_openpose, images=4, steps=600, size=192, lr=3e-3,
                                      batch_norm="updated"),
    "offsetguided": TinyModel(tiny_offsetguided, images=4, steps=400, size=256, lr=3e-3, batch_norm="updated"),
}


def training_ap(model: Path, annotations: Path, complete_poses: bool | None = None) -> float:
    import manypose
    from manypose.evaluate import evaluate

    estimator = manypose.load(str(model), backend="torch", score_threshold=0.01, complete_poses=complete_poses)
    stats, _, _ = evaluate(estimator, annotations, TRAIN_IMAGES, progress=False)
    return stats["AP"]


def batch_loss(trainer: Trainer, network: torch.nn.Module) -> float:
    """The training loss of all the (unaugmented) images as one batch, with batch statistics as
    in training, on a copy (the network's running statistics stay as they are)."""
    images, targets = collate([trainer.images[i] for i in range(len(trainer.data))])
    network = copy.deepcopy(network).train()
    with torch.no_grad():
        total, _ = trainer.contract(network.raw_outputs(images), targets)
    return float(total)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", choices=sorted(TINY_MODELS), default="yolo-pose")
    parser.add_argument("--steps", type=int, help="default: the model's")
    parser.add_argument("--size", type=int, help="default: the model's")
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--lr", type=float, help="from scratch (the trainer cannot tell that the folder's weights "
                                                 "are untrained); default: the model's")
    args = parser.parse_args()
    tiny = TINY_MODELS[args.model]
    steps, size, lr = args.steps or tiny.steps, args.size or tiny.size, args.lr or tiny.lr
    folder = Path(tempfile.mkdtemp(prefix="manypose-tiny-"))
    annotations = first_images(folder, tiny.images)
    model = tiny.build(folder, size)
    before = training_ap(model, annotations)
    still = AugmentOptions(size=size, scale=(1.0, 1.0), translate=0.0, flip=0.0, hsv=(0.0, 0.0, 0.0))
    options = TrainOptions(annotations, TRAIN_IMAGES, folder / "run", model=str(model), epochs=1, repeats=steps,
                           batch_size=tiny.images, optimizer=args.optimizer, lr=lr, workers=0, augment=still,
                           ema_decay=0.99, batch_norm=tiny.batch_norm)
    trainer = Trainer(options)
    loss_start = batch_loss(trainer, trainer.network)
    started = time.perf_counter()
    result = trainer.run(progress=False)
    seconds = time.perf_counter() - started
    loss_end = batch_loss(trainer, result.network)
    after = training_ap(folder / "run" / "last", annotations)
    print(f"tiny {args.model} ({size} px) from scratch on {tiny.images} images, {steps} steps of {args.optimizer}: "
          f"training-set AP {before:.3f} -> {after:.3f} in {seconds:.0f} s on {os.cpu_count()} CPUs")
    print(json.dumps({"model": args.model, "AP": round(after, 4), "seconds": round(seconds, 1),
                      "loss_start": round(loss_start, 4), "loss_end": round(loss_end, 4)}))


if __name__ == "__main__":
    main()
