"""Import of a checkpoint written by KAPAO's own code (its train.py layout, random weights)."""
import numpy as np
import pytest

from kapao_reference import CHECKPOINT, image
from manypose.convert import model_file_from_checkpoint
from manypose.convert.torch_pickle import load_checkpoint
from manypose.heads.kapao import P6_ANCHORS


def test_kapao_checkpoint_is_told_from_ultralytics_and_imported():
    model = model_file_from_checkpoint(CHECKPOINT)
    assert model.architecture["family"] == "kapao"
    (head,) = model.heads
    assert head.kind == "kapao" and head.strides == (8, 16, 32, 64)
    np.testing.assert_allclose(head.anchors, P6_ANCHORS)  # the yaml's anchors, in pixels
    assert head.outputs_per_anchor == 5 + 18 + 34
    assert model.description["provenance"]["source_format"] == "kapao"


def test_kapao_checkpoint_weights_are_the_pickled_ones():
    content = load_checkpoint(CHECKPOINT)
    pickled = vars(vars(vars(content["ema"])["_modules"]["model"])["_modules"]["0"])
    focus_weight = vars(vars(pickled["_modules"]["conv"])["_modules"]["conv"])["_parameters"]["weight"]
    model = model_file_from_checkpoint(CHECKPOINT)
    np.testing.assert_array_equal(model.weights["model.0.conv.conv.weight"], focus_weight)
    assert not any(key.endswith(("anchors", "anchor_grid")) for key in model.weights)


def test_kapao_checkpoint_loads_by_path_and_predicts():
    pytest.importorskip("torch")
    import manypose

    estimator = manypose.load(CHECKPOINT, input_size=128, score_threshold=0.47, iou_threshold=0.45)
    poses = estimator(image())
    assert len(poses) > 0 and poses.keypoints.shape[1:] == (17, 3)
    height, width = image().shape[:2]
    assert (poses.keypoints[..., 0] <= width).all() and (poses.keypoints[..., 1] <= height).all()
