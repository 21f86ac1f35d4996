"""The CIF / CAF loss equals OpenPifPaf's own on a fixed batch (tests/fixtures/openpifpaf/
make_loss_reference.py: its targets of two coco-mini images, raw maps from a seed), values and
gradients, and behaves as a loss should on targets it can meet exactly."""
from pathlib import Path

import numpy as np
import pytest
import torch

from manypose.data.coco import Sample
from manypose.encoders.cifcaf import CifCafTargets, FieldTargets
from manypose.heads.composite_fields import coco17_heads
from manypose.losses.composite_fields import CompositeFieldsLoss, FieldBatch, grid_size

REFERENCE = np.load(Path(__file__).resolve().parents[1] / "fixtures" / "openpifpaf" / "loss.npz")


def raw_maps(seed: int, batch: int, fields: int, components: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """As make_loss_reference.raw_maps."""
    rng = np.random.default_rng(seed)
    shape = (batch, fields, components, size, size)
    maps = rng.normal(0.0, 2.0, shape).astype(np.float32)
    maps[:, :, 1] = rng.normal(-3.0, 5.0, shape[:2] + shape[3:])
    return maps, rng.normal(size=shape).astype(np.float32)


def field_targets(openpifpaf_targets: np.ndarray, vectors: int) -> FieldTargets:
    """One image's targets in OpenPifPaf's layout (confidence, V (x, y), V bmin, V scales; NaN
    where undefined) in encoders.cifcaf's."""
    confidence = openpifpaf_targets[:, 0]
    regression = openpifpaf_targets[:, 1:1 + 2 * vectors].reshape(len(confidence), vectors, 2, *confidence.shape[1:])
    spread_min = openpifpaf_targets[:, 1 + 2 * vectors]
    scale = openpifpaf_targets[:, 1 + 3 * vectors:]
    return FieldTargets(confidence=np.nan_to_num(confidence), confidence_mask=np.isfinite(confidence),
                        regression=np.nan_to_num(regression), scale=np.nan_to_num(scale),
                        scale_mask=np.isfinite(scale).all(axis=1), spread_min=float(np.nanmax(spread_min)))


def reference_batch():
    targets = [CifCafTargets(field_targets(cif, 1), field_targets(caf, 2))
               for cif, caf in zip(REFERENCE["cif_targets"], REFERENCE["caf_targets"])]
    size = REFERENCE["cif_targets"].shape[-1]
    maps = [raw_maps(0, len(targets), 17, 5, size), raw_maps(1, len(targets), 19, 8, size)]
    return targets, maps


def test_equals_openpifpafs_loss_and_gradients():
    targets, maps = reference_batch()
    raw = [torch.from_numpy(values).requires_grad_() for values, _ in maps]
    total, items = CompositeFieldsLoss(*coco17_heads())(raw, targets)
    np.testing.assert_allclose(items.numpy(), REFERENCE["items"], rtol=1e-5)
    assert total.item() == pytest.approx(float(REFERENCE["total"]), rel=1e-5)
    total.backward()
    for tensor, (_, probe), name in zip(raw, maps, ("cif", "caf")):
        probed = (tensor.grad.numpy() * probe).sum(axis=(0, 1, 3, 4))
        np.testing.assert_allclose(probed, REFERENCE[f"{name}_gradient_probe"], rtol=1e-4, atol=1e-4)


def perfect_maps(targets: CifCafTargets) -> list[torch.Tensor]:
    """Raw maps that meet the targets: confident logits, exact regressions and scales, spread 0."""
    maps = []
    for field in (targets.cif, targets.caf):
        vectors = field.regression.shape[1]
        logits = np.where(field.confidence > 0, 30.0, -30.0)[:, None]
        scales = np.where(field.scale_mask[:, None], field.scale, 1.0)
        raw_scales = np.log(np.expm1(np.maximum(scales, 1e-3)))  # inverse softplus
        b = np.zeros_like(logits)
        regression = field.regression.reshape(len(logits), 2 * vectors, *logits.shape[2:])
        maps.append(torch.from_numpy(np.concatenate((b, logits, regression, raw_scales), 1)[None].astype(np.float32)))
    return maps


def test_met_targets_cost_only_the_laplace_normalization_and_missed_ones_cost_more():
    cif, caf = coco17_heads()
    loss = CompositeFieldsLoss(cif, caf)
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, 5:13] = [[60, 40, 2], [90, 40, 2], [55, 70, 2], [95, 70, 2], [55, 95, 2], [95, 95, 2],
                          [65, 100, 2], [85, 100, 2]]
    sample = type("Sample", (), {"keypoints": keypoints, "boxes": np.array([[50, 30, 100, 110]], np.float32),
                                 "crowd_boxes": np.zeros((0, 4), np.float32)})
    targets = loss.targets(sample, 161)
    assert targets.cif.confidence.shape == (17, grid_size(161, cif), grid_size(161, cif)) == (17, 21, 21)
    met = perfect_maps(targets)
    _, items = loss(met, [targets])
    assert items[[0, 2, 3, 5]].abs().max() < 1e-3  # confidences and scales met
    moved = [m.clone() for m in met]
    moved[0][:, :, 2] += 1.0  # every CIF x regression off by a cell
    _, items_moved = loss(moved, [targets])
    assert items_moved[1] > items[1] + 10 and torch.equal(items_moved[[0, 2, 3, 4, 5]], items[[0, 2, 3, 4, 5]])


def test_maps_of_another_size_than_the_targets_are_refused():
    loss = CompositeFieldsLoss(*coco17_heads())
    targets, maps = reference_batch()
    raw = [torch.from_numpy(values[:, :, :, :-1]) for values, _ in maps]
    with pytest.raises(ValueError, match="cif maps"):
        loss(raw, targets)


def two_people_and_a_crowd() -> Sample:
    """One labelled person, one without a labelled keypoint and a crowd, on a 161 px input."""
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[0, 5:9] = [[60, 40, 2], [90, 40, 2], [55, 70, 2], [95, 70, 2]]
    boxes = np.array([[50, 30, 100, 80], [8, 120, 24, 152]], np.float32)
    return Sample(image=np.zeros((161, 161, 3), np.uint8), boxes=boxes, keypoints=keypoints,
                  crowd_boxes=np.array([[120, 8, 152, 40]], np.float32))


def test_targets_ignore_the_crowds_and_the_people_without_keypoints():
    loss = CompositeFieldsLoss(*coco17_heads())
    targets = loss.targets(two_people_and_a_crowd(), 161)
    for field in (targets.cif, targets.caf):  # stride 8: cells (x, y) = pixels / 8
        assert not field.confidence_mask[:, 17, 2].any(), "inside the unlabelled person's box (1..3, 15..19)"
        assert not field.confidence_mask[:, 3, 17].any(), "inside the crowd (15..19, 1..5)"
        assert field.confidence_mask[:, 0, 0].all() and field.confidence_mask[:, 10, 14].all()


def test_stacked_targets_go_to_the_given_device():
    targets = CompositeFieldsLoss(*coco17_heads()).targets(two_people_and_a_crowd(), 161)
    batch = FieldBatch.stacked([targets.cif, targets.cif], torch.device("meta"))
    assert batch.confidence.shape == (2, 17, 21, 21) and batch.regression.shape == (2, 17, 1, 2, 21, 21)
    assert {t.device.type for t in (batch.confidence, batch.confidence_mask, batch.regression, batch.scale,
                                    batch.scale_mask)} == {"meta"}


def test_wrong_maps_are_refused_with_what_was_expected():
    loss = CompositeFieldsLoss(*coco17_heads())
    targets = [loss.targets(two_people_and_a_crowd(), 161)]
    cif, caf = torch.zeros(1, 17, 5, 21, 20), torch.zeros(1, 19, 8, 21, 21)
    with pytest.raises(ValueError, match=r"^1 raw outputs for a cif and a caf head$"):
        loss([caf], targets)
    with pytest.raises(ValueError, match=r"^the cif maps are \(17, 5, 21, 20\), their targets \(17, 5, 21, 21\)$"):
        loss([cif, caf], targets)
