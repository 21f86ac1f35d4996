"""The jitter and identity figures of benchmarks/tracking_identity.py on hand-made frames."""
import math
import sys

from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))  # the benchmarks import each other by name
import tracking_identity  # noqa: E402

BOX = [0.0, 0.0, 10.0, 20.0]


def truth_frame(x, moving=False, visibility=1.0):
    keypoints = [[x, 10.0, 2]] + [[0.0, 0.0, 0]] * 16  # the nose alone is labelled
    return {"people": [{"id": 1, "box": BOX, "keypoints": keypoints, "visibility": visibility, "moving": moving}]}


def guess(x, confidence=0.9, track_id=3):
    return [{"id": track_id, "box": BOX, "keypoints": [[x, 10.0, confidence]] + [[0.0, 0.0, 0.0]] * 16}]


def test_a_still_keypoint_that_flickers_one_pixel():
    truth = [truth_frame(5.0)] * 4
    figures = tracking_identity.jitter(truth, [guess(5), guess(6), guess(5), guess(6)])
    # windows (5, 6, 5) and (6, 5, 6): |5 - 12 + 5| = |6 - 10 + 6| = 2; errors at the middles 1 and 0
    assert figures["still"] == {"acceleration": 2.0, "truth_acceleration": 0.0, "position_error": 0.5, "samples": 2}
    assert figures["walking"]["samples"] == 0 and math.isnan(figures["walking"]["acceleration"])


def test_windows_with_an_unconfident_or_moving_frame_are_left_out_of_still():
    truth = [truth_frame(5.0), truth_frame(5.0), truth_frame(5.0), truth_frame(8.0, moving=True)]
    predicted = [guess(5), guess(6, confidence=0.2), guess(5), guess(8)]
    figures = tracking_identity.jitter(truth, predicted)
    # window 1 holds the unconfident frame; window 2 (frames 1-3) too; nothing is left
    assert figures["still"]["samples"] == figures["walking"]["samples"] == 0
    figures = tracking_identity.jitter(truth, [guess(5), guess(5), guess(5), guess(8)])
    # window 1 (5, 5, 5) is still; window 2 (5, 5, 8) walks at its end: |8 - 10 + 5| = 3, truth the same
    assert figures["still"]["acceleration"] == 0.0 and figures["walking"]["acceleration"] == 3.0
    assert figures["walking"]["truth_acceleration"] == 3.0


def test_a_mostly_hidden_person_counts_neither_as_missed_nor_as_found():
    truth = [truth_frame(5.0), truth_frame(5.0, visibility=0.1)]
    scores = tracking_identity.identity_scores(truth, [guess(5), guess(5)])
    # frame 1's person is left out and the guess on it dropped: 1 person, 1 match
    assert (scores["people"], scores["misses"], scores["false_positives"], scores["idf1"]) == (1, 0, 0, 1.0)
