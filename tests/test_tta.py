"""Test-time augmentation: mirrored and rescaled views merged person by person."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from manypose.evaluate import evaluate
from manypose.poses import Poses
from manypose.skeleton import COCO17
from manypose.track import TrackerOptions
from manypose.tta import TestTimeAugmentation, merge
from manypose.zoo import DEMO_IMAGE

from synthetic_people import STANDING


def person(x: float, score: float, confidence: float = 0.9) -> tuple:
    keypoints = np.concatenate([STANDING * 200 + [x, 50], np.full((17, 1), confidence)], axis=1)
    return keypoints, np.array([x, 50, x + 80, 250.0]), score


def poses_of(*people) -> Poses:
    return Poses(np.stack([p[0] for p in people]).astype(np.float32), np.array([p[2] for p in people], np.float32),
                 np.stack([p[1] for p in people]).astype(np.float32), COCO17, (1000, 400), 0.5)


def flipping(estimator):
    return estimator.reconfigured(tta=TestTimeAugmentation(flip=True))


def test_views_of_one_person_merge_into_their_mean_and_a_lone_one_is_ranked_lower():
    merged = merge([poses_of(person(100, 0.9), person(600, 0.8)), poses_of(person(104, 0.7))], COCO17.sigmas)
    assert len(merged) == 2
    assert merged.scores.tolist() == pytest.approx([0.8, 0.4])  # (0.9 + 0.7) / 2 views; 0.8 / 2
    assert merged.keypoints[0, :, 0] == pytest.approx(STANDING[:, 0] * 200 + 102, abs=1e-3)
    assert merged.boxes[0, 0] == pytest.approx((100 * 0.9 + 104 * 0.7) / 1.6, abs=1e-3)


def test_one_plain_view_is_the_estimator_itself(estimator):
    image = cv2.imread(str(DEMO_IMAGE))
    plain, single = estimator(image), estimator.reconfigured(tta=TestTimeAugmentation(scales=(1.0,)))(image)
    assert np.allclose(plain.keypoints, single.keypoints) and np.allclose(plain.scores, single.scores)


def test_flip_views_of_a_mirrored_image_are_the_mirrored_poses(estimator):
    image = cv2.imread(str(DEMO_IMAGE))
    flipped = flipping(estimator)
    poses, mirrored = flipped(image), flipped(image[:, ::-1].copy())
    width = image.shape[1]
    assert len(poses) == len(mirrored) == 1
    back = COCO17.flip_keypoints(mirrored.keypoints, width)
    assert np.abs(back[..., :2] - poses.keypoints[..., :2]).max() < 1.0  # left wrist stays the left wrist


def test_flip_does_not_lose_accuracy_on_the_dev_set(estimator, dev_annotations, dev_images):
    import manypose

    low_threshold = manypose.load(score_threshold=0.01)
    plain, _, _ = evaluate(low_threshold, dev_annotations, dev_images, progress=False)
    flipped, _, _ = evaluate(manypose.load(score_threshold=0.01, flip=True), dev_annotations, dev_images,
                             progress=False)
    print(f"dev AP plain {plain['AP']:.4f}, with flip {flipped['AP']:.4f}")
    assert flipped["AP"] >= plain["AP"] + 0.01  # measured 0.446 -> 0.477


def test_scales_are_checked():
    import manypose

    with pytest.raises(ValueError, match="between 0.25 and 4"):
        manypose.load(scales=(1.0, 9.0))


def test_the_views_run_in_batches_and_streams_too(estimator):
    image = cv2.imread(str(DEMO_IMAGE))
    flipped = flipping(estimator)
    streamed = next(flipped.stream([image])).poses
    assert np.allclose(streamed.keypoints, flipped(image).keypoints, atol=1e-4)
    assert not np.allclose(streamed.keypoints, estimator(image).keypoints, atol=1e-2)


def test_tracking_applies_the_views(estimator):
    """Tracked poses are the merged views' (smoothing off), not the plain view's."""
    image = cv2.imread(str(DEMO_IMAGE))
    flipped = flipping(estimator).reconfigured(tracker=TrackerOptions(smooth=False))
    tracked = list(flipped.track([image] * 3))[-1]
    merged = flipped.for_tracking()(image)
    confident = merged.scores >= TrackerOptions().high_score  # the tracker reports these
    assert "TTA: flip" in flipped.name and len(tracked) == confident.sum() >= 1
    assert np.allclose(tracked.keypoints, merged.keypoints[confident], atol=1e-4)
    assert not np.allclose(tracked.keypoints[:, :, :2], estimator(image).keypoints[:len(tracked), :, :2], atol=0.5)
