"""One analysis of a model's results on a COCO keypoint file: every number of the report, as
plain JSON types (`diagnose`), and the images that lose the most."""
from __future__ import annotations

import numpy as np

from ..skeleton import Skeleton
from .errors import CORRECTED, KINDS, ap_by_step, judge_keypoints
from .evaluation import RECALL_POINTS, evaluate, images_from_coco, summary_stats, threshold_row

SIMILARITY_BINS = np.linspace(0.0, 1.0, 11)
SCORE_BINS = np.linspace(0.0, 1.0, 11)
BACKGROUND_OKS = 0.5
VISIBLE_GROUPS = {"1-5": (1, 5), "6-10": (6, 10), "11-15": (11, 15), "16+": (16, 10 ** 6)}
SIZES = {"small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2), "large": (96.0 ** 2, 1e10)}
CURVE_THRESHOLDS = {"all": (0.5, 0.75, 0.95), "medium": (0.5, 0.75), "large": (0.5, 0.75)}
WORST_IMAGES = 12


def diagnose(coco, results: list[dict], skeleton: Skeleton, progress=None) -> dict:
    """The whole analysis; `progress(step)` is called as each step starts."""
    say = progress or (lambda step: None)
    sigmas = np.asarray(skeleton.sigmas, float)
    say("evaluating")
    images = images_from_coco(coco, results, len(skeleton))
    precision, recall, baseline = evaluate(images, sigmas)
    say("judging keypoints")
    judgements = judge_keypoints(images, sigmas, skeleton.flip)
    say("correcting errors")
    error_ap, corrected = ap_by_step(images, judgements, sigmas, precision)
    threshold = threshold_row(BACKGROUND_OKS)
    return {
        "skeleton": skeleton.name, "keypoints": list(skeleton.keypoints), "images": len(images),
        "people": int(sum((~image.gt_ignore).sum() for image in images)),
        "detections": int(sum(len(image.dt_ids) for image in images)),
        "AP": {name: round(value, 6) for name, value in summary_stats(precision, recall).items()},
        "error_ap": error_ap,
        "keypoint_errors": _keypoint_errors(judgements, skeleton),
        "keypoint_similarity": _similarity(judgements, skeleton),
        "background": _background(images, corrected["all"], threshold),
        "pr_curves": _curves(precision),
        "worst_images": _worst(coco, images, baseline["all"], threshold),
    }


def _keypoint_errors(judgements, skeleton: Skeleton) -> dict:
    counts = np.zeros((len(skeleton), len(KINDS)), int)
    with_kind = {kind: 0 for kind in CORRECTED}
    for judged in judgements:
        labelled = judged.kinds >= 0
        np.add.at(counts, (np.flatnonzero(labelled), judged.kinds[labelled]), 1)
        for kind in with_kind:
            with_kind[kind] += int((judged.kinds == KINDS.index(kind)).any())
    return {"totals": {kind: int(counts[:, i].sum()) for i, kind in enumerate(KINDS)},
            "per_keypoint": {name: {kind: int(counts[k, i]) for i, kind in enumerate(KINDS)}
                             for k, name in enumerate(skeleton.keypoints)},
            "detections_with": with_kind}


def _similarity(judgements, skeleton: Skeleton) -> dict:
    """Per keypoint, how the similarities of matched detections to their own person spread."""
    per_keypoint = {}
    for k, name in enumerate(skeleton.keypoints):
        values = np.array([j.similarity[k] for j in judgements if j.similarity[k] >= 0])
        per_keypoint[name] = np.histogram(values, SIMILARITY_BINS)[0].tolist()
    return {"bins": SIMILARITY_BINS.round(3).tolist(), "per_keypoint": per_keypoint}


def _background(images, matches, threshold: int) -> dict:
    """People never found and detections of nobody, at OKS BACKGROUND_OKS after the keypoint and
    score corrections (what is left is not a localization error)."""
    missed_areas, missed_visible, false_scores, false_areas = [], [], [], []
    for image, m in zip(images, matches):
        missed = m.missed(threshold)
        missed_areas += image.gt_areas[missed].tolist()
        missed_visible += (image.gt_keypoints[missed, :, 2] > 0).sum(1).tolist()
        unmatched = m.unmatched(threshold)
        false_scores += image.dt_scores[unmatched].tolist()
        false_areas += image.dt_areas[unmatched].tolist()
    areas, visible = np.array(missed_areas), np.array(missed_visible)
    return {"oks": BACKGROUND_OKS,
            "false_negatives": {
                "total": len(areas),
                "by_size": _by_size(areas),
                "by_visible_keypoints": {name: int(((visible >= low) & (visible <= high)).sum())
                                         for name, (low, high) in VISIBLE_GROUPS.items()}},
            "false_positives": {"total": len(false_scores), "by_size": _by_size(np.array(false_areas)), "by_score": {
                "bins": SCORE_BINS.round(3).tolist(),
                "counts": np.histogram(np.clip(false_scores, 0, 1), SCORE_BINS)[0].tolist()}}}


def _by_size(areas: np.ndarray) -> dict:
    return {name: int(((areas >= low) & (areas < high)).sum()) for name, (low, high) in SIZES.items()}


def _curves(precision: dict) -> dict:
    curves = {"recall": RECALL_POINTS.round(3).tolist()}
    for area, thresholds in CURVE_THRESHOLDS.items():
        curves[area] = {str(t): precision[area][threshold_row(t)].round(6).tolist() for t in thresholds}
    return curves


def _worst(coco, images, matches, threshold: int) -> list[dict]:
    """The images that lose the most at OKS 0.5: people missed plus confident detections of
    nobody (score >= 0.5), then the lowest mean OKS of what was found."""
    ranked = []
    for image, m in zip(images, matches):
        missed = int(m.missed(threshold).sum())
        false = int((m.unmatched(threshold) & (image.dt_scores >= 0.5)).sum())
        found = m.dt_match[threshold] >= 0
        oks = float(m.oks[np.flatnonzero(found), m.dt_match[threshold][found]].mean()) if found.any() else 0.0
        if missed or false:
            ranked.append({"image_id": int(image.image_id), "file_name": coco.imgs[image.image_id].get("file_name", ""),
                           "missed_people": missed, "false_positives": false, "mean_oks": round(oks, 4)})
    ranked.sort(key=lambda entry: (-(entry["missed_people"] + entry["false_positives"]), entry["mean_oks"]))
    return ranked[:WORST_IMAGES]

