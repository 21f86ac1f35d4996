"""COCO keypoint evaluation (OKS AP with pycocotools) of a model over an annotation file."""
from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

from tqdm import tqdm

from .atomic_files import atomic_write_text

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
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise EvaluationError(f"{path}: not a COCO annotation file ({error})") from None


def predict_dataset(estimator, coco, images_dir, progress: bool = True):
    """COCO results for every image of the annotation file, the failures, and seconds per image."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise EvaluationError(f"{images_dir}: no such image directory")
    image_ids = sorted(coco.getImgIds())
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
    """Stats (AP, AP50, ..., images, seconds_per_image), the summary text and any failures."""
    coco = load_coco(annotations)
    results, failures, seconds_per_image = predict_dataset(estimator, coco, images_dir, progress)
    if json_output:
        atomic_write_text(json_output, json.dumps(results) + "\n")
    stats, summary = coco_keypoint_stats(coco, results)
    stats.update(images=len(coco.getImgIds()) - len(failures), failed_images=len(failures),
                 seconds_per_image=seconds_per_image, model=estimator.name)
    if stats_output:
        atomic_write_text(stats_output, json.dumps(stats, indent=1) + "\n")
    return stats, summary, failures
