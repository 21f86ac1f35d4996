"""What the trainer's tests share for their runs of a step or two on coco-mini: the options, a
process group for a world of several, and runs without the curves' plot."""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch.distributed as dist

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


@contextlib.contextmanager
def group_of_one(store: Path):
    """A gloo process group with this process as its only member, so that a World of several can
    call the collectives; left afterwards unless the code under test left it."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def without_curves(monkeypatch) -> None:
    """Runs that skip plotting the curves (matplotlib's first figure takes seconds)."""
    monkeypatch.setattr("manypose.train.loop.plot_curves", lambda log, path: False)
