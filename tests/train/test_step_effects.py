"""What a training step does to the weights, checked against values computed here: the EMA's
arithmetic, the learning rate and the SGD step applied, which epoch `best` holds across a
resume, and which keypoints the losses learn from (visibility 1 and 2, never 0)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from manypose.cli import main
from manypose.data.coco import Sample
from manypose.encoders.pose_objects import PoseTargets
from manypose.heads.composite_fields import coco17_heads
from manypose.losses import PoseObjectsLoss
from manypose.losses.composite_fields import CompositeFieldsLoss
from manypose.modelfile import read_model_folder
from manypose.skeleton import COCO17
from manypose.train import Trainer, TrainOptions
from manypose.train.loop import MAX_GRADIENT_NORM, MOMENTUM, WEIGHT_DECAY
from manypose.train.state import ExponentialMovingAverage, Schedule

import small_runs
from small_runs import coco_mini


def small_run(output: Path, **changes) -> TrainOptions:
    """Two steps of one image at 64 px, over two epochs."""
    return small_runs.small_run(output, **{"epochs": 2, "max_steps": 2, **changes})


def documented_rate(step: int, lr: float, total: int, warmup: int, final_fraction: float = 0.1) -> float:
    """Schedule's docstring: linear warm-up from zero, then a cosine from lr to lr * final_fraction."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min((step - warmup) / (total - warmup), 1.0)
    return lr * (final_fraction + (1 - final_fraction) * (1 + math.cos(math.pi * progress)) / 2)


# --- 1. the EMA's arithmetic ----------------------------------------------------------------

def test_each_ema_update_mixes_in_the_weights_and_float_buffers_at_the_ramped_decay():
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    decay, ramp = 0.9, 3.0
    ema = ExponentialMovingAverage(network, decay=decay, ramp_steps=ramp)
    assert all(not p.requires_grad for p in ema.network.parameters())
    for n in range(1, 5):
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.copy_(torch.randn_like(parameter))
        network.train()(torch.randn(8, 3))  # moves the running statistics and counts a batch
        before = {k: v.clone() for k, v in ema.network.state_dict().items()}
        ema.update(network)
        expected_decay = decay * (1 - math.exp(-n / ramp))  # the n-th update's, ramped up from 0
        for name, value in network.state_dict().items():
            got = ema.network.state_dict()[name]
            if value.dtype.is_floating_point:  # weights and running statistics
                expected = expected_decay * before[name].double() + (1 - expected_decay) * value.double()
                torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-7, msg=f"update {n}: {name}")
            else:  # the batch counter: copied
                assert torch.equal(got, value), name
        assert not torch.equal(ema.network[0].weight, network[0].weight)  # the average lags, so the check can fail


def test_an_ema_restored_from_its_state_continues_the_same_ramp():
    torch.manual_seed(1)
    network = torch.nn.Linear(2, 2)
    ema = ExponentialMovingAverage(network, decay=0.8, ramp_steps=2.0)
    for _ in range(3):
        with torch.no_grad():
            network.weight.add_(1.0)
        ema.update(network)
    restored = ExponentialMovingAverage(torch.nn.Linear(2, 2), decay=0.8, ramp_steps=2.0)
    restored.load_state_dict(ema.state_dict())
    with torch.no_grad():
        network.weight.add_(1.0)
    ema.update(network)
    restored.update(network)  # the 4th update's decay, not the 1st's
    assert restored.updates == ema.updates == 4
    assert torch.equal(restored.network.weight, ema.network.weight)


# --- 2. the learning rate and the step applied -----------------------------------------------

def test_the_schedule_warms_up_linearly_from_zero_then_decays_by_a_cosine_to_a_tenth():
    schedule = Schedule(lr=0.2, total_steps=10, warmup_steps=4)
    # by hand: 0.2 / 4 per warm-up step; the cosine's middle (step 7) is 0.2 * (0.1 + 0.9 / 2)
    for step, expected in ((0, 0.05), (1, 0.1), (3, 0.2), (4, 0.2), (7, 0.11), (10, 0.02), (25, 0.02)):
        assert schedule.rate(step) == pytest.approx(expected, rel=1e-12), step
    assert schedule.rate(5) < schedule.rate(4) and schedule.rate(9) > schedule.rate(10)


@pytest.mark.parametrize("epochs, max_steps, warmup", [(2, 3, 1), (3, 10, 3), (2, None, 16), (50, None, 300)])
def test_the_default_warm_up_is_a_tenth_of_the_run_between_1_and_300_steps(tmp_path, epochs, max_steps, warmup):
    trainer = Trainer(small_run(tmp_path / "run", epochs=epochs, max_steps=max_steps))
    steps_per_epoch = max_steps or len(trainer.images)  # one image a step
    assert trainer.schedule.total_steps == epochs * steps_per_epoch
    assert trainer.schedule.warmup_steps == warmup


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def test_every_step_is_nesterov_sgd_at_the_scheduled_rate_and_the_ema_follows_the_stepped_weights(tmp_path,
                                                                                                  monkeypatch):
    small_runs.without_curves(monkeypatch)
    lr, warmup, ema_decay, total = 0.05, 2, 0.5, 4  # 2 warm-up steps, then the cosine's first half
    trainer = Trainer(small_run(tmp_path / "run", epochs=2, max_steps=2, lr=lr, warmup_steps=warmup,
                                ema_decay=ema_decay))
    network, optimizer = trainer.network, trainer.optimizer
    parameters = dict(network.named_parameters())
    # the same step by torch's own SGD: weight decay on weights only, not on biases and norms
    twins = {name: p.detach().clone().requires_grad_() for name, p in parameters.items()}
    reference = torch.optim.SGD(
        [{"params": [twins[n] for n, p in parameters.items() if p.ndim > 1], "weight_decay": WEIGHT_DECAY},
         {"params": [twins[n] for n, p in parameters.items() if p.ndim <= 1], "weight_decay": 0.0}],
        lr=lr, momentum=MOMENTUM, nesterov=True)
    averaged = {k: v.detach().clone() for k, v in network.state_dict().items() if v.is_floating_point()}
    steps = []

    def before_step(optimizer, args, kwargs):
        expected = documented_rate(len(steps), lr, total, warmup)
        assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([expected] * 2, rel=1e-12)
        gradients = [p.grad for p in parameters.values() if p.grad is not None]
        assert torch.linalg.vector_norm(flat(gradients)) <= MAX_GRADIENT_NORM * (1 + 1e-5)  # clipped
        for name, p in parameters.items():
            twins[name].grad = None if p.grad is None else p.grad.clone()
        for group in reference.param_groups:
            group["lr"] = expected
        reference.step()
        steps.append(flat(parameters.values()).clone())

    def after_step(optimizer, args, kwargs):
        stepped = flat(parameters.values())
        torch.testing.assert_close(stepped, flat(twins.values()), rtol=1e-6, atol=1e-9)
        assert not torch.equal(stepped, steps[-1])

    optimizer.register_step_pre_hook(before_step)
    optimizer.register_step_post_hook(after_step)
    original_update = trainer.ema.update

    def update(source):
        # the average takes the weights as the step left them, at the option's decay ramped up
        assert torch.equal(flat(source.parameters()), flat(twins.values()))
        decay = ema_decay * (1 - math.exp(-len(steps) / trainer.ema.ramp_steps))
        for name, value in source.state_dict().items():
            if name in averaged:
                averaged[name] = decay * averaged[name] + (1 - decay) * value.detach()
        original_update(source)

    trainer.ema.update = update
    result = trainer.run(progress=False)

    assert len(steps) == total
    names = list(averaged)
    ema_weights = result.ema.network.state_dict()
    torch.testing.assert_close(flat(ema_weights[k] for k in names), flat(averaged[k] for k in names),
                               rtol=1e-6, atol=1e-8)
    # the log states the rate of each epoch's last step
    assert [entry["lr"] for entry in result.log] == pytest.approx(
        [documented_rate(1, lr, total, warmup), documented_rate(3, lr, total, warmup)], rel=1e-12)


# --- 3. which epoch `best` holds across a resume ---------------------------------------------

def scripted_trainer(scores: dict, losses: dict | None, stop_after: int, averages: dict) -> type:
    """A Trainer whose epochs rank as scripted (validation AP by epoch, or loss items by epoch)
    and that stops after epoch `stop_after` unless resuming; it records each epoch's EMA."""

    class Scripted(Trainer):
        def _validation_ap(self) -> float:
            return scores[self.epoch]

        def _train_epoch(self, trainable, progress):
            items = super()._train_epoch(trainable, progress)
            if losses is None:
                return items
            return [losses[self.epoch + 1].get(name, 0.0) for name in self.contract.term_names]

        def _end_epoch(self, entry):
            averages[self.epoch] = {k: v.detach().clone() for k, v in self.ema.network.state_dict().items()}
            saved = super()._end_epoch(entry)
            if self.epoch == stop_after and not self.options.resume:
                raise KeyboardInterrupt
            return saved

    return Scripted


@pytest.mark.parametrize("scores, losses, best_epoch", [
    ({1: 0.3, 2: 0.5, 3: 0.2, 4: 0.4}, None, 2),   # the best before the resume, not the last
    ({1: 0.3, 2: 0.4, 3: 0.6, 4: 0.5}, None, 3),   # the best after the resume, not the last
    ({1: 0.3, 2: 0.5, 3: 0.5, 4: 0.2}, None, 3),   # a tie goes to the later (more trained) epoch
    # without validation the lowest sum of the ranking terms (pose only) wins, not of all items
    ({}, {1: {"pose": 3.0, "box": 1.0}, 2: {"pose": 1.0, "box": 9.0}, 3: {"pose": 2.0}, 4: {"pose": 4.0}}, 2),
], ids=["best-before-resume", "best-after-resume", "tie", "loss-ranked"])
def test_best_holds_the_best_ranked_epochs_average_after_a_resume(tmp_path, monkeypatch, scores, losses, best_epoch):
    small_runs.without_curves(monkeypatch)
    validation = dict(zip(("val_annotations", "val_images"), coco_mini("val"))) if scores else {}
    averages = {}
    trainer = scripted_trainer(scores, losses, stop_after=2, averages=averages)
    with pytest.raises(KeyboardInterrupt):
        trainer(small_run(tmp_path / "run", epochs=4, max_steps=1, **validation)).run(progress=False)
    result = trainer(small_run(tmp_path / "run", epochs=4, max_steps=1, resume=True, **validation)).run(progress=False)

    assert sorted(averages) == [1, 2, 3, 4] and result.best == tmp_path / "run" / "best"
    best = read_model_folder(result.best)
    assert best.description["provenance"]["epochs"] == best_epoch
    expected = averages[best_epoch]
    assert set(best.weights) == {k for k in expected if not k.endswith("num_batches_tracked")}
    for name, weights in best.weights.items():
        assert np.array_equal(weights, expected[name].float().numpy()), name
    assert any(not torch.equal(expected[k], averages[4][k]) for k in expected), "epochs differ, so the check can fail"


# --- 4. which keypoints count as labelled in the losses --------------------------------------

def loss_and_gradients(loss, raw: list[torch.Tensor], targets) -> tuple[torch.Tensor, list[torch.Tensor]]:
    raw = [r.detach().clone().requires_grad_() for r in raw]
    total, items = loss(raw, targets)
    total.backward()
    return items, [r.grad for r in raw]


def same_loss(a, b) -> bool:
    return torch.equal(a[0], b[0]) and all(torch.equal(x, y) for x, y in zip(a[1], b[1]))


POSE_IMAGE = 128


def pose_objects_raw(seed: int = 0) -> list[torch.Tensor]:
    """Random raw levels of a 17-keypoint YOLO-pose head on a 128 px input (strides 8, 16, 32)."""
    generator = torch.Generator().manual_seed(seed)
    channels = 4 * 16 + 1 + 3 * 17
    return [torch.randn(1, channels, POSE_IMAGE // s, POSE_IMAGE // s, generator=generator) for s in (8, 16, 32)]


def test_the_pose_loss_learns_hidden_and_visible_keypoints_alike_and_unlabelled_ones_not_at_all():
    loss = PoseObjectsLoss(COCO17)
    raw = pose_objects_raw()
    box = torch.tensor([[20.0, 16.0, 92.0, 120.0]])
    generator = torch.Generator().manual_seed(3)
    keypoints = torch.cat((box[0, :2] + torch.rand(17, 2, generator=generator) * (box[0, 2:] - box[0, :2]),
                           torch.full((17, 1), 2.0)), 1)
    hidden, unlabelled = 9, 10
    keypoints[hidden, 2], keypoints[unlabelled, 2] = 1.0, 0.0

    def run(points):
        return loss_and_gradients(loss, raw, [PoseTargets(box, points[None])])

    reference = run(keypoints)
    moved_unlabelled = keypoints.clone()
    moved_unlabelled[unlabelled, :2] += torch.tensor([37.0, -21.0])
    assert same_loss(run(moved_unlabelled), reference)
    shown = keypoints.clone()
    shown[hidden, 2] = 2.0
    assert same_loss(run(shown), reference)  # v = 1 is as labelled as v = 2
    moved_hidden = keypoints.clone()
    moved_hidden[hidden, :2] += torch.tensor([37.0, -21.0])
    assert run(moved_hidden)[0][1] != reference[0][1]  # pose
    labelled = keypoints.clone()
    labelled[unlabelled, 2] = 1.0
    changed = run(labelled)[0]
    assert changed[1] != reference[0][1] and changed[2] != reference[0][2]  # pose and kobj


def composite_fields_raw(size: int = 21, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 17, 5, size, size, generator=generator),
            torch.randn(1, 19, 8, size, size, generator=generator)]


def two_people(person_visibility: np.ndarray, far_visibility: float) -> Sample:
    """On a 161 px input: a person top left (arms and hips, then the knees as given) and, far
    from it, one with only nose and eyes labelled, `far_visibility` each."""
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[0, 5:15, :2] = [[40, 30], [70, 30], [35, 55], [75, 55], [35, 80], [75, 80], [45, 85], [65, 85],
                              [45, 115], [65, 115]]
    keypoints[0, 5:15, 2] = person_visibility
    keypoints[1, 0:3] = [[135, 125, far_visibility], [130, 120, far_visibility], [140, 120, far_visibility]]
    boxes = np.array([[30, 20, 80, 125], [122, 110, 150, 150]], np.float32)
    return Sample(image=np.zeros((161, 161, 3), np.uint8), boxes=boxes, keypoints=keypoints,
                  crowd_boxes=np.zeros((0, 4), np.float32))


def same_targets(a, b) -> bool:
    return all(np.array_equal(getattr(getattr(a, head), name), getattr(getattr(b, head), name))
               for head in ("cif", "caf") for name in ("confidence", "confidence_mask", "regression", "scale",
                                                       "scale_mask"))


def test_the_composite_field_targets_and_loss_take_hidden_keypoints_as_visible_ones_and_ignore_unlabelled():
    loss = CompositeFieldsLoss(*coco17_heads())
    raw = composite_fields_raw()
    hidden_knee, unlabelled_knee = 8, 9  # left and right knee, of the 10 from the left shoulder
    visibility = np.full(10, 2.0, np.float32)
    visibility[hidden_knee], visibility[unlabelled_knee] = 1.0, 0.0

    def targets_and_loss(sample):
        targets = loss.targets(sample, 161)
        return targets, loss_and_gradients(loss, raw, [targets])

    targets, reference = targets_and_loss(two_people(visibility, far_visibility=1.0))
    assert not targets.cif.confidence[14].any() and targets.cif.confidence[13].any()

    moved = two_people(visibility, far_visibility=1.0)
    moved.keypoints[0, 14, :2] = [120, 40]
    moved_targets, moved_loss = targets_and_loss(moved)
    assert same_targets(moved_targets, targets) and same_loss(moved_loss, reference)

    # every hidden keypoint shown: the same targets (the far person counts as labelled too)
    shown = visibility.copy()
    shown[hidden_knee] = 2.0
    shown_targets, shown_loss = targets_and_loss(two_people(shown, far_visibility=2.0))
    assert same_targets(shown_targets, targets) and same_loss(shown_loss, reference)

    moved = two_people(visibility, far_visibility=1.0)
    moved.keypoints[0, 13, :2] = [40, 100]
    assert not same_loss(targets_and_loss(moved)[1], reference)
    labelled = visibility.copy()
    labelled[unlabelled_knee] = 1.0
    assert not same_targets(targets_and_loss(two_people(labelled, far_visibility=1.0))[0], targets)


# --- training only some parameters ----------------------------------------------------------

def test_train_only_changes_the_matched_parameters_and_keeps_the_others(tmp_path):
    trainer = Trainer(small_run(tmp_path / "run", epochs=1, lr=1e-2, train_only=r"\.cv3\.\d\.2\."))
    before = {name: p.detach().clone() for name, p in trainer.network.named_parameters()}
    trainer.run(progress=False)
    after = dict(trainer.network.named_parameters())
    changed = sorted(name for name in before if not torch.equal(before[name], after[name]))
    assert changed == sorted(trainer.trained_parameters)
    assert 0 < len(changed) < len(before) and all(".cv3." in name for name in changed)


def test_a_train_only_pattern_that_matches_nothing_or_is_malformed_is_refused(tmp_path, capsys):
    annotations, images = coco_mini()
    command = ["train", "--train-annotations", str(annotations), "--train-images", str(images),
               "--output", str(tmp_path / "run"), "--size", "64", "--dry-run", "--quiet", "--train-only"]
    assert main(command + ["no_such_layer"]) == 2
    assert "--train-only 'no_such_layer' matches none of the network's parameters" in capsys.readouterr().err
    assert main(command + ["cv3["]) == 2
    assert "--train-only 'cv3[': unterminated character set" in capsys.readouterr().err
    assert main(command + [r"model\.23\.cv3\.\d\.2\."]) == 0  # the class convolutions of the 3 levels
    assert "training 6 parameter tensors" in capsys.readouterr().err  # their weights and biases
