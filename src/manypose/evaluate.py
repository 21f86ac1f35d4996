"""COCO keypoint evaluation (OKS AP with pycocotools) of a model over an annotation file."""
from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

from tqdm import tqdm

from .atomic_files import atomic_write_text

PERSON_CATEGORY = 1  # the category poses are reported as (see Poses.to_coco)
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


class EvaluationError(ValueError):
    pass


def load_coco(annotations):
    from pycocotools.coco import COCO

    path = Path(annotations)
    if not path.is_file():
        raise EvaluationError(f"{path}: no such annotation file")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError, AssertionError) as error:
        raise EvaluationError(f"{path}: not a COCO annotation file ({error})") from None


def check_keypoint_set(coco, estimator, source) -> None:
    """The annotations' person category must have the model's number of keypoints."""
    category = coco.cats.get(PERSON_CATEGORY)
    if not isinstance(category, dict) or not isinstance(category.get("keypoints"), list):
        raise EvaluationError(f"{source}: no keypoint category with id {PERSON_CATEGORY} to evaluate against")
    if len(category["keypoints"]) != len(estimator.skeleton):
        raise EvaluationError(f"{source}: its keypoint set has {len(category['keypoints'])} keypoints, the "
                              f"model {estimator.name} gives {len(estimator.skeleton)} ({estimator.skeleton.name})")


def predict_dataset(estimator, coco, images_dir, progress: bool = True):
    """COCO results for every image of the annotation file, the failures, and seconds per image."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise EvaluationError(f"{images_dir}: no such image directory")
    image_ids = sorted(coco.getImgIds())
    missing = [image_id for image_id in image_ids if not isinstance(coco.imgs[image_id].get("file_name"), str)]
    if missing:
        raise EvaluationError(f"image {missing[0]} of the annotations has no file_name")
    paths = [images_dir / coco.imgs[image_id]["file_name"] for image_id in image_ids]
    results, failures = [], []
    start = time.perf_counter()  # file to poses: reading and decoding the images counts
    stream = estimator.stream(paths)
    for image_id, result in tqdm(zip(image_ids, stream), total=len(paths), desc="eval", unit="image",
                                 disable=not progress):
        if result.error is not None:
            failures.append(str(result.error))
        else:
            results.extend(result.poses.to_coco(image_id))
    seconds = time.perf_counter() - start
    return results, failures, seconds / max(len(paths), 1)


def coco_keypoint_stats(coco, results) -> tuple[dict, str]:
    """pycocotools' keypoint stats and the printed summary."""
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {name: 0.0 for name in STAT_NAMES}, "no detections: every AP is 0\n"
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        evaluation = COCOeval(coco, coco.loadRes(results), "keypoints")
        evaluation.params.imgIds = sorted(coco.getImgIds())
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = {name: float(value) for name, value in zip(STAT_NAMES, evaluation.stats)}
    lines = [line for line in summary.getvalue().splitlines() if "Average" in line]
    return stats, "\n".join(lines) + "\n"


def evaluate(estimator, annotations, images_dir, json_output=None, stats_output=None,
             progress: bool = True) -> tuple[dict, str, list[str]]:
    """Stats (AP, AP50, ..., images, seconds_per_image), the summary text and any failures
    (images that could not be read, outputs that could not be written: the stats are returned
    all the same)."""
    coco = load_coco(annotations)
    check_keypoint_set(coco, estimator, annotations)
    results, failures, seconds_per_image = predict_dataset(estimator, coco, images_dir, progress)
    failed_images = len(failures)
    if json_output:
        _write_or_report(json_output, json.dumps(results) + "\n", failures)
    stats, summary = coco_keypoint_stats(coco, results)
    stats.update(images=len(coco.getImgIds()) - failed_images, failed_images=failed_images,
                 seconds_per_image=seconds_per_image, model=estimator.name, backend=estimator.backend.name,
                 int8=estimator.int8, input_size=estimator.input_spec.size)
    if stats_output:
        _write_or_report(stats_output, json.dumps(stats, indent=1) + "\n", failures)
    return stats, summary, failures


def _write_or_report(path, text: str, failures: list) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as error:
        failures.append(str(error))
