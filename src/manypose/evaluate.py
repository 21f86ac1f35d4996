"""COCO keypoint evaluation (OKS AP with pycocotools) of a model over an annotation file."""
from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .atomic_files import atomic_write_text
from .data.coco_annotations import annotated_size
from .data.images import ImageReadError, file_orientation, read_annotated_image

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
    stream = estimator.stream(as_annotated(path, coco.imgs[image_id]) for image_id, path in zip(image_ids, paths))
    for image_id, result in tqdm(zip(image_ids, stream), total=len(paths), desc="eval", unit="image",
                                 disable=not progress):
        if result.error is not None:
            failures.append(str(result.error))
        else:
            results.extend(result.poses.to_coco(image_id))
    seconds = time.perf_counter() - start
    return results, failures, seconds / max(len(paths), 1)


def as_annotated(path: Path, image_entry: dict):
    """What the estimator is given for an image: the path, which it reads as displayed, or for
    a photo with an EXIF orientation, its pixels in the orientation its annotations are in (as
    training reads them), so that results are in the annotations' coordinates."""
    if file_orientation(path) == 1:
        return path
    try:
        return read_annotated_image(path, annotated_size(image_entry))
    except ImageReadError:
        return path  # the estimator reads it again and reports why it cannot, with the other failures


def coco_keypoint_stats(coco, results, sigmas=None) -> tuple[dict, str]:
    """pycocotools' keypoint stats and the printed summary; `sigmas` for keypoint sets other
    than COCO's 17."""
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {name: 0.0 for name in STAT_NAMES}, "no detections: every AP is 0\n"
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        evaluation = COCOeval(coco, coco.loadRes(results), "keypoints")
        if sigmas is not None:
            evaluation.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        evaluation.params.imgIds = sorted(coco.getImgIds())
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = {name: float(value) for name, value in zip(STAT_NAMES, evaluation.stats)}
    lines = [line for line in summary.getvalue().splitlines() if "Average" in line]
    return stats, "\n".join(lines) + "\n"


# the levels of CrowdPose's evaluation code, which its published numbers come from (its paper
# says easy below 0.1)
CROWD_LEVELS = {"easy": (0.0, 0.2), "medium": (0.2, 0.8), "hard": (0.8, float("inf"))}
CROWDPOSE_MAX_PEOPLE = 20
CROWDPOSE_AREA_PER_BOX = 0.53  # the share of its box a person covers, in CrowdPose's evaluation


def is_crowdpose(coco) -> bool:
    """CrowdPose files give each image a crowd index (the share of people overlapped by others)."""
    return bool(coco.imgs) and all("crowdIndex" in image for image in coco.imgs.values())


def crowdpose_stats(coco, results, sigmas) -> tuple[dict, str]:
    """CrowdPose's protocol: OKS AP over all sizes, with a person's area taken as 0.53 of its
    box (its files give none), 20 people per image, and AP on the easy, medium and hard images
    by crowd index (< 0.2, 0.2 to 0.8, from 0.8)."""
    use_crowdpose_areas(coco)
    all_images = sorted(coco.getImgIds())
    stats = _crowd_ap(coco, results, sigmas, all_images)
    for level, (low, high) in CROWD_LEVELS.items():
        images = [i for i in all_images if low <= coco.imgs[i]["crowdIndex"] < high]
        stats[f"AP_{level}"] = _crowd_ap(coco, results, sigmas, images)["AP"] if images else float("nan")
    summary = "".join(f" {name:<10} = {value:.3f}\n" for name, value in stats.items())
    return stats, summary


def use_crowdpose_areas(coco) -> None:
    """Every person's area as 0.53 of its box, as CrowdPose's evaluation takes it."""
    for annotation in coco.anns.values():
        annotation["area"] = CROWDPOSE_AREA_PER_BOX * annotation["bbox"][2] * annotation["bbox"][3]


def _crowd_ap(coco, results, sigmas, image_ids) -> dict:
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR": 0.0, "AR50": 0.0, "AR75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(results), "keypoints")
        params = evaluation.params
        params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        params.imgIds, params.maxDets = image_ids, [CROWDPOSE_MAX_PEOPLE]
        params.areaRng, params.areaRngLbl = [[0, 1e10]], ["all"]
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, 0, 0, 0]  # thresholds x recall points
    recall = evaluation.eval["recall"][:, 0, 0, 0]
    return {"AP": mean_valid(precision), "AP50": mean_valid(precision[0]), "AP75": mean_valid(precision[5]),
            "AR": mean_valid(recall), "AR50": mean_valid(recall[:1]), "AR75": mean_valid(recall[5:6])}


def mean_valid(values) -> float:
    """The mean of pycocotools' precision or recall entries, leaving out -1 (no data); -1 if none."""
    values = np.asarray(values)
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0


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
    sigmas = estimator.skeleton.sigmas
    stats, summary = crowdpose_stats(coco, results, sigmas) if is_crowdpose(coco) else \
        coco_keypoint_stats(coco, results, sigmas)
    stats.update(images=len(coco.getImgIds()) - failed_images, failed_images=failed_images,
                 seconds_per_image=seconds_per_image, model=estimator.name, backend=estimator.backend.name,
                 int8=estimator.int8, precision=estimator.backend.precision, input_size=estimator.input_spec.size)
    if stats_output:
        _write_or_report(stats_output, json.dumps(stats, indent=1) + "\n", failures)
    return stats, summary, failures


def _write_or_report(path, text: str, failures: list) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as error:
        failures.append(str(error))
