"""Tracking metrics on clips small enough to score by hand; each expected number is worked out in
the comment beside it."""
import math
from dataclasses import astuple

import numpy as np
import pytest

from manypose.tracking_metrics import FrameTracks, clear_mot_counts, matched_pairs, score_tracking, without_ignored

LEFT = [0, 0, 10, 10]
RIGHT = [100, 0, 110, 10]
FAR = [300, 300, 310, 310]


def frames(*people_per_frame):
    """FrameTracks from frames given as {id: box}."""
    return [FrameTracks(list(people), list(people.values())) for people in people_per_frame]


def two_people(length, left_id=1, right_id=2):
    return frames(*[{left_id: LEFT, right_id: RIGHT}] * length)


def test_perfect_tracking_scores_one_whatever_the_ids_are_called():
    truth = two_people(5)
    scores = score_tracking(truth, two_people(5, left_id=7, right_id=9))
    assert (scores.misses, scores.false_positives, scores.id_switches) == (0, 0, 0)
    assert scores.mota == scores.idf1 == scores.idp == scores.idr == 1.0
    # every pair overlaps with IoU 1, above each threshold: DetA = AssA = HOTA = 1
    assert scores.hota == pytest.approx(1.0) and scores.deta == pytest.approx(1.0) and scores.assa == pytest.approx(1.0)
    assert (scores.people, scores.true_ids, scores.predicted_ids) == (10, 2, 2)


def test_one_swap_mid_clip():
    truth = two_people(10)
    predicted = two_people(5) + two_people(5, left_id=2, right_id=1)
    scores = score_tracking(truth, predicted)
    # frame 5: left now paired with 2 (was 1), right with 1 (was 2): two switches
    assert scores.id_switches == 2
    # MOTA = 1 - 2 / 20 people
    assert scores.mota == pytest.approx(0.9)
    # each true id overlaps each predicted id 5 frames: the best pairing keeps 5 + 5 = 10;
    # IDF1 = 2 * 10 / (20 + 20), IDP = IDR = 10 / 20
    assert scores.idf1 == pytest.approx(0.5) and scores.idp == pytest.approx(0.5) and scores.idr == pytest.approx(0.5)
    # all 20 detections match (DetA 1); each pair is together 5 frames of the 10 + 10 its ids
    # are present: 5 / (10 + 10 - 5) = 1/3 for every true positive; HOTA = sqrt(1 * 1/3)
    assert scores.deta == pytest.approx(1.0)
    assert scores.assa == pytest.approx(1 / 3)
    assert scores.hota == pytest.approx(math.sqrt(1 / 3))


def test_missed_frames_keeping_the_id():
    truth = frames(*[{1: LEFT}] * 10)
    predicted = frames(*[{5: LEFT}] * 3, {}, {}, *[{5: LEFT}] * 5)
    scores = score_tracking(truth, predicted)
    assert (scores.misses, scores.false_positives, scores.id_switches) == (2, 0, 0)
    # MOTA = 1 - 2 / 10
    assert scores.mota == pytest.approx(0.8)
    # 8 identity true positives: IDF1 = 16 / (10 + 8), IDP = 8 / 8, IDR = 8 / 10
    assert scores.idf1 == pytest.approx(16 / 18) and scores.idp == 1.0 and scores.idr == pytest.approx(0.8)
    # DetA = 8 / (8 + 2 misses); AssA = 8 / (10 + 8 - 8); HOTA = sqrt(0.8 * 0.8)
    assert scores.deta == pytest.approx(0.8) and scores.assa == pytest.approx(0.8) and scores.hota == pytest.approx(0.8)


def test_missed_frames_then_a_new_id():
    truth = frames(*[{1: LEFT}] * 10)
    predicted = frames(*[{5: LEFT}] * 3, {}, {}, *[{6: LEFT}] * 5)
    scores = score_tracking(truth, predicted)
    # the person comes back as 6, last paired with 5: one switch, even after a gap
    assert (scores.misses, scores.false_positives, scores.id_switches) == (2, 0, 1)
    # MOTA = 1 - (2 + 1) / 10
    assert scores.mota == pytest.approx(0.7)
    # the best single partner is 6 (5 frames): IDF1 = 2 * 5 / (10 + 8)
    assert scores.idf1 == pytest.approx(10 / 18)
    # AssA: 3 true positives of pair (1, 5) score 3 / (10 + 3 - 3), 5 of (1, 6) score 5 / (10 + 5 - 5):
    # (3 * 0.3 + 5 * 0.5) / 8 = 3.4 / 8; DetA 0.8
    assert scores.assa == pytest.approx(3.4 / 8) and scores.hota == pytest.approx(math.sqrt(0.8 * 3.4 / 8))


def test_false_positives():
    truth = frames(*[{1: LEFT}] * 4)
    predicted = frames({1: LEFT, 5: FAR}, {1: LEFT, 5: FAR}, {1: LEFT}, {1: LEFT})
    scores = score_tracking(truth, predicted)
    assert (scores.misses, scores.false_positives, scores.id_switches) == (0, 2, 0)
    # MOTA = 1 - 2 / 4; IDF1 = 2 * 4 / (4 + 6); IDP = 4 / 6, IDR = 4 / 4
    assert scores.mota == pytest.approx(0.5)
    assert scores.idf1 == pytest.approx(0.8) and scores.idp == pytest.approx(4 / 6) and scores.idr == 1.0
    # DetA = 4 / (4 + 2); AssA = 4 / (4 + 4 - 4) = 1
    assert scores.deta == pytest.approx(4 / 6) and scores.assa == pytest.approx(1.0)
    assert scores.predicted_ids == 2


def test_iou_of_exactly_the_threshold_matches_and_just_below_does_not():
    truth = frames({1: [0, 0, 10, 10]}, {1: [0, 0, 10, 10]})
    # IoU 50 / 100 = 0.5, then 49 / 100
    predicted = frames({1: [0, 0, 10, 5]}, {1: [0, 0, 10, 4.9]})
    assert clear_mot_counts(truth, predicted) == (1, 1, 0)


def test_hota_averages_over_its_thresholds():
    truth = frames(*[{1: [0, 0, 10, 10]}] * 4)
    predicted = frames(*[{1: [0, 0, 10, 5]}] * 4)
    # IoU 0.5 passes thresholds 0.05 .. 0.50 (10 of 19), where DetA = AssA = 1; 0 above
    scores = score_tracking(truth, predicted)
    assert scores.hota == pytest.approx(10 / 19) and scores.deta == pytest.approx(10 / 19)


def test_an_earlier_correspondence_is_kept_over_a_better_overlap():
    truth = frames({1: LEFT}, {1: LEFT})
    # frame 1: id 5 still overlaps by IoU 0.6, newcomer 6 by 0.9
    predicted = frames({5: LEFT}, {5: [0, 0, 10, 6], 6: [0, 0, 10, 9]})
    # CLEAR MOT keeps 5 (no switch) and counts 6 as a false positive
    assert clear_mot_counts(truth, predicted) == (0, 1, 0)


def test_a_person_taken_over_by_another_id_switches_once_when_the_old_match_fails():
    truth = frames({1: LEFT}, {1: LEFT}, {1: LEFT})
    predicted = frames({5: LEFT}, {5: [0, 0, 10, 4], 6: LEFT}, {6: LEFT})
    # frame 1: 5 overlaps by 0.4 only, so 6 takes the person (1 switch) and 5 is a false positive
    assert clear_mot_counts(truth, predicted) == (0, 1, 1)


def test_empty_clips():
    nothing = frames({}, {}, {})
    scores = score_tracking(nothing, nothing)
    assert (scores.people, scores.misses, scores.false_positives, scores.id_switches) == (0, 0, 0, 0)
    # no people to find: every ratio is undefined
    assert all(math.isnan(value) for value in (scores.mota, scores.idf1, scores.idp, scores.idr, scores.hota))
    assert score_tracking([], []).people == 0


def test_predictions_on_an_empty_clip_are_all_false_positives():
    scores = score_tracking(frames({}, {}), frames({3: LEFT}, {3: LEFT}))
    assert (scores.false_positives, scores.misses) == (2, 0)
    # IDF1 = 0 / (0 + 2); IDP = 0 / 2; MOTA has no people to divide by
    assert scores.idf1 == 0.0 and scores.idp == 0.0 and math.isnan(scores.mota)


def test_nothing_predicted_misses_everyone():
    scores = score_tracking(two_people(3), frames({}, {}, {}))
    # MOTA = 1 - 6 / 6; IDF1 = 0 / (6 + 0); HOTA: DetA 0
    assert (scores.misses, scores.mota, scores.idf1, scores.hota) == (6, 0.0, 0.0, 0.0)


def test_clips_of_different_lengths_and_repeated_ids_are_refused():
    with pytest.raises(ValueError, match="2 true frames but 1 predicted"):
        score_tracking(two_people(2), two_people(1))
    with pytest.raises(ValueError, match="twice"):
        FrameTracks([1, 1], [LEFT, RIGHT])
    with pytest.raises(ValueError, match="2 ids for 1 boxes"):
        FrameTracks([1, 2], [LEFT])


def test_scores_do_not_depend_on_the_order_of_people_in_a_frame():
    rng = np.random.default_rng(0)
    truth, predicted = [], []
    for _ in range(20):
        boxes = rng.uniform(0, 50, (4, 2)).repeat(2, axis=1)[:, [0, 2, 1, 3]] + [0, 0, 20, 20]
        truth.append(FrameTracks([1, 2, 3, 4], boxes))
        predicted.append(FrameTracks(rng.permutation(4) + 10, boxes + rng.normal(0, 2, boxes.shape)))
    reversed_order = [FrameTracks(f.ids[::-1], f.boxes[::-1]) for f in predicted]
    assert astuple(score_tracking(truth, predicted)) == pytest.approx(astuple(score_tracking(truth, reversed_order)))


def test_predictions_on_ignored_people_are_dropped_unless_a_kept_person_overlaps_more():
    truth = FrameTracks([1], [LEFT])
    ignored = [[2, 0, 12, 10], RIGHT]
    predicted = FrameTracks([5, 6, 7], [LEFT, RIGHT, FAR])
    # 5 overlaps the ignored [2, 0, 12, 10] by 80 / 120 but person 1 by 1: kept; 6 sits on the
    # ignored RIGHT box: dropped; 7 overlaps nothing: kept (a false positive)
    assert without_ignored(predicted, ignored, truth).ids.tolist() == [5, 7]
    assert without_ignored(predicted, [], truth).ids.tolist() == [5, 6, 7]


def test_matched_pairs_go_by_overlap_and_order_not_ids():
    truth = FrameTracks([1, 2], [[0, 0, 10, 10], [6, 0, 16, 10]])
    predicted = FrameTracks([8, 9], [[0, 0, 10, 10], [4, 0, 14, 10]])
    # IoU of 1 with 8: 1, with 9: 60 / 140; of 2 with 8: 40 / 160, with 9: 80 / 120
    assert matched_pairs(truth, predicted) == [(0, 0), (1, 1)]
    assert matched_pairs(truth, FrameTracks([9, 8], predicted.boxes[::-1])) == [(0, 1), (1, 0)]
    # at a threshold of 0.7 only the exact pair is left
    assert matched_pairs(truth, predicted, iou_threshold=0.7) == [(0, 0)]
