"""The PAF decoder on synthetic fields, and its assembly on synthetic peaks, with known answers."""
import numpy as np
import pytest

from manypose.decoders.paf import PafDecoder, boxes_around
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


# candidates: find_peaks on hand-made maps of one part (heatmaps as (h, w, parts), no upsampling)
def peaks_in(heatmap: np.ndarray, **settings) -> np.ndarray:
    return PafDecoder(((0, 0, 0, 1),), num_parts=1, **settings).find_peaks(heatmap[:, :, None])[0]


def test_a_peak_must_rise_above_the_threshold():
    heatmap = np.zeros((7, 7), np.float32)
    heatmap[2, 2], heatmap[4, 5] = 0.5, 0.625  # one exactly at the threshold, one above it
    peaks = peaks_in(heatmap, peak_threshold=0.5, min_peak_distance=0)
    np.testing.assert_array_equal(peaks, [(5, 4, 0.625)])
    assert peaks.dtype == np.float32


def test_peaks_are_maxima_of_their_3x3_neighbourhood_only():
    heatmap = np.zeros((9, 9), np.float32)
    heatmap[4, 4] = 0.5
    heatmap[2, 4] = heatmap[6, 4] = heatmap[4, 2] = heatmap[4, 6] = 1.0  # stronger, two cells away
    peaks = peaks_in(heatmap, min_peak_distance=0)
    assert sorted(map(tuple, peaks.tolist())) == [(2, 4, 1), (4, 2, 1), (4, 4, 0.5), (4, 6, 1), (6, 4, 1)]


def test_of_two_close_peaks_the_stronger_stays():
    heatmap = np.zeros((5, 9), np.float32)
    heatmap[2, 2], heatmap[2, 4] = 0.5, 1.0  # two apart: both maxima, closer than min_peak_distance 3
    np.testing.assert_array_equal(peaks_in(heatmap), [(4, 2, 1.0)])


def test_peaks_exactly_min_peak_distance_apart_both_stay():
    heatmap = np.zeros((5, 9), np.float32)
    heatmap[2, 2], heatmap[2, 5] = 1.0, 0.5
    np.testing.assert_array_equal(peaks_in(heatmap), [(2, 2, 1.0), (5, 2, 0.5)])


def test_a_peak_removed_by_a_stronger_one_stays_removed():
    heatmap = np.zeros((5, 12), np.float32)
    # x=0 is strongest; x=2 is too close to it but far from x=8, which must not bring it back
    heatmap[2, 0], heatmap[2, 8], heatmap[2, 2] = 1.0, 0.75, 0.5
    np.testing.assert_array_equal(peaks_in(heatmap), [(0, 2, 1.0), (8, 2, 0.75)])


# connect on hand-made fields (h, w, 2): channel 0 is x, channel 1 is y; 10 samples from end to end
def connect(field: np.ndarray, a, b, **settings) -> np.ndarray:
    peaks_a, peaks_b = (np.array([(*p, 1.0) for p in ps], np.float32).reshape(-1, 3) for ps in (a, b))
    return PafDecoder(((0, 1, 0, 1),), num_parts=2, **settings).connect(field, peaks_a, peaks_b, 0, 1)


def row_field(values) -> np.ndarray:
    """One row of x-pointing field values: a limb from (0, 0) to (len - 1, 0) samples each once."""
    field = np.zeros((1, len(values), 2), np.float32)
    field[0, :, 0] = values
    return field


# 7 aligned samples at the ends but not next to them, so reading a neighbour loses one
SEVEN_OF_TEN = (1, 0, 1, 1, 1, 1, 1, 0, 0, 1)


def test_seven_aligned_samples_of_ten_connect_with_the_mean_as_score():
    chosen = connect(row_field(SEVEN_OF_TEN), [(0, 0)], [(9, 0)])
    np.testing.assert_allclose(chosen, [(0, 0, 0.7)], rtol=1e-6)
    assert chosen.dtype == np.float32


def test_seven_aligned_samples_of_ten_connect_along_a_column_too():
    field = np.zeros((10, 1, 2), np.float32)  # taller than wide: y is bounded by the height
    field[:, 0, 1] = SEVEN_OF_TEN
    np.testing.assert_allclose(connect(field, [(0, 0)], [(0, 9)]), [(0, 0, 0.7)], rtol=1e-6)


def test_six_aligned_samples_do_not_connect_however_strong():
    assert connect(row_field((5, 5, 5, 5, 5, 5, 0, 0, 0, 0)), [(0, 0)], [(9, 0)]).shape == (0, 3)


def test_samples_exactly_at_the_sample_threshold_are_not_aligned():
    field = row_field([0.5] * 10)
    assert connect(field, [(0, 0)], [(9, 0)], sample_threshold=0.5).shape == (0, 3)
    np.testing.assert_allclose(connect(field, [(0, 0)], [(9, 0)], sample_threshold=0.375), [(0, 0, 0.5)])


def test_a_zero_mean_does_not_connect_even_with_enough_aligned_samples():
    # 7 * 0.75 - 3 * 1.75 = 0, exactly in float32
    assert connect(row_field([0.75] * 7 + [-1.75] * 3), [(0, 0)], [(9, 0)]).shape == (0, 3)


def test_adjacent_candidates_connect_with_the_full_field():
    # a one-pixel limb: its direction is exact, not shortened by the guard against zero length
    np.testing.assert_allclose(connect(row_field([1.0] * 6), [(3, 0)], [(4, 0)]), [(0, 0, 1.0)], rtol=1e-7)


def test_no_candidates_no_connections():
    chosen = connect(row_field([1.0] * 4), [], [(3, 0)])
    assert chosen.shape == (0, 3) and chosen.dtype == np.float32


@pytest.mark.parametrize("a, b", [([(0, 0)], [(9, 0), (9, 5)]), ([(0, 0), (0, 5)], [(9, 0)])])
def test_each_candidate_is_used_once_per_limb_best_first(a, b):
    field = np.zeros((10, 10, 2), np.float32)
    field[..., 0] = 1.0  # pointing +x everywhere: a pair scores the cosine of its direction
    # the straight pair scores 1 and is taken; the slanted one (9 / sqrt(106)) shares a candidate with it
    np.testing.assert_allclose(connect(field, a, b), [(0, 0, 1.0)])


def test_a_strong_pair_with_too_few_aligned_samples_does_not_count_others():
    field = np.zeros((10, 10, 2), np.float32)
    field[0, :6, 0] = 5.0  # along row 0: six strong samples, mean 3, too few aligned
    field[:, 0, 1] = 1.0   # along column 0: all ten aligned, mean 1
    np.testing.assert_allclose(connect(field, [(0, 0)], [(9, 0), (0, 9)]), [(0, 1, 1.0)])


def test_decoded_keypoints_are_the_peaks_in_input_pixels_with_their_scores():
    people = np.stack([standing_person(100, 40, 1.2), standing_person(260, 60, 1.0)])
    heatmaps, pafs = PafEncoder(OPENPOSE18_LIMBS)(people, 30, 48)
    fields = np.concatenate((heatmaps, pafs))
    decoder = PafDecoder(OPENPOSE18_LIMBS, smooth_sigma=0)
    boxes, scores, keypoints = decoder(fields)
    assert boxes.dtype == scores.dtype == keypoints.dtype == np.float32
    peaks = decoder.find_peaks(decoder.upsampled(fields)[0])
    to_input = np.array([8 / 4, 8 / 4, 1], np.float32)  # stride over upsample; the score stays as it was
    for person in keypoints:
        for part in np.nonzero(person[:, 2] > 0)[0]:
            assert np.any(np.all(np.isclose(peaks[part] * to_input, person[part]), axis=1))


def test_boxes_hold_the_found_keypoints_only():
    keypoints = np.zeros((2, 3, 3), np.float32)
    keypoints[0] = [(10, 20, 0.5), (30, 5, 0.9), (0, 0, 0)]  # the third part is missing, not at the origin
    boxes = boxes_around(keypoints)
    np.testing.assert_array_equal(boxes, [(10, 5, 30, 20), (0, 0, 0, 0)])
    assert boxes.dtype == np.float32


def test_a_person_exactly_at_min_person_score_is_kept():
    decoder = PafDecoder(((0, 1, 0, 1),), num_parts=2, min_parts=2, min_person_score=0.5)
    # peaks 0.5 + 0.5 and a limb of 1: total 2 over 2 parts is 1 a part, mapped to 1 / (1 + 1) = 0.5
    people, scores = decoder.assemble(one_peak_per_part(2), [np.array([(0, 0, 1.0)], np.float32)])
    np.testing.assert_array_equal(people, [[0, 0]])
    np.testing.assert_array_equal(scores, [0.5])
    assert scores.dtype == np.float32


def test_extending_a_person_adds_the_new_part_and_limb_scores_only():
    decoder = PafDecoder(((0, 1, 0, 1), (1, 2, 2, 3)), num_parts=3, min_parts=3, min_person_score=0)
    connections = [np.array([(0, 0, 0.25)], np.float32), np.array([(0, 0, 0.125)], np.float32)]
    people, scores = decoder.assemble(one_peak_per_part(3), connections)
    np.testing.assert_array_equal(people, [[0, 0, 0]])
    total = 3 * 0.5 + 0.25 + 0.125
    np.testing.assert_allclose(scores, [(total / 3) / (1 + total / 3)], rtol=1e-6)


def one_channel_fields(channel: np.ndarray) -> np.ndarray:
    """Fields of one part and one limb, the part and both field channels all equal to `channel`."""
    return np.stack([channel] * 3).astype(np.float32)


def test_fields_are_upsampled_like_the_heatmaps():
    spike = np.zeros((5, 6), np.float32)
    spike[2, 3] = 1.0
    heatmaps, pafs = PafDecoder(((0, 0, 0, 1),), num_parts=1, smooth_sigma=0).upsampled(one_channel_fields(spike))
    assert heatmaps.shape == (20, 24, 1) and pafs.shape == (20, 24, 2)
    np.testing.assert_array_equal(pafs[..., 0], heatmaps[..., 0])  # both bicubic, as OpenPose


def test_smoothing_blurs_both_directions_alike():
    spike = np.zeros((5, 5), np.float32)
    spike[2, 2] = 1.0  # symmetric under transposition, so the smoothed map must be too
    heatmap = PafDecoder(((0, 0, 0, 1),), num_parts=1, smooth_sigma=2.0).upsampled(one_channel_fields(spike))[0][..., 0]
    np.testing.assert_allclose(heatmap, heatmap.T, atol=1e-6)


def test_of_equally_strong_close_peaks_the_first_in_reading_order_stays():
    # 24 pairs of equal maxima two cells apart, pairs of 1 and 0.5 mixed: enough candidates that an
    # unstable sort would shuffle the equal ones
    heatmap = np.zeros((16, 48), np.float32)
    for row in range(4):
        for column in range(6):
            heatmap[4 * row + 2, [8 * column + 2, 8 * column + 4]] = 1.0 if (row + column) % 2 else 0.5
    peaks = peaks_in(heatmap)
    assert len(peaks) == 24 and (peaks[:, 0] % 8 == 2).all()


def test_people_of_equal_score_keep_the_order_they_were_found_in():
    decoder = PafDecoder(((0, 1, 0, 1),), num_parts=2, min_parts=2, min_person_score=0)
    # 20 pairs, limb scores alternating 0.5 and 0.25: ten people tie at each score
    connections = [np.array([(i, i, 0.5 if i % 2 else 0.25) for i in range(20)], np.float32)]
    people, scores = decoder.assemble(one_peak_per_part(2, candidates=20), connections)
    np.testing.assert_array_equal(people[:, 0], list(range(1, 20, 2)) + list(range(0, 20, 2)))


def test_of_equally_good_pairs_the_first_found_is_connected():
    field = np.zeros((60, 10, 2), np.float32)
    field[..., 0] = 1.0
    # 6 candidates a at x=0, each with two candidates b at x=9 two rows above and below (equal scores);
    # every pair is valid, so there are enough pairs that an unstable sort would shuffle the equal ones
    a = [(0, 10 * k + 2) for k in range(6)]
    b = [(9, 10 * k + dy) for k in range(6) for dy in (0, 4)]
    chosen = connect(field, a, b)
    np.testing.assert_array_equal(chosen[:, :2], [(k, 2 * k) for k in range(6)])
    np.testing.assert_allclose(chosen[:, 2], 9 / np.sqrt(85), rtol=1e-6)
