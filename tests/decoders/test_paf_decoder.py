"""The PAF decoder on synthetic fields, and its assembly on synthetic peaks, with known answers."""
import numpy as np
import pytest

from manypose.decoders.paf import PafDecoder
from manypose.heads.paf import OPENPOSE18_LIMBS
from manypose.encoders import PafEncoder
from manypose.skeleton import OPENPOSE18


def standing_person(x0: float, y0: float, scale: float = 1.0) -> np.ndarray:
    """OpenPose-18 keypoints (x, y, v) of a simple upright figure, in input pixels."""
    layout = {"nose": (0, 0), "neck": (0, 20), "right_shoulder": (-15, 20), "right_elbow": (-20, 45),
              "right_wrist": (-22, 70), "left_shoulder": (15, 20), "left_elbow": (20, 45), "left_wrist": (22, 70),
              "right_hip": (-10, 75), "right_knee": (-12, 110), "right_ankle": (-12, 145), "left_hip": (10, 75),
              "left_knee": (12, 110), "left_ankle": (12, 145), "right_eye": (-5, -5), "left_eye": (5, -5),
              "right_ear": (-10, -2), "left_ear": (10, -2)}
    person = np.zeros((18, 3), np.float32)
    for name, (dx, dy) in layout.items():
        person[OPENPOSE18.index(name)] = (x0 + dx * scale, y0 + dy * scale, 2)
    return person


def test_two_people_are_found_with_their_keypoints():
    people = np.stack([standing_person(100, 40, 1.2), standing_person(260, 60, 1.0)])
    heatmaps, pafs = PafEncoder(OPENPOSE18_LIMBS)(people, 30, 48)
    boxes, scores, keypoints = PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0)(np.concatenate((heatmaps, pafs)))
    assert len(keypoints) == 2 and keypoints.shape[1:] == (18, 3)
    for person in people[:, :, :2]:
        match = min(keypoints, key=lambda k: np.abs(k[:, :2] - person).mean())
        assert np.abs(match[:, :2] - person).max() < 4.0
    assert (scores > 0.3).all() and (scores <= 1).all() and (boxes[:, 2] > boxes[:, 0]).all()


def test_flat_peaks_are_one_candidate():
    heatmaps = np.zeros((19, 10, 10), np.float32)
    heatmaps[1, 4, 4:6] = 1.0  # two equal cells side by side
    decoder = PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0)
    peaks = decoder.find_peaks(decoder.upsampled(np.concatenate((heatmaps, np.zeros((38, 10, 10), np.float32))))[0])
    assert len(peaks[1]) == 1


def test_no_people_in_empty_fields():
    boxes, scores, keypoints = PafDecoder(OPENPOSE18_LIMBS)(np.zeros((57, 20, 20), np.float32))
    assert keypoints.shape == (0, 18, 3) and scores.shape == (0,) and boxes.shape == (0, 4)


def test_too_few_parts_are_dropped():
    person = np.zeros((1, 18, 3), np.float32)
    person[0, :2] = standing_person(80, 40)[:2]  # nose and neck only
    heatmaps, pafs = PafEncoder(OPENPOSE18_LIMBS)(person, 30, 30)
    assert len(PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0, min_parts=4)(np.concatenate((heatmaps, pafs)))[2]) == 0
    assert len(PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0, min_parts=2, min_person_score=0)(np.concatenate((heatmaps, pafs)))[2]) == 1


def test_with_one_part_enough_every_unjoined_part_is_a_person():
    people = np.zeros((3, 18, 3), np.float32)
    people[0, :2] = standing_person(80, 40)[:2]   # nose and neck: one limb joins them
    people[1, 4] = (200, 150, 2)                  # two lone right wrists
    people[2, 4] = (120, 200, 2)
    people[1, 13] = (40, 200, 2)                  # and a lone left ankle
    heatmaps, pafs = PafEncoder(OPENPOSE18_LIMBS)(people, 30, 30)
    fields = np.concatenate((heatmaps, pafs))
    _, scores, keypoints = PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0, min_parts=1, min_person_score=0)(fields)
    seen = keypoints[..., 2] > 0
    assert len(keypoints) == 4 and sorted(seen.sum(axis=1).tolist()) == [1, 1, 1, 2]
    lone = seen.sum(axis=1) == 1
    assert (scores[lone] > 0.4).all()  # a full peak, over the per-part total of up to 2
    found = sorted((int(np.argmax(k[:, 2])), *np.round(k[np.argmax(k[:, 2]), :2]).tolist()) for k in keypoints[lone])
    expected = sorted((part, *people[p, part, :2].tolist()) for p, part in ((1, 4), (2, 4), (1, 13)))
    assert [f[0] for f in found] == [e[0] for e in expected]
    np.testing.assert_allclose(np.array([f[1:] for f in found]), np.array([e[1:] for e in expected]), atol=4)
    assert len(PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0, min_parts=2, min_person_score=0)(fields)[2]) == 1


# assembly alone: limbs as (part a, part b, field channels), the channels unused there
CHAIN = ((0, 1, 0, 1), (2, 3, 2, 3), (1, 2, 4, 5))


def one_peak_per_part(parts: int, candidates: int = 1, score: float = 0.5) -> list:
    return [np.array([(10 * i, 10 * part, score) for i in range(candidates)], np.float32) for part in range(parts)]


def test_a_limb_joining_two_people_that_agree_merges_them_and_their_totals():
    decoder = PafDecoder(CHAIN, num_parts=4, min_parts=2, min_person_score=0)
    # limbs 0 and 1 start two people (parts 0-1 and 2-3); limb 2 joins part 1 of the first to part 2 of the second
    connections = [np.array([(0, 0, 0.25)], np.float32), np.array([(0, 0, 0.25)], np.float32),
                   np.array([(0, 0, 0.125)], np.float32)]
    people, scores = decoder.assemble(one_peak_per_part(4), connections)
    np.testing.assert_array_equal(people, [[0, 0, 0, 0]])
    total = 4 * 0.5 + 0.25 + 0.25 + 0.125  # every peak and every limb once
    np.testing.assert_allclose(scores, [(total / 4) / (1 + total / 4)], rtol=1e-6)


@pytest.mark.parametrize("first, second", [(0, 1), (1, 0)])  # candidate 0 on either side
def test_a_limb_joining_two_people_that_disagree_on_a_part_leaves_them_apart(first, second):
    limbs = ((0, 1, 0, 1), (0, 2, 2, 3), (1, 2, 4, 5))
    decoder = PafDecoder(limbs, num_parts=3, min_parts=2, min_person_score=0)
    f, s = first, second
    connections = [np.array([(f, f, 0.5), (s, s, 0.5)], np.float32),  # people [f, f, -] and [s, s, -]
                   np.array([(s, f, 0.5)], np.float32),                # the second gets part 2: [s, s, f]
                   np.array([(f, f, 0.5)], np.float32)]                # part 1 of the first, part 2 of the second
    people, _ = decoder.assemble(one_peak_per_part(3, candidates=2), connections)
    assert sorted(map(tuple, people.tolist())) == sorted([(f, f, -1), (s, s, f)])


def test_unjoined_parts_become_people_missing_every_other_part():
    decoder = PafDecoder(CHAIN, num_parts=4, min_parts=1, min_person_score=0)
    peaks = [np.array([(5, 5, 0.5)], np.float32)] + [np.zeros((0, 3), np.float32)] * 3
    people, scores = decoder.assemble(peaks, [np.zeros((0, 3), np.float32)] * 3)
    np.testing.assert_array_equal(people, [[0, -1, -1, -1]])  # -1: missing, as assemble documents
    np.testing.assert_allclose(scores, [0.5 / 1.5])
