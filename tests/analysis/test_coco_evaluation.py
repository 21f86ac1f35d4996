"""The analysis' own COCO keypoint evaluation gives pycocotools' numbers exactly, on the dev and
train annotations with results of every kind: near and far, crowds, boxes or none, ties."""
import contextlib
import copy
import io

import numpy as np
import pytest
from conftest import shared_path
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from manypose.analysis.evaluation import evaluate, images_from_coco, summary_stats
from manypose.skeleton import COCO17

ANNOTATION_FILES = ("person_keypoints_val2017.json", "person_keypoints_train2017.json")


@pytest.fixture(scope="module", params=ANNOTATION_FILES)
def coco(request):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(shared_path(f"data/coco-mini/annotations/{request.param}")))


def pycocotools_stats(coco, results) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return list(evaluation.stats)


def results_near_people(coco, seed: int, with_boxes: bool) -> list[dict]:
    """Per person, often a detection at a random distance (some collapsed on its box centre),
    plus detections of nobody; scores with ties."""
    rng = np.random.default_rng(seed)
    results = []
    for annotation in coco.anns.values():
        if rng.random() < 0.2:
            continue
        keypoints = np.array(annotation["keypoints"], float).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0, np.sqrt(annotation["area"]) * rng.uniform(0.02, 0.3), (17, 2))
        if rng.random() < 0.3:
            x, y, w, h = annotation["bbox"]
            keypoints[:, :2] = (x + w / 2, y + h / 2) + rng.normal(0, 5, (17, 2))
        results.append(_result(annotation["image_id"], keypoints, rng, with_boxes))
    for image_id in coco.getImgIds():
        for _ in range(rng.integers(0, 4)):
            points = rng.uniform(0, 400, 2) + rng.normal(0, 30, (17, 2))
            results.append(_result(image_id, np.concatenate([points, np.ones((17, 1))], 1), rng, with_boxes))
    return results


def _result(image_id, keypoints, rng, with_boxes: bool) -> dict:
    keypoints[:, 2] = rng.random(len(keypoints))
    result = {"image_id": image_id, "category_id": 1, "keypoints": keypoints.ravel().tolist(),
              "score": float(rng.choice([rng.random(), 0.5]))}  # many exact ties at 0.5
    if with_boxes:
        low, high = keypoints[:, :2].min(0), keypoints[:, :2].max(0)
        result["bbox"] = [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])]
    return result


@pytest.mark.parametrize("with_boxes", [True, False], ids=["boxes", "keypoints only"])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_stat_equals_pycocotools(coco, seed, with_boxes):
    results = results_near_people(coco, seed, with_boxes)
    precision, recall, _ = evaluate(images_from_coco(coco, results, 17), np.array(COCO17.sigmas))
    ours = list(summary_stats(precision, recall).values())
    assert ours == pytest.approx(pycocotools_stats(coco, results), abs=1e-12)


def test_more_than_twenty_detections_an_image_keep_the_twenty_best(coco):
    results = results_near_people(coco, 2, True)
    first = sorted(coco.getImgIds())[0]
    rng = np.random.default_rng(3)
    for _ in range(30):
        points = rng.uniform(0, 300, (17, 2))
        results.append(_result(first, np.concatenate([points, np.ones((17, 1))], 1), rng, True))
    precision, recall, _ = evaluate(images_from_coco(coco, results, 17), np.array(COCO17.sigmas))
    assert list(summary_stats(precision, recall).values()) == pytest.approx(pycocotools_stats(coco, results), abs=1e-12)


def test_no_results_give_no_precision():
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(shared_path("data/coco-mini/annotations/person_keypoints_val2017.json")))
    precision, recall, _ = evaluate(images_from_coco(coco, [], 17), np.array(COCO17.sigmas))
    assert summary_stats(precision, recall)["AP"] == 0.0 and summary_stats(precision, recall)["AR"] == 0.0
