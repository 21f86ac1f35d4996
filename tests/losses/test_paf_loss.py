"""Lightweight OpenPose's loss: half the squared error of every stage's heatmaps and fields,
masked, summed and divided by the batch size, against values worked out by hand; its targets
mask crowds and unlabelled people."""
import pickle

import numpy as np
import pytest
import torch

from manypose.data.coco import Sample
from manypose.encoders.paf import PafEncoder
from manypose.losses.paf import PafLoss, PafTargets

ENCODER = PafEncoder(limbs=((0, 1, 0, 1),), num_parts=2, stride=8)


def one_image_targets() -> PafTargets:
    """A 1 x 2 grid: part 0 at the first cell, background at the second, which is masked."""
    heatmaps = np.array([[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 1.0]]], np.float32)
    fields = np.array([[[0.6, 0.0]], [[0.8, 0.0]]], np.float32)
    return PafTargets(heatmaps, fields, mask=np.array([[1.0, 0.0]], np.float32))


def two_stage_maps(batch: int) -> list[torch.Tensor]:
    """Stage 1 predicts 0 everywhere, stage 2 0.5 (heatmaps) and 1 (fields)."""
    heatmaps = torch.stack((torch.zeros(batch, 3, 1, 2), torch.full((batch, 3, 1, 2), 0.5)), 1)
    fields = torch.stack((torch.zeros(batch, 2, 1, 2), torch.ones(batch, 2, 1, 2)), 1)
    return [heatmaps.requires_grad_(), fields.requires_grad_()]


@pytest.mark.parametrize("batch", [1, 3])
def test_each_stage_adds_half_its_squared_error_on_the_learnt_cells_per_image(batch):
    total, items = PafLoss(ENCODER)(two_stage_maps(batch), [one_image_targets()] * batch)
    # first cell only; heatmaps (1, 0, 0): stage 1 errors (-1, 0, 0) -> 0.5, stage 2 (-0.5, 0.5, 0.5) -> 0.375
    # fields (0.6, 0.8): stage 1 errors (-0.6, -0.8) -> 0.5, stage 2 (0.4, 0.2) -> 0.1
    np.testing.assert_allclose(items.numpy(), [0.875, 0.6], rtol=1e-6)
    assert total.item() == pytest.approx(1.475)


def test_the_gradient_is_the_masked_error_over_the_batch_size():
    maps = two_stage_maps(2)
    total, _ = PafLoss(ENCODER)(maps, [one_image_targets()] * 2)
    total.backward()
    heatmaps_gradient, fields_gradient = (m.grad for m in maps)
    np.testing.assert_allclose(heatmaps_gradient[0, :, :, 0, 0].numpy(), [[-0.5, 0, 0], [-0.25, 0.25, 0.25]])
    np.testing.assert_allclose(fields_gradient[1, :, :, 0, 0].numpy(), [[-0.3, -0.4], [0.2, 0.1]], rtol=1e-6)
    assert heatmaps_gradient[..., 1].abs().sum() == 0 and fields_gradient[..., 1].abs().sum() == 0  # masked cell


def test_maps_that_do_not_fit_their_targets_are_refused():
    heatmaps, fields = two_stage_maps(1)
    with pytest.raises(ValueError, match="heatmaps are"):
        PafLoss(ENCODER)([heatmaps[..., :1], fields], [one_image_targets()])


def sample(keypoints, boxes, crowd_boxes=np.zeros((0, 4))) -> Sample:
    return Sample(np.zeros((64, 64, 3), np.uint8), np.asarray(boxes, np.float32), np.asarray(keypoints, np.float32),
                  np.asarray(crowd_boxes, np.float32).reshape(-1, 4))


def test_targets_mask_crowds_and_people_without_a_labelled_keypoint_and_learn_the_rest():
    labelled = [[10, 10, 2], [30, 12, 1]]
    unlabelled = [[0, 0, 0], [0, 0, 0]]
    targets = PafLoss(ENCODER).targets(sample([labelled, unlabelled], [[5, 5, 35, 20], [40, 40, 63, 63]],
                                              crowd_boxes=[[0, 40, 20, 63]]), 60)
    assert targets.heatmaps.shape == (3, 8, 8) and targets.fields.shape == (2, 8, 8)  # 60 px: 8 cells, rounded up
    expected_heatmaps, expected_fields = ENCODER(np.array([labelled, unlabelled], np.float32), 8, 8)
    np.testing.assert_array_equal(targets.heatmaps, expected_heatmaps)
    np.testing.assert_array_equal(targets.fields, expected_fields)
    mask = targets.mask
    assert mask[6, 6] == 0 and mask[7, 7] == 0          # the unlabelled person
    assert mask[6, 1] == 0 and mask[7, 0] == 0          # the crowd
    assert mask[1, 1] == 1 and mask[1, 3] == 1          # the labelled person
    assert mask[0, 7] == 1 and mask[3, 3] == 1          # background
    assert set(np.unique(mask)) == {0.0, 1.0}


def test_a_sample_without_crowds_or_unlabelled_people_is_learnt_everywhere():
    targets = PafLoss(ENCODER).targets(sample([[[10, 10, 2], [30, 12, 2]]], [[5, 5, 35, 20]]), 64)
    assert targets.mask.shape == (8, 8) and targets.mask.all()


def test_the_target_maker_pickles_for_the_data_loading_workers():
    maker = PafLoss(ENCODER).targets
    copied = pickle.loads(pickle.dumps(maker))
    person = sample([[[10, 10, 2], [30, 12, 2]]], [[5, 5, 35, 20]])
    np.testing.assert_array_equal(copied(person, 64).heatmaps, maker(person, 64).heatmaps)


def test_the_mask_covers_exactly_the_cells_of_the_boxes_as_float32():
    unlabelled = [[0, 0, 0], [0, 0, 0]]
    targets = PafLoss(ENCODER).targets(sample([[[10, 10, 2], [30, 12, 1]], unlabelled],
                                              [[5, 5, 35, 20], [40, 40, 63, 63]], crowd_boxes=[[0, 40, 20, 63]]), 64)
    expected = np.ones((8, 8), np.float32)
    expected[5:8, 5:8] = 0  # the unlabelled person: cells 5 to 7.9 each way, no margin around them
    expected[5:8, 0:4] = 0  # the crowd: x cells 0 to 2.5, y cells 5 to 7.9
    assert targets.mask.dtype == np.float32
    np.testing.assert_array_equal(targets.mask, expected)


def test_a_wrong_number_of_raw_outputs_is_refused_by_name():
    heatmaps, fields = two_stage_maps(1)
    with pytest.raises(ValueError, match=r"^3 raw outputs for the stages' heatmaps and fields$"):
        PafLoss(ENCODER)([heatmaps, fields, fields], [one_image_targets()])


def test_the_targets_go_to_the_device_of_the_maps():
    # the network's maps may be on a GPU, the targets come collated on the CPU; the meta device
    # stands for another device here (nothing is computed on it, a CPU tensor mixed in is refused)
    maps = [raw.detach().to("meta") for raw in two_stage_maps(2)]
    total, items = PafLoss(ENCODER)(maps, [one_image_targets()] * 2)
    assert total.device.type == items.device.type == "meta" and items.shape == (2,)
