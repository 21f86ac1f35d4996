"""Training Lightweight OpenPose: the contract wires its targets, loss and every stage's maps
(steps on a repeated batch lower the loss), the three-step schedule sets what the original's
steps set, each step starts from the previous one's weights whatever its number of refinement
stages, and a stopped run resumes to the weights of an uninterrupted one."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from manypose.cli import main
from manypose.data.augment import AugmentOptions
from manypose.modelfile import read_model_folder
from manypose.models import inference_network
from manypose.train import Trainer, TrainOptions
from manypose.train.batches import collate
from manypose.train.schedules import schedule

from conftest import shared_path

NARROW = {"width": 0.125, "channels": 16}  # a small network of the family: seconds per run


def options(output, **changes) -> TrainOptions:
    values = dict(model="lightweight-openpose", epochs=1, batch_size=2, max_steps=1, workers=0,
                  augment=AugmentOptions(size=64), architecture={**NARROW, "refinement_stages": 2})
    values.update(changes)
    return TrainOptions(shared_path("data/coco-mini/annotations/person_keypoints_train2017.json"),
                        shared_path("data/coco-mini/train2017"), Path(output), **values)


def weights_of(network) -> dict:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def test_steps_on_a_repeated_batch_change_the_weights_and_lower_the_loss(tmp_path):
    trainer = Trainer(options(tmp_path / "run"))
    assert trainer.contract.term_names == ("heatmaps", "fields")
    images, targets = collate([trainer.images[i] for i in range(2)])
    network = trainer.network.train()
    heatmaps, fields = network.raw_outputs(images)
    assert heatmaps.shape == (2, 3, 18, 8, 8) and fields.shape == (2, 3, 2 * 19, 8, 8)  # 3 stages, COCO
    before = weights_of(network)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        total, items = trainer.contract(network.raw_outputs(images), targets)
        assert total.item() == pytest.approx(float(items.sum()), rel=1e-5)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.9 * losses[0]
    after = network.state_dict()
    assert not torch.equal(before["cpm.align.weight"], after["cpm.align.weight"])
    assert not torch.equal(before["refinement_stages.1.pafs.output.weight"],
                           after["refinement_stages.1.pafs.output.weight"])


def test_a_trained_checkpoint_keeps_its_changed_architecture_and_loads(tmp_path):
    result = Trainer(options(tmp_path / "run")).run(progress=False)
    model = read_model_folder(result.last)
    assert model.architecture == {"family": "lightweight_openpose", "channels": 16, "refinement_stages": 2,
                                  "width": 0.125}
    network = inference_network(model)  # every weight in place, none left over
    with torch.no_grad():
        assert network(torch.zeros(1, 3, 64, 64)).shape == (1, 18 + 2 * 19, 8, 8)


def test_the_schedule_runs_the_originals_three_steps_each_from_the_last(tmp_path):
    lightweight = schedule("lightweight-openpose")
    base = options(tmp_path / "run", model=None, optimizer="sgd", architecture={})
    steps = [lightweight.step_options(number, base) for number in (1, 2, 3)]
    assert [step.model for step in steps] == ["lightweight-openpose", str(tmp_path / "run/step1/last"),
                                              str(tmp_path / "run/step2/last")]
    assert [step.output for step in steps] == [tmp_path / "run" / f"step{n}" for n in (1, 2, 3)]
    assert [step.architecture for step in steps] == [{"refinement_stages": 1}] * 2 + [{"refinement_stages": 3}]
    assert {(step.optimizer, step.lr, step.batch_norm) for step in steps} == {("adamw", 4e-5, "updated")}
    assert [step.epochs for step in steps] == [280, 190, 250]
    assert all(step.batch_size == base.batch_size and step.train_images == base.train_images for step in steps)
    assert lightweight.step_options(1, replace(base, model="backbone/")).model == "backbone/"  # a backbone's weights
    with pytest.raises(ValueError, match="steps 1 to 3"):
        lightweight.step_options(4, base)
    with pytest.raises(ValueError, match="no training schedule 'openpose'; known: lightweight-openpose"):
        schedule("openpose")


def test_each_step_starts_from_the_weights_of_the_last_whatever_its_refinement_stages(tmp_path):
    """Steps shortened to one batch each; 1 -> 1 -> 3 refinement stages as the schedule has it,
    then back to 1 (the original deploys the first of three)."""
    lightweight = schedule("lightweight-openpose")
    base = options(tmp_path / "run")
    trainers = []
    for number in (1, 2, 3):
        step = lightweight.step_options(number, base)
        trainer = Trainer(replace(step, epochs=1, architecture={**step.architecture, **NARROW}))
        trainers.append(trainer)
        if number > 1:
            previous = read_model_folder(tmp_path / "run" / f"step{number - 1}" / "last").weights
            started = trainer.network.state_dict()
            carried = [k for k in started if k in previous]
            assert all(np.array_equal(started[k].numpy(), previous[k]) for k in carried)
        trainer.run(progress=False)
    assert trainers[1].initialised == []
    new_stages = sorted(k for k in trainers[2].network.state_dict()
                        if k.startswith(("refinement_stages.1.", "refinement_stages.2."))
                        and not k.endswith("num_batches_tracked"))
    assert new_stages and trainers[2].initialised == new_stages
    fewer = Trainer(options(tmp_path / "one", model=str(tmp_path / "run/step3/last"),
                            architecture={"refinement_stages": 1}))
    assert fewer.initialised == [] and len(fewer.network.refinement_stages) == 1


class StoppedAfterTheFirstEpoch(Trainer):
    def _end_epoch(self, entry):
        saved = super()._end_epoch(entry)
        if self.epoch == 1:
            raise KeyboardInterrupt
        return saved


def test_the_seed_alone_sets_the_initialised_weights(tmp_path):
    torch.manual_seed(1)
    state = torch.random.get_rng_state()
    first = weights_of(Trainer(options(tmp_path / "first")).network)
    assert torch.equal(torch.random.get_rng_state(), state), "the caller's random state is left as it was"
    torch.manual_seed(2)
    again = weights_of(Trainer(options(tmp_path / "again")).network)
    other = weights_of(Trainer(options(tmp_path / "other", seed=1)).network)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["cpm.align.weight"], other["cpm.align.weight"])


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    whole = Trainer(options(tmp_path / "whole", epochs=2)).run(progress=False)
    with pytest.raises(KeyboardInterrupt):
        StoppedAfterTheFirstEpoch(options(tmp_path / "parts", epochs=2)).run(progress=False)
    resumed = Trainer(options(tmp_path / "parts", epochs=2, resume=True)).run(progress=False)
    expected, got = weights_of(whole.network), weights_of(resumed.network)
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)
    assert [e["epoch"] for e in resumed.log] == [1, 2]


def test_the_command_line_refuses_a_step_without_a_schedule_and_stages_with_one(tmp_path, capsys):
    common = ["train", "--train-annotations", str(shared_path("data/coco-mini/annotations/person_keypoints_train2017.json")),
              "--train-images", str(shared_path("data/coco-mini/train2017")), "--output", str(tmp_path / "run"),
              "--dry-run", "--quiet"]
    assert main(common + ["--step", "2"]) == 2
    assert "--step is a step of a --schedule" in capsys.readouterr().err
    assert main(common + ["--schedule", "lightweight-openpose", "--refinement-stages", "2"]) == 2
    assert "--schedule sets the refinement stages" in capsys.readouterr().err
    assert main(common + ["--model", "lightweight-openpose", "--refinement-stages", "2", "--size", "64"]) == 0
    assert main(common + ["--refinement-stages", "2", "--size", "64"]) == 2  # yolo11n-pose has none
    assert "has no refinement_stages to change" in capsys.readouterr().err
