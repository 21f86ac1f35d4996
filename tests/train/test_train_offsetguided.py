"""Training SimplePose V2 (OffsetGuided) through the per-head contract: an architecture name
trains from scratch, its checkpoints predict, and steps on one batch lower its loss."""
from __future__ import annotations

import json
import pickle

import numpy as np
import torch

from manypose import modelfile
from manypose.cli import main
from manypose.data.augment import AugmentOptions
from manypose.losses.guiding_offsets import GuidingOffsetsLoss
from manypose.train import Trainer, TrainOptions
from manypose.train.batches import collate
from manypose.zoo import untrained_model

from conftest import shared_path

ANNOTATIONS = "data/coco-mini/annotations/person_keypoints_train2017.json"


def options(output, model, **changes):
    values = dict(model=model, epochs=1, batch_size=1, max_steps=1, workers=0, augment=AugmentOptions(size=64))
    values.update(changes)
    return TrainOptions(shared_path(ANNOTATIONS), shared_path("data/coco-mini/train2017"), output, **values)


def test_the_architecture_name_trains_from_scratch_and_its_checkpoint_predicts(tmp_path):
    trainer = Trainer(options(tmp_path / "run", "offsetguided-resnet26"))
    assert isinstance(trainer.contract.loss, GuidingOffsetsLoss)
    assert not trainer.from_trained_weights and not trainer.frozen_statistics  # batch norms learn
    pickle.dumps(trainer.images)  # targets are made in data loading workers
    result = trainer.run(progress=False)
    assert list(result.log[0]["loss"]) == ["heatmaps", "refinement", "guiding"]
    assert all(np.isfinite(value) for value in result.log[0]["loss"].values())
    assert main(["predict", str(shared_path("data/coco-mini/val2017/000000000139.jpg")), "--model",
                 str(result.last), "--backend", "torch", "--json-output", str(tmp_path / "out.json"), "--quiet"]) == 0
    assert "poses" in json.loads((tmp_path / "out.json").read_text())[0]


def test_steps_on_one_batch_lower_each_term_of_its_loss(tmp_path):
    base = untrained_model("offsetguided-resnet26").description
    backbone = {**base["architecture"]["backbone"], "stem_channels": 8, "stage_widths": [4, 8, 8, 16],
                "stage_repeats": [1, 1, 1, 1]}
    description = {**base, "architecture": {**base["architecture"], "backbone": backbone, "neck_channels": 16}}
    torch.manual_seed(0)
    folder = modelfile.save(tmp_path / "tiny", description, {}, dtype="float32")
    trainer = Trainer(options(tmp_path / "run", str(folder), augment=AugmentOptions.letterbox_only(128)))
    images, targets = collate([trainer.images[i] for i in range(2)])  # two images, 128 px
    optimizer = torch.optim.AdamW(trainer.network.parameters(), lr=3e-3)
    trainer.network.train()
    first = None
    for _ in range(25):
        total, items = trainer.contract(trainer.network.raw_outputs(images), targets)
        first = items if first is None else first
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert (items < first).all(), (first, items)
