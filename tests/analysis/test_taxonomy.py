"""The error taxonomy on hand-made people: what is good, jitter, inversion, swap and miss, where
corrections put keypoints, and what each correction does to AP."""
import numpy as np
import pytest

from manypose.analysis.errors import (GOOD_KS, JITTER_KS, KINDS, _soft_nms, ap_by_step, judge_keypoints)
from manypose.analysis.evaluation import ImageData, evaluate
from manypose.skeleton import COCO17

SIGMAS = np.array(COCO17.sigmas)
FLIP = np.array(COCO17.flip)
LEFT_WRIST, RIGHT_WRIST, NOSE = COCO17.index("left_wrist"), COCO17.index("right_wrist"), COCO17.index("nose")
# a standing person 200 pixels tall, x and y of each COCO keypoint
STANDING = np.array([[50, 12], [54, 8], [46, 8], [58, 10], [42, 10], [70, 40], [30, 40], [76, 76], [24, 76],
                     [78, 104], [22, 104], [62, 104], [38, 104], [62, 150], [38, 150], [62, 196], [38, 196]], float)
AREA = 100.0 * 200.0


def person(x: float) -> np.ndarray:
    keypoints = np.ones((17, 3)) * 2
    keypoints[:, :2] = STANDING + (x, 0)
    return keypoints


def image_of(truths, detections, scores=None) -> ImageData:
    truths, detections = np.array(truths, float), np.array(detections, float)
    scores = np.linspace(0.9, 0.5, len(detections)) if scores is None else np.asarray(scores, float)
    boxes = np.array([[t[:, 0].min(), t[:, 1].min(), 100, 200] for t in truths])
    return ImageData(1, np.arange(1, len(truths) + 1), truths, np.full(len(truths), AREA), boxes,
                     np.zeros(len(truths), bool), np.zeros(len(truths), bool), np.arange(1, len(detections) + 1),
                     detections, scores, np.full(len(detections), AREA))


def shifted_to(similarity: float, sigma: float) -> float:
    """How far (pixels) a keypoint lies from its truth at this keypoint similarity."""
    return float(np.sqrt(-np.log(similarity) * 2 * AREA * (2 * sigma) ** 2))


def kinds_of(image) -> list[str]:
    (judged,) = judge_keypoints([image], SIGMAS, FLIP)
    return [KINDS[k] if k >= 0 else "unlabelled" for k in judged.kinds]


def test_a_detection_on_its_person_is_good_everywhere():
    assert kinds_of(image_of([person(0)], [person(0)])) == ["good"] * 17


def test_a_keypoint_between_the_thresholds_is_jitter_and_beyond_them_a_miss():
    detection = person(0)
    detection[NOSE, 0] += shifted_to(0.7, SIGMAS[NOSE])
    detection[LEFT_WRIST, 0] += shifted_to(0.3, SIGMAS[LEFT_WRIST])
    kinds = kinds_of(image_of([person(0)], [detection]))
    assert kinds[NOSE] == "jitter" and kinds[LEFT_WRIST] == "miss"
    assert kinds.count("good") == 15


def test_left_and_right_exchanged_are_inversions_and_the_nose_stays_good():
    mirrored = person(0)[FLIP]  # every left keypoint where the right one is, and back
    kinds = kinds_of(image_of([person(0)], [mirrored]))
    assert kinds[NOSE] == "good"
    assert all(kinds[k] == "inversion" for k in range(1, 17))


def test_a_keypoint_on_the_neighbour_is_a_swap():
    detection = person(0)
    detection[RIGHT_WRIST, :2] = person(160)[RIGHT_WRIST, :2]
    kinds = kinds_of(image_of([person(0), person(160)], [detection]))
    assert kinds[RIGHT_WRIST] == "swap" and kinds.count("good") == 16


def test_keypoints_the_person_has_no_label_for_are_not_judged():
    truth = person(0)
    truth[LEFT_WRIST, 2] = 0
    detection = person(0)
    detection[LEFT_WRIST, 0] += 500
    kinds = kinds_of(image_of([truth], [detection]))
    assert kinds[LEFT_WRIST] == "unlabelled" and kinds.count("good") == 16


def test_detections_of_nobody_are_not_judged():
    assert judge_keypoints([image_of([person(0)], [person(600)])], SIGMAS, FLIP) == []


@pytest.mark.parametrize("kind, similarity, edge", [("jitter", 0.7, GOOD_KS), ("miss", 0.2, JITTER_KS)])
def test_corrections_move_an_error_as_coco_analyze_does(kind, similarity, edge):
    """coco-analyze's distance for similarity s is sqrt(-2 area sigma^2 ln s), half the distance at
    which COCO's similarity (with (2 sigma)^2) is s: a corrected keypoint lands at s ** (1 / 4)."""
    detection = person(0)
    detection[NOSE, 0] += shifted_to(similarity, SIGMAS[NOSE])
    (judged,) = judge_keypoints([image_of([person(0)], [detection])], SIGMAS, FLIP)
    assert KINDS[judged.kinds[NOSE]] == kind
    distance = np.hypot(*(judged.corrected[NOSE] - person(0)[NOSE, :2]))
    assert distance == pytest.approx(shifted_to(edge ** 0.25, SIGMAS[NOSE]))


def test_an_inversion_is_corrected_onto_its_own_keypoint_at_the_similarity_it_had():
    detection = person(0)
    detection[[LEFT_WRIST, RIGHT_WRIST]] = detection[[RIGHT_WRIST, LEFT_WRIST]]
    (judged,) = judge_keypoints([image_of([person(0)], [detection])], SIGMAS, FLIP)
    assert KINDS[judged.kinds[LEFT_WRIST]] == "inversion"
    assert np.allclose(judged.corrected[LEFT_WRIST], person(0)[LEFT_WRIST, :2], atol=1e-3)  # it had 1.0


def test_each_correction_helps_and_without_background_errors_ap_is_whole():
    detection = person(0)
    detection[LEFT_WRIST, 0] += shifted_to(0.2, SIGMAS[LEFT_WRIST])
    detection[NOSE, 0] += shifted_to(0.7, SIGMAS[NOSE])
    image = image_of([person(0), person(300)], [person(600), detection], scores=[0.9, 0.8])
    judgements = judge_keypoints([image], SIGMAS, FLIP)
    tables, _ = ap_by_step([image], judgements, SIGMAS, evaluate([image], SIGMAS)[0])
    steps = [values["AP"] for values in tables["all"].values()]
    assert steps == sorted(steps), "no correction lowers AP"
    assert steps[0] < steps[1], "correcting the miss raises AP"
    # one of two people never found: precision 1 up to recall 0.5, 51 of the 101 recall points
    assert tables["all"]["background_fp"]["AP"] == pytest.approx(51 / 101, abs=1e-6)
    assert tables["all"]["false_negatives"]["AP"] == pytest.approx(1.0)


def test_soft_nms_lowers_a_duplicate_and_spares_someone_else():
    keypoints = np.stack([person(0), person(1), person(400)])
    scores = _soft_nms(keypoints, np.array([0.9, 0.8, 0.7]), SIGMAS)
    assert scores[0] == 0.9 and scores[1] < 0.8 * 0.2 and scores[2] == pytest.approx(0.7, abs=1e-6)
