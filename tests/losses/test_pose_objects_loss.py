"""The YOLO-pose loss and its task-aligned assigner: parity with Ultralytics' own loss on a
stored batch, and behaviour that a wrong definition would break."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from manypose.encoders.pose_objects import PaddedTargets, PoseTargets, TaskAlignedAssigner, complete_iou, pad_targets
from manypose.heads import PoseObjectsHead
from manypose.losses import LOSS_NAMES, PoseLossGains, PoseObjectsLoss
from manypose.losses.pose_objects import mean_or_zero
from manypose.models.yolo_pose import PoseHead
from manypose.skeleton import COCO17, Skeleton

STRIDES = (8, 16, 32)
BINS = 16
IMAGE_SIZE = 128
ITEM = {name: index for index, name in enumerate(LOSS_NAMES)}

FIVE_POINTS = Skeleton(name="five", keypoints=("tip", "left", "right", "base", "centre"),
                       edges=((0, 4), (1, 4), (2, 4), (3, 4)), sigmas=(0.05, 0.06, 0.06, 0.08, 0.04))


# one keypoint with sigma 0.25, so that (2 * sigma)^2 = 1/4 in the OKS error
DOT = Skeleton(name="dot", keypoints=("dot",), edges=(), sigmas=(0.25,))


def split_levels(flat: torch.Tensor, image_size: int, strides=STRIDES) -> list[torch.Tensor]:
    """(B, C, A) anchors in level order -> per-level (B, C, H, W)."""
    levels, start = [], 0
    for stride in strides:
        side = image_size // stride
        levels.append(flat[:, :, start:start + side * side].reshape(flat.shape[0], -1, side, side))
        start += side * side
    return levels


def anchors_and_strides(image_size: int, level_strides=STRIDES) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres (A, 2) in grid units and strides (A, 1), level order."""
    points, strides = [], []
    for stride in level_strides:
        side = image_size // stride
        ys, xs = torch.meshgrid(torch.arange(side) + 0.5, torch.arange(side) + 0.5, indexing="ij")
        points.append(torch.stack((xs.reshape(-1), ys.reshape(-1)), 1))
        strides.append(torch.full((side * side, 1), float(stride)))
    return torch.cat(points), torch.cat(strides)


def perfect_levels(box: torch.Tensor, keypoints: torch.Tensor, num_keypoints: int, image_size: int = IMAGE_SIZE,
                   level_strides=STRIDES, reach: float = BINS - 1.01) -> list[torch.Tensor]:
    """Raw levels in which every anchor predicts `box` (as far as its bins reach, in cells) and
    `keypoints` exactly, with confident scores and visibilities: what a perfectly trained head
    outputs."""
    anchors, strides = anchors_and_strides(image_size, level_strides)
    distances = torch.cat((anchors - box[:2] / strides, box[2:] / strides - anchors), 1).clamp(0, reach)
    left = distances.floor().long()
    probabilities = torch.zeros(len(anchors), 4, BINS)
    probabilities.scatter_(2, left.unsqueeze(-1), (left + 1 - distances).unsqueeze(-1))
    probabilities.scatter_add_(2, (left + 1).unsqueeze(-1), (distances - left).unsqueeze(-1))
    box_logits = torch.log(probabilities + 1e-12).reshape(len(anchors), 4 * BINS)
    score_logits = torch.full((len(anchors), 1), 4.0)
    offsets = (keypoints[:, :2] / strides.unsqueeze(1) - anchors.unsqueeze(1) + 0.5) / 2
    visibility = torch.where(keypoints[:, 2] > 0, 6.0, -6.0).expand(len(anchors), num_keypoints).unsqueeze(-1)
    keypoint_raw = torch.cat((offsets, visibility), -1).reshape(len(anchors), -1)
    flat = torch.cat((box_logits, score_logits, keypoint_raw), 1).T.unsqueeze(0)
    return split_levels(flat.contiguous(), image_size, level_strides)


def random_levels(num_keypoints: int, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    channels = 4 * BINS + 1 + 3 * num_keypoints
    side = IMAGE_SIZE // STRIDES[0]
    anchors = sum((side // (s // STRIDES[0])) ** 2 for s in STRIDES)
    return split_levels(torch.randn(batch, channels, anchors, generator=generator), IMAGE_SIZE)


def person(box, num_keypoints: int = 17, seed: int = 0, visible: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A box and keypoints spread inside it (all labelled, or none)."""
    box = torch.tensor(box, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    xy = box[:2] + torch.rand(num_keypoints, 2, generator=generator) * (box[2:] - box[:2])
    visibility = torch.full((num_keypoints, 1), 2.0 if visible else 0.0)
    return box, torch.cat((xy, visibility), 1)


def loss_items(loss: PoseObjectsLoss, levels, targets) -> dict[str, float]:
    _, items = loss(levels, targets)
    return dict(zip(LOSS_NAMES, items.tolist()))


# --- parity with Ultralytics ---------------------------------------------------------------

def test_matches_ultralytics_loss_on_the_stored_batch():
    from conftest import shared_path

    stored = np.load(shared_path("reference/yolo11n-pose_train_loss.npz"))
    batch = len(stored["files"])
    flat = np.concatenate((stored["pred_boxes"], stored["pred_scores"], stored["pred_kpts"]), 1).astype(np.float32)
    levels, start = [], 0
    for _, _, height, width in stored["feats_shapes"]:
        levels.append(torch.from_numpy(flat[:, :, start:start + height * width].reshape(batch, -1, height, width)))
        start += height * width
    image_size = stored["image_uint8_rgb"].shape[1]
    targets = []
    for image in range(batch):
        chosen = stored["batch_idx"] == image
        centre_size = stored["bboxes_xywh_normalized"][chosen] * image_size
        centres, half_sizes = centre_size[:, :2], centre_size[:, 2:] / 2
        boxes = np.concatenate((centres - half_sizes, centres + half_sizes), 1)
        keypoints = stored["keypoints_normalized"][chosen].copy()
        keypoints[..., :2] *= image_size
        targets.append(PoseTargets(torch.from_numpy(boxes), torch.from_numpy(keypoints)))

    total, items = PoseObjectsLoss(COCO17)(levels, targets)

    expected = stored["loss_items"].astype(np.float64)
    relative = np.abs(items.numpy() - expected) / np.abs(expected)
    print()
    print(f"{'item':6} {'manypose':>12} {'ultralytics':>12} {'rel. diff':>10}")
    for name, ours, theirs, difference in zip(LOSS_NAMES, items.tolist(), expected, relative):
        print(f"{name:6} {ours:12.7f} {theirs:12.7f} {difference:10.2e}")
    print(f"{'total':6} {total.item():12.7f} {stored['loss_total'].sum():12.7f}")
    assert tuple(stored["loss_names"]) == LOSS_NAMES
    np.testing.assert_allclose(stored["gains"], [7.5, 12.0, 1.0, 0.5, 1.5])
    assert relative.max() < 1e-3
    assert abs(total.item() - stored["loss_total"].sum()) < 1e-3 * stored["loss_total"].sum()


# --- the loss --------------------------------------------------------------------------------

def test_a_perfect_prediction_has_near_zero_box_and_pose_loss():
    box, keypoints = person([40, 30, 80, 86])
    targets = [PoseTargets(box[None], keypoints[None])]
    items = loss_items(PoseObjectsLoss(COCO17), perfect_levels(box, keypoints, 17), targets)
    assert items["box"] < 1e-4
    assert items["pose"] < 1e-4
    assert items["kobj"] < 0.01


def test_moving_a_predicted_keypoint_away_raises_the_pose_loss():
    box, keypoints = person([40, 30, 80, 86])
    targets = [PoseTargets(box[None], keypoints[None])]
    loss = PoseObjectsLoss(COCO17)
    pose_losses = []
    for shift in (0.0, 0.1, 0.3, 1.0):  # in units of 2 cells
        levels = perfect_levels(box, keypoints, 17)
        for level in levels:
            level[:, 4 * BINS + 1 + 3 * 9] += shift  # x of the left wrist
        items = loss_items(loss, levels, targets)
        pose_losses.append(items["pose"])
        assert items["box"] < 1e-4  # keypoints take no part in the assignment
    assert pose_losses == sorted(pose_losses)
    assert pose_losses[0] < 1e-4 < pose_losses[1]


def test_a_person_without_labelled_keypoints_adds_no_pose_loss():
    loss = PoseObjectsLoss(COCO17)
    levels = random_levels(17, batch=1)
    seen_box, seen = person([10, 10, 60, 100], seed=1)
    hidden_box, hidden = person([64, 20, 120, 110], seed=2, visible=False)

    def pose_and_kobj(hidden_keypoints):
        items = loss_items(loss, levels, [PoseTargets(torch.stack((seen_box, hidden_box)),
                                                      torch.stack((seen, hidden_keypoints)))])
        return items["pose"], items["kobj"]

    moved = hidden.clone()
    moved[:, :2] += 300.0
    assert pose_and_kobj(hidden) == pose_and_kobj(moved)
    labelled = hidden.clone()
    labelled[:, 2] = 2.0
    assert pose_and_kobj(labelled)[0] != pose_and_kobj(hidden)[0]
    alone = loss_items(loss, levels, [PoseTargets(hidden_box[None], hidden[None])])
    assert alone["pose"] == 0.0 and alone["kobj"] > 0  # still taught that nothing is visible


def test_gradients_reach_boxes_scores_and_keypoints():
    levels = [level.requires_grad_() for level in random_levels(17)]
    box, keypoints = person([20, 20, 90, 120])
    total, items = PoseObjectsLoss(COCO17)(levels, [PoseTargets(box[None], keypoints[None]),
                                                    PoseTargets(torch.zeros(0, 4), torch.zeros(0, 17, 3))])
    assert total.requires_grad and not items.requires_grad
    assert torch.isclose(total, items.sum() * 2)
    total.backward()
    gradient = torch.cat([level.grad.flatten(2) for level in levels], 2).abs().sum((0, 2))
    assert torch.isfinite(gradient).all()
    keypoint_gradient = gradient[4 * BINS + 1:].reshape(17, 3)
    assert (gradient[:4 * BINS].reshape(4, BINS).sum(1) > 0).all()  # every side's distribution
    assert gradient[4 * BINS] > 0  # the person score
    assert (keypoint_gradient > 0).all()  # x, y and visibility of every keypoint


def test_distances_beyond_the_last_bin_are_learnt_just_short_of_it():
    # one level and a person wider than the bins reach from any of its anchors
    box, keypoints = person([4, 4, 252, 252])
    loss = PoseObjectsLoss(COCO17, strides=(8,))
    targets = [PoseTargets(box[None], keypoints[None])]
    dfl = {reach: loss_items(loss, perfect_levels(box, keypoints, 17, 256, (8,), reach), targets)["dfl"]
           for reach in (14.5, 14.99, 14.999)}
    assert dfl[14.99] < min(dfl[14.5], dfl[14.999])


def test_a_custom_five_keypoint_skeleton():
    loss = PoseObjectsLoss(FIVE_POINTS)
    box, keypoints = person([30, 40, 90, 100], num_keypoints=5)
    targets = [PoseTargets(box[None], keypoints[None])]
    perfect = loss_items(loss, perfect_levels(box, keypoints, 5), targets)
    assert perfect["pose"] < 1e-4 and perfect["box"] < 1e-4
    total, items = loss(random_levels(5, batch=1), targets)
    assert torch.isfinite(total) and (items > 0).all()
    with pytest.raises(ValueError, match="channels"):
        loss(random_levels(17, batch=1), targets)


def test_an_empty_batch_has_only_a_class_loss():
    levels = [level.requires_grad_() for level in random_levels(17)]
    empty = PoseTargets(torch.zeros(0, 4), torch.zeros(0, 17, 3))
    total, items = PoseObjectsLoss(COCO17)(levels, [empty, empty])
    assert items[ITEM["cls"]] > 0
    assert items[[ITEM["box"], ITEM["pose"], ITEM["kobj"], ITEM["dfl"]]].abs().sum() == 0
    total.backward()


def test_gains_weigh_the_items():
    levels = random_levels(17, batch=1)
    box, keypoints = person([20, 20, 90, 120])
    targets = [PoseTargets(box[None], keypoints[None])]
    _, default = PoseObjectsLoss(COCO17)(levels, targets)
    _, doubled_pose = PoseObjectsLoss(COCO17, gains=PoseLossGains(pose=24.0))(levels, targets)
    assert torch.allclose(doubled_pose / default, torch.tensor([1.0, 2.0, 1.0, 1.0, 1.0]))


def test_for_head_builds_the_loss_the_constructor_would_with_the_same_gains_and_top_k():
    head, levels = PoseObjectsHead(COCO17), random_levels(17, batch=1)
    box, keypoints = person([20, 20, 90, 120])  # over a hundred anchors inside: top_k matters
    targets = [PoseTargets(box[None], keypoints[None])]
    _, default = PoseObjectsLoss(COCO17)(levels, targets)
    assert torch.equal(PoseObjectsLoss.for_head(head)(levels, targets)[1], default)
    gains = PoseLossGains(pose=24.0)
    _, custom = PoseObjectsLoss(COCO17, gains=gains, top_k=1)(levels, targets)
    assert torch.equal(PoseObjectsLoss.for_head(head, gains=gains, top_k=1)(levels, targets)[1], custom)
    assert not torch.allclose(custom, default)


def test_targets_are_the_samples_people_as_they_are():
    from manypose.data.coco import Sample

    box, keypoints = person([20, 20, 90, 120])
    sample = Sample(image=np.zeros((128, 128, 3), np.uint8), boxes=box[None].numpy(), keypoints=keypoints[None].numpy())
    targets = PoseObjectsLoss(COCO17).targets(sample, 128)
    assert torch.equal(targets.boxes, box[None]) and torch.equal(targets.keypoints, keypoints[None])


def test_decoding_agrees_with_the_network():
    head = PoseHead(PoseObjectsHead(COCO17), [64, 128, 256], light_score_branch=True)
    levels = [level * 3 for level in random_levels(17)]
    network = head.decode(levels)
    loss = PoseObjectsLoss.for_head(PoseObjectsHead(COCO17))
    predictions = loss.flatten(levels)
    boxes = loss.decode_boxes(predictions)
    centre_size = torch.cat(((boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]), -1)
    assert torch.allclose(centre_size.permute(0, 2, 1), network[:, :4], atol=1e-3)
    keypoints = loss.decode_keypoints(predictions)
    expected = network[:, 5:].reshape(2, 17, 3, -1)[:, :, :2].permute(0, 3, 1, 2)
    assert torch.allclose(keypoints, expected, atol=1e-3)


# one level of a single cell at stride 8: one anchor, at (4, 4) px; it is the only candidate of
# any person around it, so with top_k=1 it is the one foreground anchor and the terms are
# small enough to work out by hand

def one_anchor_items(box, keypoint, keypoint_dims: int = 3, box_logits=None) -> dict[str, float]:
    loss = PoseObjectsLoss(DOT, strides=(8,), keypoint_dims=keypoint_dims, top_k=1)
    level = torch.zeros(1, loss.level_channels, 1, 1)  # keypoint offsets 0: predicted at (0, 0) px
    if box_logits is not None:
        level[0, :4 * BINS, 0, 0] = box_logits.reshape(-1)
    targets = [PoseTargets(torch.tensor([box]), torch.tensor([[keypoint]]))]
    return loss_items(loss, [level], targets)


def test_one_anchor_and_one_keypoint_give_the_hand_computed_pose_and_kobj():
    # true keypoint (3, 4), predicted (0, 0): d^2 = 25; box area 64; error 25 / (1/4 * 64 * 2) = 25/32
    items = one_anchor_items([0.0, 0.0, 8.0, 8.0], [3.0, 4.0, 2.0])
    assert items["pose"] == pytest.approx(12.0 * (1 - np.exp(-25 / 32)), rel=1e-6)  # a mean over one value
    assert items["kobj"] == pytest.approx(np.log(2), rel=1e-6)  # BCE(logit 0, labelled) over one keypoint


def test_two_dimensional_keypoints_have_no_visibility_loss():
    items = one_anchor_items([0.0, 0.0, 8.0, 8.0], [3.0, 4.0, 2.0], keypoint_dims=2)
    assert items["kobj"] == 0.0
    assert items["pose"] == pytest.approx(12.0 * (1 - np.exp(-25 / 32)), rel=1e-6)


def test_a_box_without_area_costs_each_misplaced_keypoint_the_most_without_overflow():
    # a zero-width person (a line of a box): the OKS error is huge, not infinite or negative
    items = one_anchor_items([4.0, 0.0, 4.0, 8.0], [3.0, 4.0, 2.0])
    assert items["pose"] == pytest.approx(12.0)
    assert all(np.isfinite(value) for value in items.values())


def test_an_anchor_just_outside_a_tiny_person_learns_distance_zero_on_that_side():
    """The person [5, 0, 7, 8] is widened to [2, 10] about its centre, so the anchor at x = 4 is
    a candidate though 1 px left of the box: its left distance is -1/8 cell, learnt as 0. Then
    only bin 0's probability counts on that side: two left distributions with the same bin 0
    (and the same mean, so the same box) give the same dfl."""

    def side(probabilities):
        full = torch.full((BINS,), 1e-8)
        full[:len(probabilities)] = torch.tensor(probabilities)
        return full.log()

    others = (side([0.5, 0.5]), side([0.625, 0.375]), side([0.5, 0.5]))  # t, r, b: the box's own distances
    dfl = []
    for left in ([0.5, 0.25, 1e-8, 0.25], [0.5, 1e-8, 0.5]):  # both: mean 1 cell, bin 0 at 0.5
        items = one_anchor_items([5.0, 0.0, 7.0, 8.0], [6.0, 4.0, 2.0], box_logits=torch.stack((side(left), *others)))
        dfl.append(items["dfl"])
    assert dfl[0] > 0.01  # the anchor is in the foreground with some weight
    assert dfl[0] == pytest.approx(dfl[1], rel=1e-5)


def test_with_nobody_the_class_loss_is_the_summed_cross_entropy_over_all_anchors():
    # no targets: every target score is 0, their sum is clamped to 1 (not less, not more);
    # logits 0 cost log 2 on each of the 16 * 16 + 8 * 8 + 4 * 4 anchors, and the cls gain is 0.5
    levels = [level.zero_() for level in random_levels(17, batch=1)]
    items = loss_items(PoseObjectsLoss(COCO17), levels, [PoseTargets(torch.zeros(0, 4), torch.zeros(0, 17, 3))])
    assert items["cls"] == pytest.approx(0.5 * 336 * np.log(2), rel=1e-6)


def test_a_tiny_person_is_widened_to_the_second_levels_stride_only():
    # one level (stride 8): the person [10, 0, 12, 8] is widened to 8 px, [7, 15], which leaves
    # the anchor at x = 4 outside: nobody is assigned (widened to 16 px it would be inside)
    items = one_anchor_items([10.0, 0.0, 12.0, 8.0], [11.0, 4.0, 2.0])
    assert items["box"] == items["pose"] == items["kobj"] == items["dfl"] == 0.0
    assert items["cls"] == pytest.approx(0.5 * np.log(2), rel=1e-6)  # the one anchor as background


@pytest.mark.parametrize("strides, side", [((8, 16, 32), 16.0), ((8, 16), 16.0), ((8,), 8.0), ((16, 32, 64), 32.0)])
def test_the_assigner_gets_top_k_and_the_second_levels_stride(strides, side):
    loss = PoseObjectsLoss(COCO17, strides=strides, top_k=3)
    assert (loss.assigner.top_k, loss.assigner.min_box_side) == (3, side)


def test_the_loss_has_no_state_to_save():
    # its constants move with the module (buffers) but stay out of checkpoints
    loss = PoseObjectsLoss(FIVE_POINTS, box_bins=8)
    assert set(dict(loss.named_buffers())) == {"sigmas", "bins"}
    assert loss.state_dict() == {}
    assert loss.sigmas.tolist() == pytest.approx(FIVE_POINTS.sigmas) and loss.bins.tolist() == list(range(8))


def test_levels_that_do_not_fit_the_loss_are_named():
    loss = PoseObjectsLoss(FIVE_POINTS)
    with pytest.raises(ValueError, match="^2 levels for 3 strides$"):
        loss(random_levels(5, batch=1)[:2], [])
    with pytest.raises(ValueError, match=r"^a level has 116 channels, the head 80$"):  # 64 + 1 + 17 * 3, 64 + 1 + 5 * 3
        loss.flatten(random_levels(17, batch=1))


def test_mean_or_zero_is_the_mean_and_zero_for_nothing():
    assert mean_or_zero(torch.tensor([3.0])) == 3.0
    assert mean_or_zero(torch.tensor([[1.0, 2.0], [3.0, 6.0]])) == 3.0
    empty = torch.zeros(0, 17, requires_grad=True)
    assert mean_or_zero(empty) == 0.0 and mean_or_zero(empty).requires_grad  # still in the graph


def test_the_loss_moves_the_targets_to_the_predictions_device():
    # the training loop hands over targets collated on the CPU, whatever the network runs on
    moved_to = []

    class Recording(PaddedTargets):
        def to(self, device):
            moved_to.append(device)
            return super().to(device)

    box, keypoints = person([20, 20, 90, 120])
    padded = pad_targets([PoseTargets(box[None], keypoints[None])])
    PoseObjectsLoss(COCO17)(random_levels(17, batch=1), Recording(**vars(padded)))
    assert moved_to == [torch.device("cpu")]


# --- the assigner and the target padding ------------------------------------------------------

def test_complete_iou_is_one_for_equal_boxes_and_penalizes_distance():
    box = torch.tensor([10.0, 20.0, 50.0, 90.0])
    assert torch.isclose(complete_iou(box, box), torch.tensor(1.0))
    apart = complete_iou(box, box + torch.tensor([100.0, 0.0, 100.0, 0.0]))
    assert apart < 0  # no overlap, and the centres are far apart


# CIoU of box pairs as Ultralytics computes it (ultralytics.utils.metrics.bbox_iou(a, b, xywh=False,
# CIoU=True) in float64, version 8.4): overlapping boxes of other aspect ratios, boxes apart along
# one axis, a box of zero height on either side, boxes so small that eps counts
CIOU_REFERENCE = [
    ([10.0, 20.0, 50.0, 90.0], [30.0, 10.0, 100.0, 60.0], 0.027268075948732012),
    ([15.0, 0.0, 25.0, 40.0], [10.0, 10.0, 30.0, 30.0], 0.31548665080672744),
    ([0.0, 0.0, 10.0, 10.0], [20.0, 5.0, 30.0, 40.0], -0.29233636712472033),
    ([0.0, 0.0, 10.0, 10.0], [5.0, 20.0, 30.0, 40.0], -0.3125245069551395),
    ([0.0, 5.0, 10.0, 5.0], [0.0, 0.0, 10.0, 10.0], -0.04999999485408479),
    ([0.0, 0.0, 10.0, 10.0], [0.0, 5.0, 10.0, 5.0], -0.04999999485408479),
    ([0.0, 0.0, 1e-4, 1e-3], [0.0, 0.0, 1e-4, 1e-3], 0.49995000499950004),
    ([0.0, 0.0, 0.0, 0.0], [3e-4, 0.0, 3e-4, 0.0], -0.47368421052631576),
]


@pytest.mark.parametrize("box_a, box_b, expected", CIOU_REFERENCE)
def test_complete_iou_equals_ultralytics(box_a, box_b, expected):
    ours = complete_iou(torch.tensor(box_a, dtype=torch.float64), torch.tensor(box_b, dtype=torch.float64))
    assert ours.item() == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_complete_iou_by_hand():
    # a 10 x 40 and a 20 x 20 box about one centre: IoU 200 / 600, no centre term, and the
    # aspect term v = 4 / pi^2 (atan(1) - atan(1/4))^2 weighted by v / (1 - IoU + v)
    a, b = torch.tensor([15.0, 0.0, 25.0, 40.0], dtype=torch.float64), torch.tensor([10.0, 10.0, 30.0, 30.0],
                                                                                  dtype=torch.float64)
    iou = 1 / 3
    v = 4 / np.pi ** 2 * (np.arctan(1.0) - np.arctan(0.25)) ** 2
    assert complete_iou(a, b).item() == pytest.approx(iou - v * v / (1 - iou + v), rel=1e-6)
    assert complete_iou(b, a).item() == pytest.approx(iou - v * v / (1 - iou + v), rel=1e-6)


def assign(pred_boxes, gt_boxes, anchors, gt_mask=None, top_k=10, scores=None):
    pred_boxes = torch.tensor(pred_boxes, dtype=torch.float32)[None]
    gt_boxes = torch.tensor(gt_boxes, dtype=torch.float32)[None]
    scores = torch.full((1, len(anchors), 1), 0.8) if scores is None else scores
    gt_mask = torch.ones(gt_boxes.shape[:2], dtype=torch.bool) if gt_mask is None else torch.tensor([gt_mask])
    return TaskAlignedAssigner(top_k=top_k)(scores, pred_boxes, torch.tensor(anchors, dtype=torch.float32),
                                            torch.zeros(gt_boxes.shape[:2], dtype=torch.long), gt_boxes, gt_mask)


def test_an_anchor_claimed_by_two_people_goes_to_the_better_overlap():
    anchors = [[50.0, 50.0], [5.0, 5.0]]
    first, second = [20.0, 20.0, 80.0, 80.0], [40.0, 30.0, 100.0, 95.0]
    for predicted, expected in ((first, 0), (second, 1)):
        result = assign([predicted, [0.0, 0.0, 10.0, 10.0]], [first, second], anchors)
        assert result.foreground.tolist() == [[True, False]]
        assert result.gt_index[0, 0] == expected
        assert result.boxes[0, 0].tolist() == [first, second][expected]


def test_top_k_anchors_inside_the_box_and_normalized_scores():
    anchors, strides = anchors_and_strides(IMAGE_SIZE)
    anchors = anchors * strides
    gt = [16.0, 16.0, 112.0, 112.0]
    generator = torch.Generator().manual_seed(0)
    predicted = torch.tensor(gt) + torch.randn(len(anchors), 4, generator=generator) * 8
    result = assign(predicted.tolist(), [gt, gt], anchors.tolist(), gt_mask=[True, False], top_k=7)
    chosen = result.foreground[0]
    assert chosen.sum() == 7 and (result.gt_index[0][chosen] == 0).all()  # the padded copy gets none
    inside = ((anchors > 16) & (anchors < 112)).all(1)
    assert inside[chosen].all()
    overlaps = complete_iou(predicted[chosen], torch.tensor(gt))
    assert torch.isclose(result.scores[0, chosen, 0].max(), overlaps.max())
    assert (result.scores[0, ~chosen] == 0).all()


def test_a_tiny_person_is_widened_to_cover_an_anchor():
    anchors = [[12.0, 12.0], [40.0, 40.0]]
    result = assign([[6.0, 6.0, 18.0, 18.0], [30.0, 30.0, 50.0, 50.0]], [[8.0, 8.0, 11.0, 11.0]], anchors)
    assert result.foreground.tolist() == [[True, False]]


def test_an_anchor_must_lie_more_than_eps_inside_a_box():
    # as Ultralytics' select_candidates_in_gts: distances to the box's sides must exceed 1e-9;
    # float64, so that 1e-9 px is exact. Anchors 1e-9 and 2e-9 px inside the left side of the
    # first person and inside the right side of the second
    gt_boxes = torch.tensor([[[0.0, 0.0, 20.0, 20.0], [-20.0, -20.0, 0.0, 0.0]]], dtype=torch.float64)
    anchors = torch.tensor([[1e-9, 5.0], [2e-9, 5.0], [-1e-9, -5.0], [-2e-9, -5.0]], dtype=torch.float64)
    boxes = torch.tensor([[[0.0, 0.0, 20.0, 20.0]] * 2 + [[-20.0, -20.0, 0.0, 0.0]] * 2], dtype=torch.float64)
    result = TaskAlignedAssigner()(torch.full((1, 4, 1), 0.8, dtype=torch.float64), boxes, anchors,
                                   torch.zeros(1, 2, dtype=torch.long), gt_boxes, torch.ones(1, 2, dtype=torch.bool))
    assert result.foreground.tolist() == [[False, True, False, True]]
    assert result.gt_index[0, [1, 3]].tolist() == [0, 1]


def test_an_anchor_chosen_by_one_person_stays_with_it_though_it_overlaps_another_more():
    # top_k 1: the first person's best anchor predicts a box nearer the second person, whose
    # best anchor predicts it exactly; only anchors chosen by several people go to the best overlap
    first, second = [20.0, 20.0, 80.0, 80.0], [40.0, 40.0, 100.0, 100.0]
    result = assign([[32.0, 32.0, 92.0, 92.0], second], [first, second], [[50.0, 50.0], [60.0, 60.0]], top_k=1)
    assert result.foreground.tolist() == [[True, True]]
    assert result.gt_index[0].tolist() == [0, 1]
    assert result.boxes[0].tolist() == [first, second]


def test_pad_targets_masks_the_padding():
    box, keypoints = person([10, 10, 40, 60])
    padded = pad_targets([PoseTargets(torch.zeros(0, 4), torch.zeros(0, 17, 3)),
                          PoseTargets(torch.stack((box, box)), torch.stack((keypoints, keypoints)),
                                      classes=torch.tensor([0, 2]))])
    assert padded.boxes.shape == (2, 2, 4) and padded.keypoints.shape == (2, 2, 17, 3)
    assert padded.mask.tolist() == [[False, False], [True, True]]
    assert padded.labels.tolist() == [[0, 0], [0, 2]]
    assert torch.equal(padded.keypoints[1, 0], keypoints)


def test_padded_targets_have_long_labels_float_boxes_and_a_bool_mask():
    # arrays as a dataset gives them: float64 boxes and keypoints, integer classes
    padded = pad_targets([PoseTargets(np.array([[10.0, 10.0, 40.0, 60.0]]), np.zeros((1, 17, 3)),
                                      classes=np.array([3]))])
    assert padded.labels.dtype == torch.long and padded.labels.tolist() == [[3]]
    assert padded.mask.dtype == torch.bool
    assert padded.boxes.dtype == padded.keypoints.dtype == torch.float32


def test_padded_targets_move_every_tensor_to_the_device():
    box, keypoints = person([10, 10, 40, 60])
    moved = pad_targets([PoseTargets(box[None], keypoints[None])]).to(torch.device("meta"))
    assert [tensor.device.type for tensor in vars(moved).values()] == ["meta"] * 4


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_the_assignment_keeps_the_predictions_dtype(dtype):
    # half-precision predictions get half-precision target scores, not float32 ones
    scores = torch.full((1, 2, 1), 0.8, dtype=dtype)
    boxes = torch.tensor([[[20.0, 20.0, 80.0, 80.0], [0.0, 0.0, 10.0, 10.0]]], dtype=dtype)
    anchors = torch.tensor([[50.0, 50.0], [5.0, 5.0]])
    result = TaskAlignedAssigner()(scores, boxes, anchors, torch.zeros(1, 1, dtype=torch.long), boxes[:, :1],
                                   torch.ones(1, 1, dtype=torch.bool))
    assert result.foreground.tolist() == [[True, False]]
    assert result.scores.dtype == result.boxes.dtype == dtype
    assert result.scores[0, 0, 0] == 1  # the predicted box is the person's: IoU 1


# --- KAPAO's keypoint objects -------------------------------------------------------------------

def test_keypoint_object_targets_are_squares_around_the_labelled_keypoints_worked_by_hand():
    from types import SimpleNamespace

    from manypose.losses.pose_objects import keypoint_object_targets

    keypoints = np.zeros((2, 3, 3), np.float32)
    keypoints[0, 0] = (20, 30, 2)
    keypoints[0, 2] = (50, 60, 1)   # labelled but hidden: an object too
    keypoints[1, 1] = (70, 80, 2)
    keypoints[1, 2] = (99, 99, 0)   # not labelled: no object, wherever it lies
    boxes = np.array([[0, 0, 100, 100], [60, 70, 90, 95]], np.float32)
    targets = keypoint_object_targets(SimpleNamespace(boxes=boxes, keypoints=keypoints), 200, object_size=0.1)
    # squares of 0.1 * 200 = 20 px about (20, 30), (50, 60), (70, 80), after the people
    assert targets.boxes.tolist() == [[0, 0, 100, 100], [60, 70, 90, 95],
                                      [10, 20, 30, 40], [40, 50, 60, 70], [60, 70, 80, 90]]
    assert targets.classes.dtype == torch.long and targets.classes.tolist() == [0, 0, 1, 3, 2]
    assert targets.keypoints.shape == (5, 3, 3)
    assert torch.equal(targets.keypoints[:2], torch.from_numpy(keypoints))
    assert (targets.keypoints[2:] == 0).all()  # an object has no keypoints of its own


def test_keypoint_object_targets_of_an_image_without_people_are_empty():
    from types import SimpleNamespace

    from manypose.losses.pose_objects import keypoint_object_targets

    sample = SimpleNamespace(boxes=np.zeros((0, 4), np.float32), keypoints=np.zeros((0, 17, 3), np.float32))
    targets = keypoint_object_targets(sample, 640, object_size=0.05)
    assert targets.boxes.shape == (0, 4) and targets.keypoints.shape == (0, 17, 3)
    assert targets.classes.dtype == torch.long and targets.classes.shape == (0,)


def test_full_keypoint_object_scores_set_1_on_the_keypoint_objects_anchors_only():
    from manypose.encoders.pose_objects import Assignment
    from manypose.losses.pose_objects import full_keypoint_object_scores

    # two images, three ground truths each (classes: 0 the person, 1..4 keypoints; none of the
    # last class in this batch), five anchors
    labels = torch.tensor([[1, 0, 3], [0, 2, 0]])
    foreground = torch.tensor([[True, True, False, True, False], [True, True, False, False, False]])
    gt_index = torch.tensor([[0, 1, 0, 2, 2], [0, 1, 1, 0, 0]])  # 0 (or any) off the foreground
    scores = torch.zeros(2, 5, 5, dtype=torch.float16)
    scores[0, 0, 1], scores[0, 1, 0], scores[0, 3, 3] = 0.25, 0.5, 0.125
    scores[1, 0, 0], scores[1, 1, 2] = 0.75, 0.375
    boxes = torch.arange(2 * 5 * 4, dtype=torch.float16).reshape(2, 5, 4)
    result = full_keypoint_object_scores(Assignment(boxes, scores, foreground, gt_index), labels)
    expected = scores.clone()
    expected[0, 0, 1] = 1.0   # keypoint class 1
    expected[0, 3, 3] = 1.0   # keypoint class 3
    expected[1, 1, 2] = 1.0   # keypoint class 2
    # people's anchors keep their IoU-scaled scores; background anchors stay 0 though their
    # index points at a keypoint object (image 0, anchors 2 and 4; image 1, anchor 2)
    assert result.scores.dtype == torch.float16
    assert torch.equal(result.scores, expected)
    assert result.boxes is boxes and result.foreground is foreground and result.gt_index is gt_index


def test_for_head_with_keypoint_objects_makes_keypoint_object_targets_of_the_heads_size():
    from types import SimpleNamespace

    plain = PoseObjectsLoss.for_head(PoseObjectsHead(DOT))
    assert not plain.keypoint_objects
    head = PoseObjectsHead(DOT, num_classes=2, keypoint_objects=True, keypoint_object_size=0.1)
    loss = PoseObjectsLoss.for_head(head)
    assert loss.keypoint_objects is True
    sample = SimpleNamespace(boxes=np.array([[0, 0, 60, 90]], np.float32),
                             keypoints=np.array([[[30, 40, 2]]], np.float32))
    targets = loss.targets(sample, 200)  # 0.1 * 200: a 20 px square
    assert targets.boxes.tolist() == [[0, 0, 60, 90], [20, 30, 40, 50]]
    assert targets.classes.tolist() == [0, 1]
    assert plain.targets(sample, 200).classes is None  # the people only, as they are


def test_keypoint_objects_learn_their_class_towards_1_and_leave_the_keypoint_terms_to_the_people():
    """One level of 1 x 3 cells at stride 8, anchors at x = 4, 12, 20 px (y = 4): a person
    [0, 0, 8, 8] covers the first, a keypoint object [8, 0, 16, 8] the second, the third is
    background. The first anchor predicts the person's box exactly (distances 0.5 cell, half in
    bins 0 and 1), the second a uniform distribution: a box of 7.5 cells a side about it, 120 px
    square, IoU (and CIoU, same centre and shape) 64 / 14400 with the object."""
    head = PoseObjectsHead(DOT, num_classes=2, strides=(8,), keypoint_objects=True)
    loss = PoseObjectsLoss.for_head(head)
    level = torch.zeros(1, loss.level_channels, 1, 3)
    exact = torch.full((4, BINS), -30.0)
    exact[:, :2] = np.log(0.5)
    level[0, :4 * BINS, 0, 0] = exact.reshape(-1)
    class_logits = torch.tensor([[2.0, -1.0], [-2.0, 0.5], [-3.0, 1.0]])  # per anchor: person, keypoint
    level[0, 4 * BINS:4 * BINS + 2, 0] = class_logits.T
    level[0, 4 * BINS + 2:, 0] = torch.tensor([[0.0, 0.25, -0.5], [0.0, 0.75, 0.5], [0.0, 1.5, -2.0]])  # x, y, vis
    targets = [PoseTargets(torch.tensor([[0.0, 0.0, 8.0, 8.0], [8.0, 0.0, 16.0, 8.0]]),
                           torch.tensor([[[3.0, 4.0, 2.0]], [[0.0, 0.0, 0.0]]]), classes=torch.tensor([0, 1]))]
    total, items = loss([level], targets)
    items = dict(zip(LOSS_NAMES, items.tolist()))

    iou = 64 / 14400
    score_sum = 2.0  # the person's anchor IoU 1, the object's target 1 whatever its IoU
    class_targets = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    logits = class_logits.double().numpy()
    cross_entropy = np.logaddexp(0, logits) - class_targets * logits  # BCE with logits
    assert items["cls"] == pytest.approx(0.5 * cross_entropy.sum() / score_sum, rel=1e-5)
    assert items["box"] == pytest.approx(7.5 * (0.0 + (1 - iou)) / score_sum, rel=1e-5)
    # dfl: all four sides 0.5 cell from both anchors; log 2 on the exact one, log 16 on the uniform
    assert items["dfl"] == pytest.approx(1.5 * (np.log(2) + np.log(16)) / score_sum, rel=1e-5)
    # pose and kobj of the person's anchor only: its keypoint predicted at (0, 0) px, true (3, 4)
    assert items["pose"] == pytest.approx(12.0 * (1 - np.exp(-25 / 32)), rel=1e-5)
    assert items["kobj"] == pytest.approx(np.log(2), rel=1e-5)  # visibility logit 0, labelled
    assert float(total) == pytest.approx(sum(items.values()), rel=1e-5)


def test_the_anchor_grid_is_made_on_the_device_of_the_levels():
    # the meta device stands for a GPU: the anchors and strides must not stay on the CPU
    levels = [level.to("meta") for level in random_levels(17, batch=1)]
    predictions = PoseObjectsLoss(COCO17).flatten(levels)
    assert predictions.anchors.device.type == predictions.strides.device.type == "meta"
    assert predictions.anchors.shape == (336, 2) and predictions.strides.shape == (336, 1)


def test_the_loss_stays_float32_with_sigmas_read_as_numpy_floats():
    # a skeleton made from an array of sigmas holds numpy float64s; the loss still runs in float32
    skeleton = Skeleton(name="dot64", keypoints=("dot",), edges=(), sigmas=tuple(np.array([0.25])))
    loss = PoseObjectsLoss(skeleton, strides=(8,), top_k=1)
    assert loss.sigmas.dtype == torch.float32
    level = torch.zeros(1, loss.level_channels, 1, 1)
    total, items = loss([level], [PoseTargets(torch.tensor([[0.0, 0.0, 8.0, 8.0]]), torch.tensor([[[3.0, 4.0, 2.0]]]))])
    assert total.dtype == items.dtype == torch.float32
    assert items[ITEM["pose"]].item() == pytest.approx(12.0 * (1 - np.exp(-25 / 32)), rel=1e-6)
