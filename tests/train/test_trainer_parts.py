"""The Trainer's own steps on runs of a step or two (yolo11n-pose at 64 px, about a tenth of a
second a step): what `train` and its progress bar show, the samples it draws, each epoch's order,
the validation AP it logs, what a checkpoint says of its provenance and keypoint set, the
optimizers and their groups, autocast, frozen and learning batch norms, a world of two on one
process, and the options it refuses."""
from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import manypose
from manypose.data.augment import AugmentOptions, draw_sample
from manypose.evaluate import evaluate
from manypose.modelfile import read_model_folder
from manypose.predict import write_overlay
from manypose.train import Trainer, TrainOptions, train
from manypose.train.loop import MOMENTUM, WEIGHT_DECAY, _autocast, changed_architecture
from manypose.train.state import options_dict

from small_runs import coco_mini, group_of_one, small_run, without_curves


def test_train_shows_its_progress_unless_told_not_to(tmp_path, capsys, monkeypatch):
    without_curves(monkeypatch)
    result = train(small_run(tmp_path / "run"))
    assert "epoch 1/1" in capsys.readouterr().err
    assert result.last == tmp_path / "run" / "last" and [entry["epoch"] for entry in result.log] == [1]
    train(small_run(tmp_path / "quiet"), progress=False)
    assert "epoch 1/1" not in capsys.readouterr().err


def test_samples_are_the_augmented_images_with_the_data_sets_skeleton_drawn(tmp_path):
    trainer = Trainer(small_run(tmp_path / "run"))
    index = next(i for i in range(8) if len(trainer.augmented[i].boxes))  # someone drawn: the check can fail
    folder = tmp_path / "not" / "yet" / "samples"
    written = trainer.save_samples(folder, count=index + 1)
    names = [f"sample_{i:03d}.jpg" for i in range(index + 1)]
    assert written == [folder / name for name in names] and sorted(p.name for p in folder.iterdir()) == names
    sample = trainer.augmented[index]
    write_overlay(tmp_path / "expected.jpg", draw_sample(sample, trainer.data.skeleton))
    assert written[index].read_bytes() == (tmp_path / "expected.jpg").read_bytes()
    write_overlay(tmp_path / "other.jpg", draw_sample(trainer.augmented[index + 1], trainer.data.skeleton))
    assert written[index].read_bytes() != (tmp_path / "other.jpg").read_bytes()


def one_image_val(tmp_path) -> tuple[Path, Path]:
    """coco-mini's val2017 reduced to its first two images with people."""
    annotations, images = coco_mini("val")
    data = json.loads(annotations.read_text())
    kept = sorted({a["image_id"] for a in data["annotations"] if a["num_keypoints"] > 5})[:2]
    data["images"] = [image for image in data["images"] if image["id"] in kept]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    path = tmp_path / "val.json"
    path.write_text(json.dumps(data))
    return path, images


def test_the_logged_ap_is_the_checkpoints_ap_at_a_score_threshold_of_0_01(tmp_path, monkeypatch, capsys):
    without_curves(monkeypatch)
    val_annotations, val_images = one_image_val(tmp_path)
    estimators = []

    def recorded(estimator, *args, **kwargs):  # the real evaluation, its estimator kept
        estimators.append(estimator)
        return evaluate(estimator, *args, **kwargs)

    monkeypatch.setattr("manypose.train.loop.evaluate", recorded)
    result = Trainer(small_run(tmp_path / "run", lr=1e-6, val_annotations=val_annotations,
                               val_images=val_images)).run(progress=False)
    assert capsys.readouterr().err == ""  # no progress bar, the evaluation's included
    # evaluated on a folded copy: the average itself, and so `last`, keep their batch norms
    kept = {k for k in result.ema.network.state_dict() if not k.endswith("num_batches_tracked")}
    assert set(read_model_folder(result.last).weights) == kept and any(".bn.running_mean" in k for k in kept)
    logged = result.log[0]["AP"]
    estimator = manypose.load(str(result.last), backend="torch", score_threshold=0.01)
    stats, _, _ = evaluate(estimator, val_annotations, val_images, progress=False)
    assert logged == pytest.approx(stats["AP"], abs=1e-9) and logged > 0.2
    # the people it found in an image: those the checkpoint finds at 0.01, some below the default 0.25
    import cv2

    first = json.loads(val_annotations.read_text())["images"][0]["file_name"]
    image = cv2.imread(str(val_images / first))
    (validation,) = estimators
    expected = sorted(estimator(image).scores)
    assert sorted(validation(image).scores) == pytest.approx(expected, abs=1e-5) and min(expected) < 0.25


def test_a_checkpoint_states_where_it_came_from_and_how_it_was_trained(tmp_path, monkeypatch):
    options = small_run(tmp_path / "run", epochs=2, max_steps=2, seed=4)
    trainer = Trainer(options)
    result = trainer.run(progress=False)
    last = read_model_folder(result.last).description
    base = trainer.base.description
    assert last["name"] == "run" and read_model_folder(result.best).name == "run-best"
    assert last["architecture"] == base["architecture"] and last["input"] == base["input"]
    assert last["heads"] == [head.to_dict() for head in trainer.heads]
    assert last["skeleton"] == trainer.data.skeleton.to_dict()
    provenance = last["provenance"]
    assert provenance["trained_from"] == "yolo11n-pose" and provenance["base_provenance"] == base.get("provenance")
    assert provenance["base_provenance"] is not None
    assert (provenance["epochs"], provenance["steps"]) == (2, 4)
    assert provenance["training"] == json.loads(json.dumps(options_dict(options)))
    assert provenance["loss_weights"] == trainer.contract.term_weights
    log = result.log
    assert [(entry["epoch"], entry["step"]) for entry in log] == [(1, 2), (2, 4)]
    assert all(set(entry) == {"epoch", "step", "lr", "loss", "seconds"} and 0 < entry["seconds"] < 600 for entry in log)
    assert (tmp_path / "run" / "curves.png").is_file()
    assert not {"format", "format_version", "weights"} & set(trainer._description())  # the model file's own
    assert all(list(entry["loss"]) == list(trainer.contract.term_names) for entry in log)


class Recorded(Trainer):
    """A Trainer that keeps each step's loss items."""

    def _train_step(self, trainable, images, targets):
        items = super()._train_step(trainable, images, targets)
        self.recorded = getattr(self, "recorded", []) + [(self.epoch, items.copy())]
        return items


def test_each_epochs_logged_loss_is_the_mean_of_its_steps_items(tmp_path, monkeypatch, capsys):
    without_curves(monkeypatch)
    trainer = Recorded(small_run(tmp_path / "run", epochs=2, max_steps=3, batch_size=2))
    result = trainer.run()
    assert "epoch 2/2" in capsys.readouterr().err  # progress shown unless told not to
    assert [epoch for epoch, _ in trainer.recorded] == [0, 0, 0, 1, 1, 1]
    for entry in result.log:
        items = np.mean([items for epoch, items in trainer.recorded if epoch == entry["epoch"] - 1], axis=0)
        assert list(entry["loss"].values()) == pytest.approx(items.tolist(), rel=1e-6)
    assert trainer.steps_per_epoch == 3 and trainer.step == 6


def test_steps_per_epoch_cover_the_images_once_a_repeat_without_a_step_limit(tmp_path):
    trainer = Trainer(small_run(tmp_path / "run", max_steps=None, batch_size=3, repeats=2))
    assert trainer.steps_per_epoch == math.ceil(len(trainer.images) / 3) and len(trainer.images) == 2 * len(
        trainer.data)
    assert Trainer(small_run(tmp_path / "capped", max_steps=2, batch_size=3)).steps_per_epoch == 2


def test_adamw_takes_momentum_as_its_first_beta_and_decays_only_weights(tmp_path):
    trainer = Trainer(small_run(tmp_path / "run", optimizer="adamw", lr=2e-3))
    optimizer = trainer.optimizer
    assert type(optimizer) is torch.optim.AdamW and trainer.schedule.lr == 2e-3
    weights, others = optimizer.param_groups
    assert weights["betas"] == (MOMENTUM, 0.999) and (weights["weight_decay"], others["weight_decay"]) == (
        WEIGHT_DECAY, 0.0)
    parameters = list(trainer.network.parameters())
    assert len(weights["params"]) + len(others["params"]) == len(parameters)
    assert all(p.ndim > 1 for p in weights["params"]) and all(p.ndim <= 1 for p in others["params"])
    sgd = Trainer(small_run(tmp_path / "sgd")).optimizer
    assert type(sgd) is torch.optim.SGD and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == MOMENTUM


def test_train_only_groups_only_the_matched_parameters_and_stops_the_others_gradients(tmp_path):
    trainer = Trainer(small_run(tmp_path / "run", train_only=r"\.cv3\.0\.2\."))
    names = trainer.trained_parameters
    assert sorted(names) == ["model.23.cv3.0.2.bias", "model.23.cv3.0.2.weight"]
    learning = {name for name, p in trainer.network.named_parameters() if p.requires_grad}
    assert learning == set(names)
    grouped = [p for group in trainer.optimizer.param_groups for p in group["params"]]
    assert len(grouped) == 2 and all(p.requires_grad for p in grouped)


@pytest.mark.parametrize("mode, frozen", [("frozen", True), ("updated", False), ("auto", True)])
def test_batch_norm_statistics_stay_as_trained_when_frozen_and_learn_otherwise(tmp_path, monkeypatch, mode, frozen):
    without_curves(monkeypatch)
    trainer = Trainer(small_run(tmp_path / "run", batch_norm=mode, lr=1e-6))
    assert trainer.from_trained_weights and trainer.frozen_statistics == frozen
    before = {k: v.clone() for k, v in trainer.network.state_dict().items() if "running_" in k}
    trainer.run(progress=False)
    after = trainer.network.state_dict()
    unchanged = all(torch.equal(before[k], after[k]) for k in before)
    assert unchanged == frozen
    norms = [m for m in trainer.network.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(not m.training for m in norms) == frozen and trainer.network.training


def test_an_architecture_change_may_only_set_keys_the_architecture_has():
    architecture = {"family": "yolo", "width": 0.25}
    assert changed_architecture(architecture, {"width": 0.5}) == {"family": "yolo", "width": 0.5}
    assert architecture == {"family": "yolo", "width": 0.25}
    with pytest.raises(ValueError, match="^the yolo architecture has no depth, stages to change$"):
        changed_architecture(architecture, {"stages": 2, "depth": 1, "width": 1})


def test_autocast_is_bfloat16_when_asked_and_nothing_otherwise():
    with _autocast(torch.device("cpu"), True):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with _autocast(torch.device("cpu"), False):
        assert not torch.is_autocast_enabled("cpu")


def test_a_fresh_run_starts_a_new_log_where_a_forced_one_replaces_an_earlier(tmp_path, monkeypatch):
    without_curves(monkeypatch)
    (tmp_path / "run" / "last").mkdir(parents=True)
    (tmp_path / "run" / "log.jsonl").write_text(json.dumps({"epoch": 7, "loss": {}}) + "\n")
    result = Trainer(small_run(tmp_path / "run", force=True)).run(progress=False)
    assert [entry["epoch"] for entry in result.log] == [1]
    result = Trainer(small_run(tmp_path / "new" / "deeper")).run(progress=False)
    assert [entry["epoch"] for entry in result.log] == [1] and result.best == tmp_path / "new" / "deeper" / "best"


# --- the loop's helpers on their own ----------------------------------------------------------

def test_a_train_only_pattern_that_matches_nothing_names_the_first_and_last_parameters():
    from manypose.train.loop import _train_only

    network = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    message = ("--train-only 'cv3' matches none of the network's parameters (they are named as '0.weight' ... "
               "'2.bias')")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _train_only(network, "cv3")
    assert _train_only(network, r"^2\.") == ["2.weight", "2.bias"]
    assert [p.requires_grad for p in network.parameters()] == [False, False, True, True]


def test_the_optimizer_decays_every_matrix_and_nothing_of_one_dimension_at_the_rate_given():
    from manypose.train.loop import _optimizer

    network = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3), torch.nn.Conv2d(3, 2, 1))
    for name, kind in (("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW)):
        optimizer = _optimizer(name, network, 0.0625)
        assert type(optimizer) is kind
        decayed, others = optimizer.param_groups
        # the linear layer's (3, 2) matrix is decayed like the convolution's (2, 3, 1, 1) kernel
        assert [tuple(p.shape) for p in decayed["params"]] == [(3, 2), (2, 3, 1, 1)]
        assert [tuple(p.shape) for p in others["params"]] == [(3,), (3,), (3,), (2,)]
        assert (decayed["weight_decay"], others["weight_decay"]) == (WEIGHT_DECAY, 0.0)
        assert decayed["lr"] == others["lr"] == 0.0625


def test_autocast_on_a_gpu_is_bfloat16_where_it_has_it_and_float32_with_a_warning_where_not(monkeypatch):
    gpu = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    with pytest.warns(UserWarning, match="^--amp: this GPU has no bfloat16; training in float32$"):
        context = _autocast(gpu, True)
    assert not isinstance(context, torch.autocast)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: no CUDA here, the autocast is made disabled
        context = _autocast(gpu, True)
    assert isinstance(context, torch.autocast) and (context.device, context.fast_dtype) == ("cuda", torch.bfloat16)
    assert not isinstance(_autocast(gpu, False), torch.autocast)
    assert _autocast(torch.device("cpu"), True).fast_dtype == torch.bfloat16


def test_a_new_run_refuses_an_output_holding_one_before_any_work(tmp_path):
    (tmp_path / "run" / "best").mkdir(parents=True)
    message = (f"{tmp_path / 'run'}: holds a run already; --resume continues it, --force replaces it, or choose "
               "another --output")
    with pytest.raises(FileExistsError, match=f"^{re.escape(message)}$"):
        Trainer(small_run(tmp_path / "run"))


def test_the_default_warm_up_is_a_whole_number_of_steps(tmp_path):
    trainer = Trainer(small_run(tmp_path / "run", max_steps=25))  # a tenth of 25 steps, rounded down
    assert trainer.schedule.warmup_steps == 2 and type(trainer.schedule.warmup_steps) is int


def test_each_epoch_draws_its_own_order_and_samples_from_the_runs_seed(tmp_path, monkeypatch):
    """The order of the items and their augmentation follow the run's seed and the epoch: the same
    for the same both (a resumed run sees the same batches), different otherwise."""
    orders = []

    def recorded(images, order, batch_size, workers):
        orders.append(list(order))
        raise StopIteration  # the order is what is checked: no steps

    monkeypatch.setattr("manypose.train.loop.batches", recorded)
    trainers = {seed: Trainer(small_run(tmp_path / f"seed{seed}", seed=seed)) for seed in (0, 1)}
    for seed, epoch in ((0, 0), (0, 1), (1, 0), (0, 0)):
        trainers[seed].epoch = epoch
        with pytest.raises(StopIteration):
            trainers[seed]._train_epoch(None, progress=False)
    count = len(trainers[0].images)
    assert all(sorted(order) == list(range(count)) for order in orders)
    assert orders[0] == orders[3] and orders[0] != orders[1] and orders[0] != orders[2]
    first = trainers[0].augmented[0].image
    trainers[0].augmented.set_epoch(0)
    assert np.array_equal(trainers[0].augmented[0].image, first)
    trainers[1].augmented.set_epoch(0)
    assert not np.array_equal(trainers[1].augmented[0].image, first)  # another seed, other samples


def test_a_step_runs_the_network_under_autocast_when_asked_at_the_scheduled_rate(tmp_path):
    from manypose.train.batches import collate

    trainer = Trainer(small_run(tmp_path / "run", amp=True, lr=0.004, warmup_steps=4, max_steps=8))
    seen = []

    def trainable(images):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return trainer.network.raw_outputs(images)

    images, targets = collate([trainer.images[0]])
    before = [p.detach().clone() for p in trainer.network.parameters()]
    items = trainer._train_step(trainable, images, targets)
    assert seen == [(True, torch.bfloat16)]
    assert [group["lr"] for group in trainer.optimizer.param_groups] == [0.001, 0.001]  # 0.004 * 1 / 4
    assert trainer.step == 1 and trainer.ema.updates == 1
    assert items.shape == (len(trainer.contract.term_names),) and np.isfinite(items).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.network.parameters()))


def test_the_progress_bar_shows_the_epoch_the_batches_and_the_last_steps_loss_and_rate(tmp_path, capsys,
                                                                                      monkeypatch):
    without_curves(monkeypatch)
    trainer = Recorded(small_run(tmp_path / "run", epochs=1, max_steps=2, lr=0.004, warmup_steps=2))
    trainer.run(progress=True)
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    # both steps counted; the last (step 1) ran at 0.004 * 2 / 2; its loss is the sum of its items
    loss = f"{trainer.recorded[-1][1].sum():.3f}"
    assert re.match(rf"^epoch 1/1: 100%\|.*\| 2/2 \[.*(batch/s|s/batch), loss={re.escape(loss)}, lr=0\.004\]$", last)


def test_a_world_of_two_wraps_the_network_for_distributed_steps_and_averages_the_logged_loss(tmp_path,
                                                                                           monkeypatch):
    """A world of two with this process as its only member (a gloo group of one): the network
    trains through DistributedDataParallel, rank 0 takes every other item of the epoch's order, the
    buffers are shared, and each logged loss is the world's mean (this process's items over 2)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from manypose.train.distributed import World

    without_curves(monkeypatch)
    with group_of_one(tmp_path / "store"):
        trainer = Recorded(small_run(tmp_path / "run", max_steps=1))
        trainer.world = World(0, 2, 0)
        kinds = []
        step = trainer._train_step

        def recorded_step(trainable, images, targets):
            kinds.append(type(trainable))
            return step(trainable, images, targets)

        trainer._train_step = recorded_step
        result = trainer.run(progress=False)
        assert kinds == [DistributedDataParallel] and not dist.is_initialized()  # the run left the world
    (_, items), = trainer.recorded
    assert list(result.log[0]["loss"].values()) == pytest.approx((items / 2).tolist(), rel=1e-6)


def test_a_checkpoint_describes_the_data_sets_keypoint_set_not_the_base_models(tmp_path):
    annotations, images = coco_mini()
    data = json.loads(annotations.read_text())
    names = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]  # a custom set: the five face keypoints
    data["categories"] = [{"id": 1, "name": "face", "supercategory": "person", "keypoints": names,
                           "skeleton": [[1, 2], [1, 3], [2, 4], [3, 5]]}]
    for annotation in data["annotations"]:
        annotation["keypoints"] = annotation["keypoints"][:15]
        annotation["num_keypoints"] = sum(v > 0 for v in annotation["keypoints"][2::3])
    (tmp_path / "faces.json").write_text(json.dumps(data))
    trainer = Trainer(TrainOptions(tmp_path / "faces.json", images, tmp_path / "run", workers=0,
                                   augment=AugmentOptions(size=64)))
    description = trainer._description()
    assert description["skeleton"] == trainer.data.skeleton.to_dict() != trainer.base.description["skeleton"]
    assert description["skeleton"]["keypoints"] == names
    assert description["heads"] == [head.to_dict() for head in trainer.heads] != trainer.base.description["heads"]
