"""The trainer's parts one at a time, against values worked out by hand: the options it refuses,
the learning-rate schedule's corners, the EMA's defaults, how checkpoints are swapped in, the log
and its curves, each process's share of the data and joining a world, the batches' order, the
recipes' steps and the keypoint-object model. Each test takes well under a second."""
from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from manypose.data.augment import AugmentOptions
from manypose.modelfile import read_model_folder
from manypose.train.batches import batches, collate
from manypose.train.distributed import World, join_world, leave_world
from manypose.train.options import DEFAULT_LR, TrainOptions
from manypose.train.schedules import LIGHTWEIGHT_OPENPOSE_LR, SCHEDULES, schedule
from manypose.train.state import (STATE_FILE, ExponentialMovingAverage, Schedule, append_log, load_training_state,
                                  options_dict, plot_curves, read_log, save_checkpoint, seed_for)

from small_runs import group_of_one

PATHS = dict(train_annotations=Path("train.json"), train_images=Path("images"), output=Path("run"))


# --- options ---------------------------------------------------------------------------------

SIZES = "epochs, batch size and repeats must be 1 or more, workers 0 or more"


@pytest.mark.parametrize("changes, message", [
    ({"epochs": 0}, SIZES), ({"batch_size": 0}, SIZES), ({"repeats": 0}, SIZES), ({"workers": -1}, SIZES),
    ({"batch_norm": "learnt"}, "batch_norm 'learnt': expected auto, frozen, updated"),
    ({"optimizer": "adam"}, "optimizer 'adam': expected sgd or adamw"),
    ({"lr": 0.0}, "the learning rate must be between 0 and 1, not 0.0"),
    ({"lr": 1.0}, "the learning rate must be between 0 and 1, not 1.0"),
    ({"val_annotations": Path("val.json")}, "validation needs both --val-annotations and --val-images"),
    ({"val_images": Path("val")}, "validation needs both --val-annotations and --val-images"),
    ({"train_only": "cv3["}, "--train-only 'cv3[': unterminated character set at position 3"),
    ({"resume": True, "force": True}, "--resume continues the run in --output, --force replaces it: not both"),
])
def test_options_out_of_range_are_refused_with_what_is_expected(changes, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        TrainOptions(**PATHS, **changes)


@pytest.mark.parametrize("changes", [
    {"epochs": 1, "batch_size": 1, "repeats": 1, "workers": 0}, {"lr": 1e-9}, {"lr": 0.999},
    {"batch_norm": "frozen", "optimizer": "adamw"}, {"batch_norm": "updated"},
    {"val_annotations": Path("val.json"), "val_images": Path("val")}, {"train_only": r"\.cv3\."},
    {"resume": True}, {"force": True},
])
def test_options_at_the_edges_of_their_ranges_are_accepted(changes):
    options = TrainOptions(**PATHS, **changes)
    assert all(getattr(options, name) == value for name, value in changes.items())


def test_the_default_options_and_learning_rates_are_the_documented_ones():
    options = TrainOptions(**PATHS)
    assert (options.epochs, options.batch_size, options.optimizer, options.lr, options.warmup_steps) == (
        10, 8, "sgd", None, None)
    assert (options.ema_decay, options.amp, options.resume, options.force, options.seed, options.workers) == (
        0.9999, False, False, False, 0, 2)
    assert (options.device, options.repeats, options.max_steps, options.batch_norm, options.train_only) == (
        "cpu", 1, None, "auto", None)
    assert options.augment == AugmentOptions() and options.architecture == {} and options.model is None
    # SGD from trained weights at 1e-4 (chosen on coco-mini folds), from scratch 100 times that
    assert DEFAULT_LR == {("sgd", True): 1e-4, ("sgd", False): 1e-2, ("adamw", True): 1e-4, ("adamw", False): 1e-3}


# --- the learning-rate schedule and the EMA ---------------------------------------------------

def test_a_schedule_that_is_all_warm_up_holds_the_rate_then_drops_to_its_final_fraction():
    schedule = Schedule(lr=0.4, total_steps=4, warmup_steps=4)
    # warm-up 0.1, 0.2, 0.3, 0.4; then progress (step - 4) / 1, capped at 1: 0.4 at step 4, 0.04 after
    assert [schedule.rate(step) for step in range(7)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.04, 0.04],
                                                                         rel=1e-12)
    assert Schedule(lr=0.4, total_steps=4, warmup_steps=4, final_fraction=0.5).rate(5) == pytest.approx(0.2)


def test_a_schedule_decays_over_the_steps_after_the_warm_up():
    schedule = Schedule(lr=1.0, total_steps=6, warmup_steps=2)
    # cosine over 4 steps: progress 1/4 at step 3 -> 0.1 + 0.9 * (1 + cos(pi / 4)) / 2
    assert schedule.rate(3) == pytest.approx(0.1 + 0.9 * (1 + math.sqrt(0.5)) / 2, rel=1e-12)
    assert schedule.rate(6) == pytest.approx(0.1, rel=1e-12)


def test_the_ema_defaults_ramp_its_decay_up_to_0_9999_over_about_2000_updates():
    network = torch.nn.Linear(2, 2)
    ema = ExponentialMovingAverage(network)
    assert ema.network is not network and not ema.network.training and network.training
    assert (ema.decay, ema.ramp_steps, ema.updates, ema.current_decay()) == (0.9999, 2000.0, 0, 0.0)
    ema.update(network)
    assert ema.current_decay() == pytest.approx(0.9999 * (1 - math.exp(-1 / 2000)), rel=1e-12)
    ema.updates = 2000
    assert ema.current_decay() == pytest.approx(0.9999 * (1 - math.exp(-1)), rel=1e-12)


def test_the_ema_state_round_trips_its_weights_and_count():
    torch.manual_seed(0)
    ema = ExponentialMovingAverage(torch.nn.Linear(2, 2), decay=0.5, ramp_steps=1.0)
    for _ in range(3):
        ema.update(torch.nn.Linear(2, 2))
    state = ema.state_dict()
    assert state["updates"] == 3 and set(state["weights"]) == {"weight", "bias"}
    restored = ExponentialMovingAverage(torch.nn.Linear(2, 2))
    restored.load_state_dict({"weights": state["weights"], "updates": torch.tensor(3)})
    assert restored.updates == 3 and type(restored.updates) is int
    assert torch.equal(restored.network.weight, ema.network.weight)


# --- checkpoints and the log ------------------------------------------------------------------

def small_network() -> torch.nn.Module:
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2)).double()
    network.train()(torch.randn(2, 1, 3, 3, dtype=torch.float64))  # counts a batch
    return network


def description(name: str) -> dict:
    """The bundled model's description (a model folder needs its entries), renamed."""
    from manypose.zoo import find_model

    kept = {k: v for k, v in find_model(None).description.items() if k not in ("format", "format_version", "weights")}
    return {**kept, "name": name}


def test_a_checkpoint_is_a_float32_model_folder_without_batch_counters(tmp_path):
    network = small_network()
    network.register_buffer("counts", torch.tensor([3, 4]))  # an integer buffer: kept as integers
    folder = save_checkpoint(tmp_path / "last", description("small"), network, {"epoch": 3, "weights": torch.ones(2)})
    assert folder == tmp_path / "last"
    model = read_model_folder(folder)
    assert model.name == "small"
    expected = {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(model.weights) == set(expected) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                                    "1.running_var", "counts"}
    counts = model.weights.pop("counts")
    assert counts.dtype == np.int64 and counts.tolist() == [3, 4]
    expected.pop("counts")
    for name, value in expected.items():
        assert model.weights[name].dtype == np.float32
        np.testing.assert_array_equal(model.weights[name], value.float().numpy())
    state = load_training_state(folder)
    assert state["epoch"] == 3 and torch.equal(state["weights"], torch.ones(2))


def test_a_checkpoint_without_training_state_has_none_to_resume_from(tmp_path):
    save_checkpoint(tmp_path / "best", description("small"), small_network(), None)
    assert not (tmp_path / "best" / STATE_FILE).exists()
    message = f"{tmp_path / 'best'}: no {STATE_FILE} to resume from (was the run started with this --output?)"
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        load_training_state(tmp_path / "best")


def test_a_training_state_is_read_weights_only(tmp_path):
    import fractions
    import pickle

    (tmp_path / "last").mkdir()
    torch.save({"epoch": fractions.Fraction(1, 3)}, tmp_path / "last" / STATE_FILE)  # not a tensor or plain value
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_training_state(tmp_path / "last")


def test_a_new_checkpoint_replaces_the_old_and_clears_what_a_crash_left(tmp_path):
    save_checkpoint(tmp_path / "last", description("older"), small_network(), {"epoch": 1})
    (tmp_path / "last" / "stray.txt").write_text("from the earlier checkpoint")
    for leftover in (".last.writing", ".last.old"):  # a crash mid-swap leaves these
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / "junk").write_text("junk")
    save_checkpoint(tmp_path / "last", description("newer"), small_network(), {"epoch": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert not (tmp_path / "last" / "stray.txt").exists() and not (tmp_path / "last" / "junk").exists()
    assert read_model_folder(tmp_path / "last").name == "newer" and load_training_state(tmp_path / "last")["epoch"] == 2


def test_the_log_appends_one_json_line_an_entry_and_reads_them_back(tmp_path):
    path = tmp_path / "log.jsonl"
    assert read_log(path) == []
    append_log(path, {"epoch": 1, "loss": {"pose": 0.5}})
    append_log(path, {"epoch": 2, "name": "café"})
    with open(path, "a") as log:
        log.write("\n  \n")  # blank lines: skipped
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ['{"epoch": 1, "loss": {"pose": 0.5}}',
                                                                 '{"epoch": 2, "name": "caf\\u00e9"}']
    assert read_log(path) == [{"epoch": 1, "loss": {"pose": 0.5}}, {"epoch": 2, "name": "café"}]


def test_the_curves_are_an_800_by_320_png(tmp_path):
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("matplotlib")
    log = [{"epoch": 1, "loss": {"pose": 2.0, "box": 1.0}, "AP": None},
           {"epoch": 2, "loss": {"pose": 1.5, "box": 0.8}, "AP": 0.4}]
    assert plot_curves(log, tmp_path / "curves.png") is True
    assert cv2.imread(str(tmp_path / "curves.png")).shape == (320, 800, 3)  # 10 x 4 inches at 80 dpi


def test_the_curves_plot_each_loss_item_and_the_validation_ap_by_epoch(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    made = []
    subplots = plt.subplots

    def recorded(*args, **kwargs):  # the real figure, kept to be looked at
        made.append(subplots(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(plt, "subplots", recorded)
    log = [{"epoch": 1, "loss": {"pose": 2.0, "box": 1.0}},  # no validation in the first epoch's entry
           {"epoch": 2, "loss": {"pose": 1.5, "box": 0.8}, "AP": None},
           {"epoch": 3, "loss": {"pose": 1.25, "box": 0.5}, "AP": 0.4},
           {"epoch": 4, "loss": {"pose": 1.0, "box": 0.25}, "AP": 0.5}]
    assert plot_curves(log, tmp_path / "curves.png") is True
    ((figure, (losses, accuracy)),) = made
    assert not plt.fignum_exists(figure.number)  # closed
    assert losses.get_position().x1 < accuracy.get_position().x0  # side by side, the losses left
    assert (losses.get_title(), losses.get_xlabel()) == ("training loss (per image)", "epoch")
    assert [(line.get_label(), list(line.get_xdata()), list(line.get_ydata()), line.get_marker())
            for line in losses.lines] == [("pose", [1, 2, 3, 4], [2.0, 1.5, 1.25, 1.0], "o"),
                                          ("box", [1, 2, 3, 4], [1.0, 0.8, 0.5, 0.25], "o")]
    assert [text.get_text() for text in losses.get_legend().get_texts()] == ["pose", "box"]
    assert (accuracy.get_title(), accuracy.get_xlabel()) == ("validation AP (COCO OKS)", "epoch")
    ((ap),) = accuracy.lines
    assert (list(ap.get_xdata()), list(ap.get_ydata()), ap.get_marker()) == ([3, 4], [0.4, 0.5], "o")
    assert matplotlib.colors.to_hex(ap.get_color()) == matplotlib.colors.to_hex("tab:green")


def test_without_matplotlib_there_are_no_curves(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    assert plot_curves([{"epoch": 1, "loss": {"pose": 1.0}}], tmp_path / "curves.png") is False
    assert not (tmp_path / "curves.png").exists()


def test_options_as_json_values_turn_paths_into_strings_and_keep_nested_options_as_dicts():
    values = options_dict(TrainOptions(**PATHS, val_annotations=Path("v.json"), val_images=Path("v"), seed=3))
    assert values["train_annotations"] == "train.json" and values["val_images"] == "v" and values["seed"] == 3
    assert values["augment"]["size"] == 640 and values["model"] is None
    assert values["augment"]["scale"] == (0.5, 1.5)
    assert json.loads(json.dumps(values))["val_annotations"] == "v.json"  # JSON values throughout


def test_seeds_depend_on_every_part_and_fit_in_32_bits():
    seeds = {seed_for(run, epoch) for run in range(3) for epoch in range(3)}
    assert len(seeds) == 9 and all(0 <= seed < 2 ** 32 for seed in seeds)
    assert seed_for(1, 2) == seed_for(1, 2) and seed_for(1, 2) != seed_for(2, 1)
    assert type(seed_for(0)) is int


# --- several processes ------------------------------------------------------------------------

def test_a_process_shares_the_items_evenly_repeating_the_first_where_they_do_not_divide():
    items = ["a", "b", "c", "d"]
    # 4 items over 3 ranks: 2 each, the list padded to a, b, c, d, a, b and dealt round
    assert [World(rank, 3).shard(items) for rank in range(3)] == [["a", "d"], ["b", "a"], ["c", "b"]]
    assert [World(rank, 2).shard(items) for rank in range(2)] == [["a", "c"], ["b", "d"]]
    assert World().shard(items) is items
    assert World(0, 2).leader and not World(1, 2).leader and World().leader


@pytest.fixture
def process_group(tmp_path):
    with group_of_one(tmp_path / "store"):
        yield


def test_a_world_of_several_averages_over_its_size_and_takes_rank_0s_buffers(process_group, monkeypatch):
    world = World(0, 2, 0)
    assert world.mean(3.0) == 1.5  # the one process's 3.0 summed over the group, over a world of 2
    assert world.mean(0.1) == 0.1 / 2  # summed in float64: 0.1 as given
    assert World().mean(3.0) == 3.0
    network = torch.nn.BatchNorm1d(2)
    network.running_mean.fill_(0.25)
    world.share_buffers(network)
    assert torch.equal(network.running_mean, torch.full((2,), 0.25))
    world.barrier()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert join_world(torch.device("cpu")) == World(0, 2, 1)  # the group already joined: its rank
    monkeypatch.delenv("LOCAL_RANK")
    assert join_world(torch.device("cpu")) == World(0, 2, 0)
    leave_world(World())
    assert dist.is_initialized()  # a world of one leaves no group
    leave_world(world)
    assert not dist.is_initialized()


def test_joining_a_world_of_several_starts_gloo_on_cpus_and_nccl_on_gpus(tmp_path, monkeypatch):
    asked, start = [], dist.init_process_group

    def init_process_group(backend, **kwargs):  # records the backend; a gloo group of this one process
        asked.append(backend)
        start("gloo", init_method=f"file://{tmp_path / f'store{len(asked)}'}", rank=0, world_size=1)

    monkeypatch.setattr(dist, "init_process_group", init_process_group)
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "2")
    try:
        for device in ("cpu", "cuda"):
            assert join_world(torch.device(device)) == World(0, 3, 2)
            dist.destroy_process_group()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert asked == ["gloo", "nccl"]


def test_one_process_alone_is_a_world_of_one(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert join_world(torch.device("cpu")) == World(0, 1, 0)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert join_world(torch.device("cpu")) == World() and not dist.is_initialized()


# --- batches ----------------------------------------------------------------------------------

class Numbered(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, index):
        return torch.full((1, 2), float(index)), {"index": index}


def test_batches_follow_the_given_order_and_keep_the_last_short_one():
    loader = batches(Numbered(), [3, 0, 4, 1, 2], batch_size=2, workers=0)
    got = [(images[:, 0, 0].tolist(), [t["index"] for t in targets]) for images, targets in loader]
    assert got == [([3.0, 0.0], [3, 0]), ([4.0, 1.0], [4, 1]), ([2.0], [2])]
    assert not loader.persistent_workers and not loader.drop_last
    assert batches(Numbered(), [0], batch_size=1, workers=2).num_workers == 2  # no workers start until read
    images, targets = collate([Numbered()[1], Numbered()[2]])
    assert images.shape == (2, 1, 2) and targets == [{"index": 1}, {"index": 2}]


# --- recipes ----------------------------------------------------------------------------------

def test_a_schedule_step_outside_the_recipe_is_refused(tmp_path):
    recipe = schedule("lightweight-openpose")
    options = TrainOptions(**{**PATHS, "output": tmp_path})
    for number in (0, 4):
        with pytest.raises(ValueError, match=f"^step {number}: the schedule has steps 1 to 3$"):
            recipe.step_options(number, options)
    assert recipe.model == "lightweight-openpose" and set(SCHEDULES) == {"lightweight-openpose"}
    assert LIGHTWEIGHT_OPENPOSE_LR == 4e-5
    first = recipe.step_options(1, replace(options, epochs=2, seed=5))
    assert (first.seed, first.epochs, first.model, first.output) == (5, 280, "lightweight-openpose", tmp_path / "step1")


# --- the keypoint-object model ----------------------------------------------------------------

def test_keypoint_objects_are_added_to_one_class_pose_objects_heads_only():
    from types import SimpleNamespace

    from manypose.heads import PoseObjectsHead
    from manypose.skeleton import COCO17
    from manypose.train.keypoint_objects import with_keypoint_objects

    refused = [(PoseObjectsHead(COCO17, num_classes=2), "pose_objects with 2 classes"),
               (PoseObjectsHead(COCO17, num_classes=18, keypoint_objects=True), "pose_objects with 18 classes"),
               (SimpleNamespace(kind="other", keypoint_objects=False, num_classes=1), "other with 1 classes")]
    for head, what in refused:
        message = f"stub: keypoint objects are added to a one-class pose_objects head, not {what}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            with_keypoint_objects(SimpleNamespace(name="stub", heads=(head,)), "new")


def test_keypoint_objects_refuse_a_head_of_another_kind_saying_which():
    from types import SimpleNamespace

    from manypose.heads.composite_fields import coco17_heads
    from manypose.train.keypoint_objects import with_keypoint_objects

    cif = coco17_heads()[0]  # a head without classes
    message = "stub: keypoint objects are added to a one-class pose_objects head, not cif"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        with_keypoint_objects(SimpleNamespace(name="stub", heads=(cif,)), "new")


def test_the_keypoint_object_model_is_named_as_asked_and_keeps_the_person_row():
    from manypose.train.keypoint_objects import KEYPOINT_PRIOR, with_keypoint_objects
    from manypose.zoo import find_model

    base = find_model(None)
    model = with_keypoint_objects(base, "with-keypoints")
    assert model.name == "with-keypoints" and model.description["name"] == "with-keypoints"
    assert model.description["input"] == base.description["input"]
    (head,) = model.heads
    assert head.keypoint_objects and head.num_classes == 18
    rows = [key for key, value in model.weights.items()
            if key in base.weights and value.shape != base.weights[key].shape]
    assert rows  # the score branches' last convolutions grew from 1 class to 18
    for key in rows:
        np.testing.assert_array_equal(model.weights[key][0], base.weights[key][0])
        if key.endswith(".bias"):
            np.testing.assert_allclose(model.weights[key][1:], math.log(KEYPOINT_PRIOR / (1 - KEYPOINT_PRIOR)),
                                       rtol=1e-6)
        else:
            assert not model.weights[key][1:].any()
