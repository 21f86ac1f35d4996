"""Training: checkpoints that load as models, exact resume, a custom keypoint set, several
processes, and fine-tuning that keeps the accuracy."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from manypose.cli import main
from manypose.data.augment import AugmentOptions
from manypose.modelfile import read_model_folder
from manypose.train import Trainer, TrainOptions
from manypose.zoo import DEMO_IMAGE

from conftest import PROJECT_ROOT, shared_path

SMALL = AugmentOptions(size=160)


def coco_train():
    return (shared_path("data/coco-mini/annotations/person_keypoints_train2017.json"),
            shared_path("data/coco-mini/train2017"))


def options(output, **changes) -> TrainOptions:
    annotations, images = coco_train()
    values = dict(epochs=2, batch_size=2, max_steps=2, workers=0, augment=SMALL)
    values.update(changes)
    return TrainOptions(annotations, images, Path(output), **values)


def weights_of(network) -> dict:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    whole = Trainer(options(tmp_path / "whole")).run(progress=False)

    original_end = Trainer._end_epoch

    def stop_after_the_first(self, entry):
        result = original_end(self, entry)
        if self.epoch == 1:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Trainer, "_end_epoch", stop_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        Trainer(options(tmp_path / "parts")).run(progress=False)
    monkeypatch.setattr(Trainer, "_end_epoch", original_end)
    resumed = Trainer(options(tmp_path / "parts", resume=True)).run(progress=False)

    expected, got = weights_of(whole.network), weights_of(resumed.network)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert all(torch.equal(whole.ema.network.state_dict()[k], resumed.ema.network.state_dict()[k]) for k in expected)
    assert [e["epoch"] for e in resumed.log] == [1, 2]
    changed = weights_of(Trainer(options(tmp_path / "fresh", seed=1)).run(progress=False).network)
    assert not all(torch.equal(expected[k], changed[k]) for k in expected), "the seed matters, so the check can fail"


def test_checkpoints_are_model_folders_that_predict(tmp_path, capsys):
    result = Trainer(options(tmp_path / "run", epochs=1)).run(progress=False)
    assert (tmp_path / "run" / "curves.png").is_file() and len(result.log) == 1
    assert main(["predict", str(shared_path("data/coco-mini/val2017/000000000139.jpg")), "--model",
                 str(tmp_path / "run" / "last"), "--json-output", str(tmp_path / "out.json")]) == 0
    entry = json.loads((tmp_path / "out.json").read_text())[0]
    assert "poses" in entry
    description = json.loads((tmp_path / "run" / "last" / "model.json").read_text())
    assert description["provenance"]["trained_from"] == "yolo11n-pose" and description["provenance"]["epochs"] == 1


def five_keypoint_annotations(tmp_path) -> Path:
    """coco-mini train2017 reduced to the five face keypoints, as a custom keypoint set."""
    annotations, _ = coco_train()
    data = json.loads(annotations.read_text())
    names = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
    data["categories"] = [{"id": 1, "name": "face", "supercategory": "person", "keypoints": names,
                           "skeleton": [[1, 2], [1, 3], [2, 4], [3, 5]]}]
    for annotation in data["annotations"]:
        annotation["keypoints"] = annotation["keypoints"][:15]
        annotation["num_keypoints"] = sum(v > 0 for v in annotation["keypoints"][2::3])
    path = tmp_path / "faces.json"
    path.write_text(json.dumps(data))
    return path


def test_a_custom_five_keypoint_set_trains_saves_and_predicts(tmp_path, capsys):
    _, images = coco_train()
    code = main(["train", "--train-annotations", str(five_keypoint_annotations(tmp_path)), "--train-images",
                 str(images), "--output", str(tmp_path / "faces"), "--epochs", "1", "--batch-size", "2",
                 "--size", "160", "--workers", "0", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "5 keypoints" in err and "initialised for the new keypoint set" in err
    out = tmp_path / "poses.json"
    assert main(["predict", str(shared_path("data/coco-mini/val2017/000000000139.jpg")), "--model",
                 str(tmp_path / "faces" / "last"), "--json-output", str(out), "--score-threshold", "0.0"]) == 0
    people = json.loads(out.read_text())[0]["poses"]
    assert people and all(len(person["keypoints"]) == 5 for person in people)


def test_an_existing_run_is_kept_unless_resumed_or_forced(tmp_path, capsys):
    annotations, images = coco_train()
    for earlier in ("last", "best"):
        (tmp_path / f"{earlier}-only" / earlier).mkdir(parents=True)
    common = ["train", "--train-annotations", str(annotations), "--train-images", str(images), "--epochs", "1",
              "--quiet", "--output"]
    for run in ("last-only", "best-only"):
        assert main(common + [str(tmp_path / run)]) != 0
        assert "holds a run already; --resume continues it, --force replaces it" in capsys.readouterr().err
    assert main(common + [str(tmp_path / "last-only"), "--resume", "--force"]) == 2
    assert "--force replaces it: not both" in capsys.readouterr().err
    assert main(common + [str(tmp_path / "other"), "--resume"]) != 0
    assert "no training_state.pt to resume from" in capsys.readouterr().err


def test_a_forced_run_replaces_the_earlier_checkpoints(tmp_path):
    (tmp_path / "run" / "best").mkdir(parents=True)
    (tmp_path / "run" / "best" / "model.json").write_text("an earlier run's model")
    result = Trainer(options(tmp_path / "run", force=True, epochs=1, max_steps=1)).run(progress=False)
    assert read_model_folder(result.best).name == "run-best" and read_model_folder(result.last).name == "run"


def test_samples_replace_a_hard_link_and_keep_its_image(tmp_path):
    photo = tmp_path / "photo.jpg"
    shutil.copy(DEMO_IMAGE, photo)
    (tmp_path / "samples").mkdir()
    os.link(photo, tmp_path / "samples" / "sample_000.jpg")
    Trainer(options(tmp_path / "run")).save_samples(tmp_path / "samples", count=1)
    assert photo.read_bytes() == DEMO_IMAGE.read_bytes()
    assert not os.path.samefile(photo, tmp_path / "samples" / "sample_000.jpg")


def test_two_processes_end_with_the_same_weights(tmp_path):
    """torchrun with 2 CPU processes (gloo): gradients are averaged, so both ranks hold the same
    weights after every step."""
    worker = Path(__file__).with_name("ddp_worker.py")
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         str(worker), str(tmp_path)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT / "tests")})
    assert done.returncode == 0, done.stderr[-3000:]
    digests = {path.name: path.read_text() for path in tmp_path.glob("rank*.txt")}
    assert len(digests) == 2 and len(set(digests.values())) == 1
    moved = json.loads((tmp_path / "moved.json").read_text())
    assert moved["changed"] > 0, "the weights moved, so equality means something"


def test_bfloat16_autocast_trains_with_a_finite_loss(tmp_path):
    result = Trainer(options(tmp_path / "amp", epochs=1, amp=True)).run(progress=False)
    losses = result.log[0]["loss"]
    assert set(losses) == {"box", "pose", "kobj", "cls", "dfl"} and all(np.isfinite(v) and v > 0 for v in losses.values())


def test_malformed_annotations_are_one_line_naming_the_entry(tmp_path, capsys):
    annotations, images = coco_train()
    data = json.loads(annotations.read_text())
    data["annotations"][3]["keypoints"] = data["annotations"][3]["keypoints"][:-1]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    assert main(["train", "--train-annotations", str(broken), "--train-images", str(images), "--output",
                 str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "annotations[3]" in err and "50 values" in err
    assert not (tmp_path / "run").exists()
