"""Greedy grouping along guiding offsets, on fields made by the encoder (what a network that
learnt them outputs) and on fields edited by hand."""
from __future__ import annotations

import numpy as np
import pytest

from manypose.decoders.guiding_offsets import GuidingOffsetDecoder
from manypose.encoders.guiding_offsets import GuidingOffsetEncoder
from manypose.heads.guiding_offsets import GuidingOffsetsHead
from manypose.skeleton import COCO17

HEAD = GuidingOffsetsHead(COCO17)


def person(x: float, y: float, height: float = 120.0) -> np.ndarray:
    """A standing person (17, 3), its nose at (x, y)."""
    layout = np.array([(0, 0), (-3, -3), (3, -3), (-6, 0), (6, 0), (-15, 20), (15, 20), (-20, 45), (20, 45),
                       (-22, 70), (22, 70), (-10, 70), (10, 70), (-10, 100), (10, 100), (-10, 130), (10, 130)])
    points = np.array([x, y]) + layout * height / 130
    return np.concatenate((points, np.full((17, 1), 2.0)), axis=1)


def decode(people, rows=64, cols=64, **options):
    fields = GuidingOffsetEncoder(HEAD)(np.array(people), rows, cols).as_outputs()
    decoder = GuidingOffsetDecoder(HEAD.limbs, 17, HEAD.stride, **{"min_person_score": 0.0, **options})
    return decoder(fields)


def matched(found, truth):
    """For each true person, the largest keypoint error of the found person nearest it."""
    errors = np.abs(found[:, None, :, :2] - truth[None, :, :, :2]).max(axis=(2, 3))
    return errors.min(axis=0)


def test_people_side_by_side_come_back_whole_where_they_were():
    truth = np.array([person(40, 20), person(100, 30), person(170, 25, height=90)])
    boxes, scores, keypoints = decode(truth)
    assert len(keypoints) == 3
    assert matched(keypoints, truth).max() < 1e-3
    assert (scores > 0.95).all()  # keypoints off their cells' centres score a little under 1
    np.testing.assert_allclose(boxes[np.argsort(keypoints[:, 0, 0])], [
        (*p[:, :2].min(axis=0), *p[:, :2].max(axis=0)) for p in truth[np.argsort(truth[:, 0, 0])]], atol=1e-3)


def test_overlapping_people_are_told_apart_by_where_their_offsets_lead():
    truth = np.array([person(80, 20), person(96, 40)])  # limbs interleave
    _, _, keypoints = decode(truth)
    assert len(keypoints) == 2 and matched(keypoints, truth).max() < 1e-3


def test_an_offset_that_leads_nowhere_splits_the_person_at_that_limb():
    truth = person(100, 20)
    fields = GuidingOffsetEncoder(HEAD)(truth[None], 64, 64).as_outputs()
    hip_to_hip = HEAD.limbs.index((11, 12))
    shoulder_to_hip = [HEAD.limbs.index(limb) for limb in ((5, 11), (6, 12))]
    for limb in [hip_to_hip, *shoulder_to_hip]:
        fields[51 + 2 * limb:51 + 2 * limb + 2] = 40.0  # every cell points far away
    _, _, keypoints = GuidingOffsetDecoder(HEAD.limbs, 17, 4, min_person_score=0.0)(fields)
    found = [set(np.flatnonzero(k[:, 2] > 0)) for k in keypoints]
    assert sorted(map(sorted, found)) == [list(range(11)), [11, 13, 15], [12, 14, 16]]


def test_weak_peaks_are_not_keypoints_and_thresholds_hold():
    truth = np.array([person(60, 20), person(160, 20)])
    fields = GuidingOffsetEncoder(HEAD)(truth, 64, 64).as_outputs()
    fields[:17, :, 30:] *= 0.04  # the second person's heatmaps below the peak threshold
    decoder = GuidingOffsetDecoder(HEAD.limbs, 17, 4, min_person_score=0.0)
    _, _, keypoints = decoder(fields)
    assert len(keypoints) == 1 and matched(keypoints, truth[:1]).max() < 1e-3
    assert len(GuidingOffsetDecoder(HEAD.limbs, 17, 4, min_person_score=0.0, max_people=1)(
        GuidingOffsetEncoder(HEAD)(truth, 64, 64).as_outputs())[1]) == 1


def test_at_most_max_candidates_per_keypoint_are_read():
    truth = np.array([person(20 + 30 * i, 20, height=60) for i in range(8)])
    _, _, keypoints = decode(truth, max_candidates=5)
    assert (keypoints[..., 2] > 0).sum(axis=0).max() == 5
    assert len(decode(truth)[2]) == 8


def test_empty_and_flat_fields_give_no_people():
    for fields in (np.zeros((HEAD.channels, 16, 16), np.float32), np.zeros((HEAD.channels, 0, 0), np.float32)):
        boxes, scores, keypoints = GuidingOffsetDecoder(HEAD.limbs, 17, 4)(fields)
        assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, 17, 3)
