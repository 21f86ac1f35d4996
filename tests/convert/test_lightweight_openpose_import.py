"""Lightweight OpenPose: the published state-dict layout maps onto our network, output for output.

The reference outputs come from the original implementation run with deterministic synthetic
weights (tests/data/lightweight_openpose/README.md); its published checkpoint is not available here.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import manypose
from manypose.convert import CheckpointError, convert
from manypose.convert.lightweight_openpose import map_state_dict
from manypose.models import build_network, load_weights

from synthetic_weights import synthetic_state_dict

DATA = Path(__file__).resolve().parents[1] / "data" / "lightweight_openpose"


@pytest.fixture(scope="module")
def published_state():
    return synthetic_state_dict(json.loads((DATA / "state_dict_shapes.json").read_text()))


def reference_inputs():
    outputs = np.load(DATA / "outputs.npz")
    for i in (0, 1):
        shape = tuple(outputs[f"input_{i}_shape"])
        image = np.random.default_rng(int(outputs[f"input_{i}_seed"])).standard_normal(shape).astype(np.float32) * 0.5
        assert np.array_equal(image.reshape(-1)[:16], outputs[f"input_{i}_head"])
        yield i, image, outputs


def test_every_stage_matches_the_original(published_state):
    arch, head, weights = map_state_dict(published_state)
    assert arch["refinement_stages"] == 1 and arch["channels"] == 128
    network = load_weights(build_network(arch, (head,)), weights).eval()
    for i, image, outputs in reference_inputs():
        with torch.no_grad():
            stages = network.stages(torch.from_numpy(image))
        for s, (heatmaps, pafs) in enumerate(stages):
            assert np.abs(heatmaps.numpy() - outputs[f"heatmaps_{i}_stage{s}"]).max() < 1e-4
            assert np.abs(pafs.numpy() - outputs[f"pafs_{i}_stage{s}"]).max() < 1e-4


def test_extra_refinement_stages_can_be_dropped(published_state):
    three = dict(published_state)
    for key, value in published_state.items():
        if key.startswith("refinement_stages.0."):
            for stage in (1, 2):
                three[key.replace("refinement_stages.0.", f"refinement_stages.{stage}.")] = value
    assert map_state_dict(three)[0]["refinement_stages"] == 3
    arch, head, weights = map_state_dict(three, refinement_stages=1)
    assert arch["refinement_stages"] == 1 and not any(k.startswith("refinement_stages.1") for k in weights)


def test_unknown_layout_lists_what_did_not_match(published_state):
    foreign = {**published_state, "head.classifier.weight": np.zeros((2, 2), np.float32)}
    with pytest.raises(CheckpointError, match="head.classifier.weight"):
        map_state_dict(foreign)
    incomplete = {k: v for k, v in published_state.items() if not k.startswith("cpm.conv")}
    arch, head, weights = map_state_dict(incomplete)
    with pytest.raises(ValueError, match="cpm.conv.weight"):
        load_weights(build_network(arch, (head,)), weights)


def test_a_checkpoint_file_converts_and_predicts(published_state, tmp_path):
    torch.save({"state_dict": {k: torch.from_numpy(v) for k, v in published_state.items()}, "iter": 370000},
               tmp_path / "checkpoint_iter_370000.pth")
    folder = convert(tmp_path / "checkpoint_iter_370000.pth", tmp_path / "lop")
    description = json.loads((folder / "model.json").read_text())
    assert description["architecture"]["family"] == "lightweight_openpose"
    estimator = manypose.load(folder, backend="torch")
    poses = estimator(np.full((120, 160, 3), 90, np.uint8))  # random weights: any result, correctly shaped
    assert poses.keypoints.shape[1:] == (17, 3) and poses.skeleton.name == "coco17"


def test_a_checkpoint_loaded_directly_is_named_by_its_content(published_state, tmp_path):
    """Exported forms of unconverted checkpoints are cached by identity: same-named files differ."""
    from manypose.convert import model_file_from_checkpoint

    identities = []
    for scale, folder in ((1.0, "a"), (0.5, "b")):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "checkpoint_iter_370000.pth"
        torch.save({"state_dict": {k: torch.from_numpy(np.asarray(v * scale, v.dtype)) for k, v in published_state.items()}}, path)
        identities.append(model_file_from_checkpoint(path).identity)
    assert identities[0] != identities[1] and "unknown" not in identities
