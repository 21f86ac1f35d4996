"""The error taxonomy of Ronchi and Perona (ICCV 2017) and the AP each kind of error costs.

Each detection matched to a person (OKS at least 0.1) has its keypoints judged one by one by
their keypoint similarity ks = exp(-d^2 / (2 area (2 sigma)^2)) to every labelled keypoint of
every person in the image, left and right swapped too:
good (ks > 0.85 on its own keypoint), jitter (0.5 <= ks <= 0.85 there), inversion (best on the
same person's mirrored keypoint, ks >= 0.5), swap (best on another person's, ks >= 0.5), miss
(ks < 0.5 everywhere). Correcting an error moves the keypoint onto its own ground truth, shifted
along x by coco-analyze's distance for the similarity it had (inversion, swap), 0.85 (jitter) or
0.5 (miss): sqrt(-2 area sigma^2 ln s), which with COCO's (2 sigma)^2 lands at s ** (1/4), as the
published analysis does (its numbers stay comparable). The AP after each
correction, applied one after another (miss, swap, inversion, jitter), then with scores made
optimal (the best OKS, rescored by soft NMS), then without background false positives and
without false negatives, says how much AP each kind costs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..evaluate import mean_valid
from .evaluation import (AREA_RANGES, EPSILON, ImageData, Matches, accumulate, evaluate, match_image, oks_matrix,
                         threshold_row)

KINDS = ("good", "jitter", "inversion", "swap", "miss")
CORRECTED = ("miss", "swap", "inversion", "jitter")  # the paper's order of corrections
LOCALIZATION_OKS = 0.1  # a detection this close to a person is judged keypoint by keypoint
GOOD_KS, JITTER_KS = 0.85, 0.5
SOFT_NMS_SPREAD = 0.5  # soft NMS's Gaussian parameter, as in the paper's rescoring


@dataclass
class KeypointJudgement:
    """One detection's keypoints judged against the person it matched."""

    image: int            # index into the images
    detection: int        # index into the image's detections
    person: int           # index into the image's ground truths
    kinds: np.ndarray     # (K,) index into KINDS, -1 where the person's keypoint is not labelled
    similarity: np.ndarray  # (K,) ks to the person's own keypoint (-1 where unlabelled)
    corrected: np.ndarray   # (K, 2) where each keypoint goes when its error is corrected


def judge_keypoints(images: list[ImageData], sigmas, flip) -> list[KeypointJudgement]:
    """The keypoints of every detection matched at OKS LOCALIZATION_OKS (area all)."""
    sigmas = np.asarray(sigmas, float)
    judgements = []
    for index, image in enumerate(images):
        oks = oks_matrix(image.dt_keypoints, image, sigmas)
        matches = match_image(image, oks, AREA_RANGES["all"], thresholds=np.array([LOCALIZATION_OKS]))
        for detection, person in enumerate(matches.dt_match[0]):
            if person >= 0 and not image.gt_ignore[person]:
                judgements.append(_judged(image, index, detection, person, sigmas, np.asarray(flip)))
    return judgements


def _judged(image: ImageData, index: int, detection: int, person: int, sigmas, flip) -> KeypointJudgement:
    """coco-analyze's rows: the matched person first, the others, then all of them mirrored."""
    others = [g for g in range(len(image.gt_ids)) if g != person]
    rows = [person] + others
    truths = image.gt_keypoints[rows]
    mirrored = truths[:, flip]
    candidates = np.concatenate([truths, mirrored])                 # (2P, K, 3)
    areas = np.tile(image.gt_areas[rows], 2)[:, None]
    points = image.dt_keypoints[detection, :, :2]
    distances = ((candidates[..., :2] - points) ** 2).sum(-1)
    ks = np.exp(-distances / (sigmas * 2) ** 2 / (areas + EPSILON) / 2)
    ks = np.where(candidates[..., 2] > 0, ks, -1.0)
    best, where = np.maximum(ks.max(0), 0.0), ks.argmax(0)
    labelled = truths[0, :, 2] > 0
    own, inverted = where == 0, where == len(rows)
    kinds = np.full(len(sigmas), -1)
    kinds[labelled & (best < JITTER_KS)] = KINDS.index("miss")
    found = labelled & (best >= JITTER_KS)
    kinds[found & ~own & ~inverted] = KINDS.index("swap")
    kinds[found & inverted] = KINDS.index("inversion")
    kinds[found & own & (best < GOOD_KS)] = KINDS.index("jitter")
    kinds[found & own & (best > GOOD_KS)] = KINDS.index("good")
    return KeypointJudgement(index, detection, person, kinds, ks[0],
                             _corrected(image, detection, person, kinds, best, sigmas))


def _corrected(image: ImageData, detection: int, person: int, kinds, best, sigmas) -> np.ndarray:
    """coco-analyze's correction: onto the person's keypoint, shifted along x by its distance for
    the similarity the error had (inversion, swap) or for the edge of the next better kind
    (jitter: 0.85, miss: 0.5); see the module docstring."""
    area = image.gt_areas[person]
    target = np.where(kinds == KINDS.index("jitter"), GOOD_KS,
                      np.where(kinds == KINDS.index("miss"), JITTER_KS, np.clip(best, EPSILON, 1 - EPSILON)))
    shift = np.sqrt(-np.log(target) * 2 * area * sigmas ** 2)
    corrected = image.dt_keypoints[detection, :, :2].copy()
    wrong = np.isin(kinds, [KINDS.index(kind) for kind in CORRECTED])
    corrected[wrong, 0] = image.gt_keypoints[person, wrong, 0] + shift[wrong]
    corrected[wrong, 1] = image.gt_keypoints[person, wrong, 1]
    return corrected


def corrected_keypoints(images: list[ImageData], judgements, kinds) -> list[np.ndarray]:
    """Every image's detections with the keypoint errors of `kinds` corrected."""
    keypoints = [image.dt_keypoints.copy() for image in images]
    codes = [KINDS.index(kind) for kind in kinds]
    for judged in judgements:
        wrong = np.isin(judged.kinds, codes)
        keypoints[judged.image][judged.detection, wrong, :2] = judged.corrected[wrong]
    return keypoints


def optimal_scores(images: list[ImageData], keypoints: list[np.ndarray], sigmas) -> list[np.ndarray]:
    """Scores as the paper makes them optimal: each detection's best OKS with a person of its
    image (crowds and people without keypoints left out), then lowered by soft NMS against
    better ones (Gaussian, on OKS between detections)."""
    scores = []
    for image, points in zip(images, keypoints):
        counted = ~image.gt_ignore  # crowds and people without keypoints are nobody to find
        oks = oks_matrix(points, image, sigmas)[:, counted]
        best = oks.max(1) if oks.shape[1] else np.zeros(len(points))
        scores.append(_soft_nms(points, best, sigmas))
    return scores


def _soft_nms(keypoints: np.ndarray, scores: np.ndarray, sigmas) -> np.ndarray:
    variances = (np.asarray(sigmas) * 2) ** 2
    scores = scores.astype(float).copy()
    waiting = list(range(len(scores)))
    extents = np.array([np.ptp(k[:, 0]) * np.ptp(k[:, 1]) for k in keypoints])
    while waiting:
        waiting.sort(key=lambda i: -scores[i])
        kept = waiting.pop(0)
        for other in waiting:
            squared = ((keypoints[other, :, :2] - keypoints[kept, :, :2]) ** 2).sum(1)
            e = squared / variances / (0.5 * (extents[kept] + extents[other]) + EPSILON) / 2
            overlap = np.exp(-e).mean()
            scores[other] *= np.exp(-overlap ** 2 / SOFT_NMS_SPREAD)
    return scores


def ap_by_step(images: list[ImageData], judgements, sigmas, baseline: dict) -> tuple[dict, dict]:
    """AP (.5:.95, .5, .75) per area range as evaluated (`baseline`: the precision per area
    range) and after each cumulative correction, and the final matches (keypoints corrected,
    scores optimal) from which background errors are counted."""
    steps = {"baseline": _ap_table(baseline)}
    for count, kind in enumerate(CORRECTED, start=1):
        keypoints = corrected_keypoints(images, judgements, CORRECTED[:count])
        steps[kind] = _ap_table(evaluate(images, sigmas, dt_keypoints=keypoints)[0])
    scores = optimal_scores(images, keypoints, sigmas)
    precision, _, matches = evaluate(images, sigmas, dt_keypoints=keypoints, scores=scores)
    steps["score"] = _ap_table(precision)
    steps["background_fp"] = _ap_table(_without(matches, false_positives=True))
    steps["false_negatives"] = _ap_table(_without(matches, false_positives=True, false_negatives=True))
    tables = {area: {step: steps[step][area] for step in steps} for area in steps["baseline"]}
    return tables, matches


def _without(matches: dict, false_positives: bool, false_negatives: bool = False) -> dict:
    """Precision per area range with unmatched detections (and unmatched people) ignored."""
    precision = {}
    for area, per_image in matches.items():
        changed = []
        for m in per_image:
            dt_ignore = m.dt_ignore | (m.dt_match < 0) if false_positives else m.dt_ignore
            gt_ignore = m.gt_ignore | (m.gt_match < 0) if false_negatives else m.gt_ignore
            changed.append(Matches(m.dt_match, m.gt_match, dt_ignore, gt_ignore, m.scores, m.oks))
        precision[area] = accumulate(changed)[0]
    return precision


def _ap_table(precision: dict) -> dict:
    fifty, seventy_five = threshold_row(0.5), threshold_row(0.75)
    return {area: {"AP": round(mean_valid(p), 6), "AP50": round(mean_valid(p[fifty]), 6),
                   "AP75": round(mean_valid(p[seventy_five]), 6)} for area, p in precision.items()}
