"""Fine-tuning from trained weights does no harm by itself: what moves the model is the
gradient steps, and the training input of an image is the inference input."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np
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


def test_an_unaugmented_sample_is_the_inference_input(tmp_path):
    """Placed on whole pixels as the letterbox places it (no half-pixel resampling): equal to the
    square inference input where the image needs no resize, within resampling where it does."""
    unaugmented = AugmentOptions(size=640, scale=(1.0, 1.0), translate=0.0, flip=0.0, hsv=(0.0, 0.0, 0.0))
    training = trainer(tmp_path / "plain", augment=unaugmented)
    spec = training.base.input_spec.with_size(640)
    checked = 0
    for index in range(8):
        blob, _ = training.images[index]
        image = training.data[index].image
        expected, _ = spec.prepare(image, minimal_padding=False)
        difference = np.abs(blob.numpy() - expected[0])
        if max(image.shape[:2]) == 640:
            assert difference.max() < 1e-5, index
            checked += 1
        else:
            assert difference.mean() < 1e-3, index
    assert checked >= 4


def four_image_annotations(folder: Path) -> Path:
    annotations, _ = coco_train()
    data = json.loads(annotations.read_text())
    crowded = sorted({a["image_id"] for a in data["annotations"] if a["num_keypoints"] >= 5})[:4]
    data["images"] = [image for image in data["images"] if image["id"] in crowded]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in crowded]
    path = folder / "four.json"
    path.write_text(json.dumps(data))
    return path


def test_a_few_dozen_steps_on_four_images_raise_their_ap(tmp_path):
    """The default recipe (batch-norm statistics kept, SGD at 1e-4) fits what it sees."""
    import manypose
    from manypose.evaluate import evaluate

    annotations, images = four_image_annotations(tmp_path), coco_train()[1]
    options = TrainOptions(annotations, images, tmp_path / "four", epochs=1, repeats=24, batch_size=4, workers=0,
                           augment=AugmentOptions(size=320))
    Trainer(options).run(progress=False)

    def ap(model) -> float:
        estimator = manypose.load(model, input_size=320, score_threshold=0.01)
        return evaluate(estimator, annotations, images, progress=False)[0]["AP"]

    before, after = ap(None), ap(tmp_path / "four" / "last")
    print(f"AP on the four training images: {before:.3f} -> {after:.3f}")
    assert after >= before + 0.02
