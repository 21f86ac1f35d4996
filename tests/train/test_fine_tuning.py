"""Fine-tuning from trained weights does no harm by itself: what moves the model is the
gradient steps, and the training input of an image is the inference input."""
from __future__ import annotations

import copy
from pathlib import Path

import cv2
import pytest
import torch

from manypose.data.augment import AugmentOptions
from manypose.train import Trainer, TrainOptions

from conftest import shared_path

IMAGE = "data/coco-mini/val2017/000000011813.jpg"


def coco_train():
    return (shared_path("data/coco-mini/annotations/person_keypoints_train2017.json"),
            shared_path("data/coco-mini/train2017"))


def trainer(output: Path, **changes) -> Trainer:
    annotations, images = coco_train()
    values = dict(epochs=1, batch_size=4, max_steps=3, workers=0, augment=AugmentOptions(size=256))
    values.update(changes)
    return Trainer(TrainOptions(annotations, images, output, **values))


def raw_outputs(network, blob) -> list[torch.Tensor]:
    with torch.no_grad():
        return network.eval().raw_outputs(torch.from_numpy(blob))


@pytest.mark.parametrize("batch_norm, unchanged", [("auto", True), ("updated", False)])
def test_steps_at_a_learning_rate_of_about_zero_leave_the_outputs_as_they_were(tmp_path, batch_norm, unchanged):
    """From trained weights the batch-norm statistics stay as trained by default: a few small
    augmented batches would pull them off (AP 0.533 -> 0.517 on 40 training images after 5 such
    steps); updating them on request moves the outputs, so the check can fail."""
    fine_tuning = trainer(tmp_path / batch_norm, lr=1e-12, batch_norm=batch_norm)
    blob, _ = fine_tuning.base.input_spec.with_size(256).prepare(cv2.imread(str(shared_path(IMAGE))))
    before = raw_outputs(copy.deepcopy(fine_tuning.network), blob)
    result = fine_tuning.run(progress=False)
    for network in (result.network, result.ema.network):
        after = raw_outputs(network, blob)
        largest = max(float((a - b).abs().max()) for a, b in zip(after, before))
        assert (largest < 1e-4) == unchanged, largest


def test_batch_norm_modes_are_checked(tmp_path):
    annotations, images = coco_train()
    with pytest.raises(ValueError, match="batch_norm 'sometimes'"):
        TrainOptions(annotations, images, tmp_path, batch_norm="sometimes")
