"""`manypose analyze` as a function: read the annotations and the results, diagnose, write
summary.json, the plots, the gallery of the worst images and report.html."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..atomic_files import atomic_write_text
from ..data.images import ImageReadError, read_annotated_image
from ..evaluate import EvaluationError, is_crowdpose, load_coco, use_crowdpose_areas
from ..skeleton import BUILTIN, Skeleton
from .diagnosis import diagnose

TRUTH_COLOUR, PREDICTION_COLOUR = (60, 200, 60), (40, 40, 230)  # BGR: green people, red detections
SHOWN_SCORE = 0.2  # detections drawn in the gallery


def analyze(annotations, predictions, output, images=None, progress: bool = True) -> dict:
    """The analysis of `predictions` (a COCO keypoint results file) against `annotations`,
    written into the folder `output`; returns the summary."""
    coco = load_coco(annotations)
    skeleton = skeleton_of(coco, annotations)
    results = read_results(predictions, len(skeleton))
    if is_crowdpose(coco):  # CrowdPose's protocol, as `manypose eval` applies it
        use_crowdpose_areas(coco)
    steps = tqdm(total=3, desc="analyze", unit="step", disable=not progress)

    def advance(step: str) -> None:
        steps.set_postfix_str(step)
        steps.update(0 if step == "evaluating" else 1)

    with steps:
        summary = diagnose(coco, results, skeleton, advance)
        advance("done")
    summary = {"annotations": str(annotations), "predictions": str(predictions), **summary}
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=1) + "\n")
    gallery = worst_images_drawn(coco, results, summary["worst_images"], Path(images), skeleton) if images else None
    from .report import write_report  # matplotlib: only when a report is written

    write_report(summary, output, gallery)
    return summary


def read_results(path, keypoint_count: int) -> list[dict]:
    """A COCO keypoint results file: a list of {image_id, keypoints, score}, each with
    `keypoint_count` keypoints."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{path}: no such predictions file")
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EvaluationError(f"{path}: not a JSON results file ({error})") from None
    count = 3 * keypoint_count
    if not isinstance(results, list) or not all(_is_result(r, count) for r in results):
        raise EvaluationError(f"{path}: expected a COCO keypoint results list: objects with image_id, "
                              f"score and {count} keypoint values (x, y, confidence per keypoint)")
    return results


def _is_result(result, values: int) -> bool:
    return (isinstance(result, dict) and "image_id" in result and isinstance(result.get("score"), (int, float))
            and isinstance(result.get("keypoints"), list) and len(result["keypoints"]) == values)


def skeleton_of(coco, source) -> Skeleton:
    """The keypoint set of the annotations' category: a built-in one when the names are its own
    (its sigmas), else the category's (COCO's sigmas by name, left/right pairs by name)."""
    category = next(iter(coco.cats.values()), None)
    if not category or not category.get("keypoints"):
        raise EvaluationError(f"{source}: no keypoint category to analyse")
    names = tuple(category["keypoints"])
    known = next((skeleton for skeleton in BUILTIN.values() if skeleton.keypoints == names), None)
    return known or Skeleton.from_coco_category(category)


def worst_images_drawn(coco, results, worst: list[dict], folder: Path, skeleton: Skeleton) -> list[dict]:
    """The worst images with their people (green) and the detections scored >= SHOWN_SCORE (red)."""
    drawn = []
    for entry in worst:
        image_entry = coco.imgs[entry["image_id"]]
        try:
            picture = read_annotated_image(folder / image_entry["file_name"],
                                           (image_entry.get("width"), image_entry.get("height")))
        except ImageReadError:
            continue  # a gallery without it; the numbers do not need the pixels
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[entry["image_id"]])):
            _draw_person(picture, annotation["keypoints"], skeleton, TRUTH_COLOUR, visible=lambda v: v > 0)
        for result in results:
            if result["image_id"] == entry["image_id"] and result["score"] >= SHOWN_SCORE:
                _draw_person(picture, result["keypoints"], skeleton, PREDICTION_COLOUR, visible=lambda v: True)
        caption = (f"{entry['missed_people']} people missed, {entry['false_positives']} confident detections of "
                   f"nobody, mean OKS of the found {entry['mean_oks']:.2f}")
        drawn.append({"image": picture, "file_name": image_entry["file_name"], "caption": caption})
    return drawn


def _draw_person(picture: np.ndarray, flat_keypoints, skeleton: Skeleton, colour, visible) -> None:
    points = np.asarray(flat_keypoints, float).reshape(-1, 3)
    thickness = max(1, round(max(picture.shape[:2]) / 400))
    for a, b in skeleton.edges:
        if visible(points[a, 2]) and visible(points[b, 2]):
            cv2.line(picture, _pixel(points[a]), _pixel(points[b]), colour, thickness, cv2.LINE_AA)
    for point in points:
        if visible(point[2]):
            cv2.circle(picture, _pixel(point), thickness + 1, colour, -1, cv2.LINE_AA)


def _pixel(point) -> tuple[int, int]:
    return int(round(point[0])), int(round(point[1]))
