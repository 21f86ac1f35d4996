"""Training options for runs of a step or two on coco-mini, shared by the trainer's tests."""
from __future__ import annotations

from pathlib import Path

from manypose.data.augment import AugmentOptions
from manypose.train import TrainOptions

from conftest import shared_path


def coco_mini(split: str = "train") -> tuple[Path, Path]:
    return (shared_path(f"data/coco-mini/annotations/person_keypoints_{split}2017.json"),
            shared_path(f"data/coco-mini/{split}2017"))


def small_run(output: Path, **changes) -> TrainOptions:
    """One image a step at 64 px (a step of yolo11n-pose takes a tenth of a second), one step unless
    `changes` say otherwise."""
    annotations, images = coco_mini()
    values = dict(epochs=1, batch_size=1, max_steps=1, workers=0, augment=AugmentOptions(size=64))
    values.update(changes)
    return TrainOptions(annotations, images, Path(output), **values)
