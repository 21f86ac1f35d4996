"""Training an OpenPifPaf network: from a converted checkpoint (the tiny fixture) the trainer
takes the composite-field loss's items and targets and saves folders that predict; an
architecture name gives an untrained network to train from scratch."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import manypose
from manypose.cli import main
from manypose.convert import convert
from manypose.data.augment import AugmentOptions
from manypose.losses.composite_fields import CompositeFieldsLoss
from manypose.models import build_network
from manypose.models.pifpaf import ARCHITECTURES
from manypose.train import Trainer, TrainOptions
from manypose.zoo import UNTRAINED, ModelNotFound, find_model

from conftest import shared_path

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "openpifpaf" / "tiny-shufflenetv2k.pkl"


def test_a_converted_checkpoint_trains_and_its_checkpoints_predict(tmp_path):
    model = convert(TINY, tmp_path / "tiny", dtype="float32")
    options = TrainOptions(shared_path("data/coco-mini/annotations/person_keypoints_train2017.json"),
                           shared_path("data/coco-mini/train2017"), tmp_path / "run", model=str(model), epochs=1,
                           batch_size=2, max_steps=2, workers=0, augment=AugmentOptions(size=161))
    trainer = Trainer(options)
    assert isinstance(trainer.contract.loss, CompositeFieldsLoss) and not trainer.initialised
    pickle.dumps(trainer.images)  # the targets are drawn in data loading workers
    result = trainer.run(progress=False)
    losses = result.log[0]["loss"]
    assert list(losses) == list(CompositeFieldsLoss.names) and all(np.isfinite(v) for v in losses.values())
    assert result.best is not None  # ranked by the total loss, unbounded
    assert main(["predict", str(shared_path("data/coco-mini/val2017/000000000139.jpg")), "--model",
                 str(tmp_path / "run" / "last"), "--backend", "torch", "--json-output", str(tmp_path / "out.json"),
                 "--quiet"]) == 0
    assert "poses" in json.loads((tmp_path / "out.json").read_text())[0]


def test_training_images_are_padded_as_the_model_pads_at_inference(tmp_path):
    model = convert(TINY, tmp_path / "tiny", dtype="float32")
    options = TrainOptions(shared_path("data/coco-mini/annotations/person_keypoints_train2017.json"),
                           shared_path("data/coco-mini/train2017"), tmp_path / "run", model=str(model),
                           augment=AugmentOptions.letterbox_only(161))
    image = Trainer(options).augmented[0].image
    grey_bgr = tuple(int(v) for v in manypose.load(str(model), backend="torch").input_spec.bgr_pad_value)
    assert grey_bgr == (104, 116, 124)  # OpenPifPaf's grey, RGB (124, 116, 104)
    assert tuple(image[0, 0]) == grey_bgr and tuple(image[-1, -1]) == grey_bgr


def test_an_architecture_name_is_an_untrained_network_for_training_only():
    assert set(ARCHITECTURES) <= set(UNTRAINED)
    model = find_model("shufflenetv2k16", untrained=True)
    assert model.weights == {} and [head.kind for head in model.heads] == ["cif", "caf"]
    network = build_network(model.architecture, model.heads)
    assert sum(p.numel() for p in network.parameters()) == 10_125_960  # OpenPifPaf's shufflenetv2k16 with cif + caf
    # loading the name means OpenPifPaf's published checkpoint: fetched, or refused offline
    with pytest.raises(ModelNotFound, match="MANYPOSE_OFFLINE is set.*manypose train --model shufflenetv2k16"):
        manypose.load("shufflenetv2k16")


def test_the_training_size_must_suit_the_corner_aligned_grid(tmp_path):
    options = TrainOptions(shared_path("data/coco-mini/annotations/person_keypoints_train2017.json"),
                           shared_path("data/coco-mini/train2017"), tmp_path / "run", model="shufflenetv2k16",
                           augment=AugmentOptions(size=160))
    with pytest.raises(ValueError, match=r"plus one 16 \(try 145 or 161\)"):
        Trainer(options)
