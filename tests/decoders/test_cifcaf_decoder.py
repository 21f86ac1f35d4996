"""The composite-field decoder finds the people OpenPifPaf's own decoder finds on the same fields
(tests/fixtures/cifcaf/decoder_reference.npz, from benchmarks/cifcaf_decoder.py: clean and noisy
fields of four crowded dev images, and OpenPifPaf 0.13's poses on them; decoder_reference_complete.npz
its poses with --force-complete-pose on the same fields), and behaves on fields with known answers."""
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from manypose.decoders import DecoderOptions
from manypose.decoders.cifcaf import CifCafDecoder, _Workspace, boxes_around
from manypose.decoders.cifcaf_growth import FILLED_CONFIDENCE, _blend, _connection, _heap_pop, _heap_push
from manypose.encoders.cifcaf import CifCafEncoder
from manypose.heads import codec_for
from manypose.heads.composite_fields import CifHead, coco17_heads
from manypose.skeleton import COCO17

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "cifcaf" / "decoder_reference.npz"
COMPLETE_REFERENCE = REFERENCE.with_name("decoder_reference_complete.npz")
HEADS = coco17_heads()


def reference_images(poses: Path = REFERENCE):
    reference, theirs = np.load(REFERENCE), np.load(poses)
    keys = sorted({name.rsplit("/", 1)[0] for name in reference.files})
    return [(key, {name: reference[f"{key}/{name}"].astype(np.float32) for name in ("cif", "caf")},
             theirs[f"{key}/keypoints"], theirs[f"{key}/scores"]) for key in keys]


def decoder(**settings) -> CifCafDecoder:
    options = settings.pop("options", DecoderOptions(score_threshold=0.0))
    return CifCafDecoder(*HEADS, options, **settings)


def standing(x: float, y: float, height: float) -> np.ndarray:
    """A COCO-17 person (17, 3), every keypoint visible, `height` pixels tall, top at (x, y)."""
    layout = np.array([[0, 6], [3, 3], [-3, 3], [7, 5], [-7, 5], [14, 20], [-14, 20], [18, 40], [-18, 40],
                       [20, 58], [-20, 58], [9, 56], [-9, 56], [10, 78], [-10, 78], [10, 99], [-10, 99]])
    person = np.full((17, 3), 2.0)
    person[:, :2] = (x, y) + layout * height / 100
    return person


def fields_of(people: np.ndarray, rows: int = 41, cols: int = 41) -> dict:
    return CifCafEncoder(*HEADS)(people, rows, cols).as_outputs()


@pytest.mark.parametrize("key, fields, keypoints, scores", [pytest.param(*image, id=image[0])
                                                               for image in reference_images()])
def test_finds_the_people_openpifpaf_finds(key, fields, keypoints, scores):
    _, our_scores, ours = decoder()(fields)
    assert len(ours) == len(keypoints), "as many people"
    for person, score in zip(keypoints, scores):
        kept = person[:, 2] > 0
        match = np.abs(ours[:, kept, :2] - person[kept, :2]).max(axis=(1, 2)).argmin()
        assert ((ours[match, :, 2] > 0) == kept).all(), "the same keypoints kept"
        assert np.abs(ours[match, kept, :2] - person[kept, :2]).max() < 0.01
        # confidences may differ a little where seeds tie: OpenPifPaf's sort is not stable, so a
        # person may grow from another of its keypoints
        assert np.abs(ours[match, kept, 2] - person[kept, 2]).max() < 0.1
        assert our_scores[match] == pytest.approx(score, abs=0.01)


@pytest.mark.parametrize("key, fields, keypoints, scores", [pytest.param(*image, id=image[0])
                                                               for image in reference_images(COMPLETE_REFERENCE)])
def test_complete_poses_are_openpifpafs_forced_complete_poses(key, fields, keypoints, scores):
    _, our_scores, ours = decoder(options=DecoderOptions(score_threshold=0.0, complete_poses=True))(fields)
    assert len(ours) == len(keypoints), "as many people"
    assert (ours[:, :, 2] > 0).all() and (keypoints[:, :, 2] > 0).all(), "every keypoint, in both"
    reached_by_us = ours[:, :, 2] > 1e-3
    for person, score in zip(keypoints, scores):
        # compared: the keypoints reached along associations (those filled in from a neighbour
        # may take another neighbour's place where confidences tie; suppressed duplicates have
        # none)
        reached = person[:, 2] > 1e-3
        alike = np.flatnonzero((reached_by_us == reached).all(axis=1) & (np.abs(our_scores - score) <= 0.01))
        assert len(alike), "a person with the same keypoints reached, scored the same"
        if reached.any():
            offsets = np.abs(ours[alike][:, reached, :2] - person[reached, :2]).max(axis=(1, 2))
            match = alike[offsets.argmin()]
            assert offsets.min() < 0.01
            assert np.abs(ours[match, reached, 2] - person[reached, 2]).max() < 0.1


def test_complete_poses_follow_weak_associations_then_fill_in_the_rest():
    person = standing(40, 30, 200)[None]
    fields = fields_of(person)
    associations = HEADS[1].associations
    fields["caf"][associations.index((5, 11)), 1] *= 0.05  # left shoulder - left hip: too weak to follow
    fields["caf"][associations.index((6, 12)), 1] *= 0.05  # right shoulder - right hip
    fields["caf"][[i for i, pair in enumerate(associations) if 3 in pair], 1] = 0  # the left ear: unconnected
    _, _, split = decoder()(fields)
    assert sorted((split[:, :, 2] > 0).sum(axis=1)) == [6, 10], "upper body without its ear, lower body"
    _, scores, complete = decoder(options=DecoderOptions(score_threshold=0.0, complete_poses=True))(fields)
    best = complete[scores.argmax()]
    assert (complete[:, :, 2] > 0).all(), "every person gets every keypoint"
    reached = np.arange(17) != 3
    np.testing.assert_allclose(best[reached, :2], person[0, reached, :2], atol=1e-3)
    assert (best[reached, 2] > 0.1).all()
    assert best[3, 2] == pytest.approx(FILLED_CONFIDENCE)
    neighbours = [b if a == 3 else a for a, b in associations if 3 in (a, b)]
    assert any(np.allclose(best[3, :2], person[0, k, :2], atol=1e-3) for k in neighbours), "a neighbour's place"


def test_same_people_count_on_at_least_95_percent_of_the_reference_images():
    counts = [len(decoder()(fields)[1]) == len(keypoints) for _, fields, keypoints, _ in reference_images()]
    assert sum(counts) >= 0.95 * len(counts)


def test_the_fast_seed_path_finds_the_same_people_on_clean_fields():
    for key, fields, _, _ in reference_images():
        if key.startswith("clean"):
            _, scores, keypoints = decoder()(fields)
            _, fast_scores, fast_keypoints = decoder(seed_local_maxima=True)(fields)
            np.testing.assert_allclose(fast_keypoints[:, :, :2], keypoints[:, :, :2], atol=1e-3)
            np.testing.assert_allclose(fast_scores, scores, atol=0.01)


def test_people_come_back_at_their_positions_in_input_pixels():
    people = np.stack((standing(40, 30, 200), standing(190, 60, 150)))
    boxes, scores, keypoints = decoder()(fields_of(people))
    assert keypoints.shape == (2, 17, 3) and keypoints.dtype == np.float32
    for person in people:
        match = np.abs(keypoints[:, :, :2] - person[:, :2]).max(axis=(1, 2)).argmin()
        np.testing.assert_allclose(keypoints[match, :, :2], person[:, :2], atol=1e-3)
        assert (keypoints[match, :, 2] > 0.5).all() and scores[match] > 0.9
        box = boxes[match]
        assert (box[:2] < person[:, :2].min(axis=0)).all() and (box[2:] > person[:, :2].max(axis=0)).all()


def test_score_threshold_and_max_detections_are_honoured():
    fields = fields_of(np.stack((standing(20, 30, 150), standing(120, 30, 150), standing(220, 30, 150))))
    for name in ("cif", "caf"):  # the person in the middle less sure, the one on the right still less
        fields[name][:, 1, :, 9:21] *= 0.8
        fields[name][:, 1, :, 21:] *= 0.6
    _, scores, _ = decoder()(fields)
    assert len(scores) == 3 and (np.diff(scores) <= 0).all(), "best first"
    threshold = float(scores[1:].mean())
    _, kept, _ = decoder(options=DecoderOptions(score_threshold=threshold))(fields)
    assert (kept >= threshold).all() and len(kept) == (scores >= threshold).sum()
    _, best, _ = decoder(options=DecoderOptions(score_threshold=0.0, max_detections=2))(fields)
    np.testing.assert_array_equal(best, scores[:2])


def test_a_person_with_an_unconnected_association_splits():
    person = standing(40, 30, 200)[None]
    fields = fields_of(person)
    fields["caf"][HEADS[1].associations.index((5, 11)), 1] = 0  # left shoulder - left hip
    fields["caf"][HEADS[1].associations.index((6, 12)), 1] = 0  # right shoulder - right hip
    _, _, keypoints = decoder()(fields)
    assert sorted((keypoints[:, :, 2] > 0).sum(axis=1)) == [6, 11], "upper and lower body apart"


def test_a_later_image_is_not_affected_by_an_earlier_one():
    fields = [image for _, image, _, _ in reference_images()][:3]
    first = [decoder()(image) for image in fields]
    again = [decoder()(image) for image in reversed(fields)][::-1]
    for (_, scores, keypoints), (_, scores_again, keypoints_again) in zip(first, again):
        np.testing.assert_array_equal(scores, scores_again)
        np.testing.assert_array_equal(keypoints, keypoints_again)


def test_threads_decode_side_by_side():
    fields = [image for _, image, _, _ in reference_images()]
    alone = [decoder()(image)[2] for image in fields]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda image: decoder()(image)[2], fields * 3))
    for index, keypoints in enumerate(together):
        np.testing.assert_array_equal(keypoints, alone[index % len(fields)])


def test_no_fields_no_people():
    empty = {"cif": np.zeros((17, 5, 9, 9), np.float32), "caf": np.zeros((19, 8, 9, 9), np.float32)}
    boxes, scores, keypoints = decoder()(empty)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, 17, 3)


def association_rows(*rows) -> np.ndarray:
    """Scored associations (confidence, x from, y from, x to, y to, scale from, scale to), scales 8."""
    rows = [(confidence, *start, *end, 8.0, 8.0) for confidence, start, end in rows]
    return np.array(rows, np.float64).reshape(-1, 7)


def test_a_connection_needs_its_association_to_lead_back_to_the_source():
    shoulder, other_shoulder, elbow = (40.0, 40.0), (100.0, 40.0), (70.0, 100.0)
    forward = association_rows((0.6, shoulder, elbow))
    source = np.array([1.0, *shoulder, 8.0])

    def connect(backward):
        starts = np.array([[0, len(forward)], [0, len(backward)]])
        return _connection(source, 1, forward, backward, starts, (0.15, 0.5, 1.0, True))

    confidence, x, y, _ = connect(association_rows((0.6, elbow, shoulder)))
    assert (x, y) == elbow and confidence == pytest.approx(np.sqrt(0.5 * 0.6))
    # read backwards, the elbow's best association goes to the other shoulder: refused
    assert connect(association_rows((0.6, elbow, shoulder), (1.0, elbow, other_shoulder)))[0] == 0


def test_the_two_best_associations_blend_when_they_agree():
    start = (50.0, 50.0)
    agreeing = association_rows((0.9, start, (80.0, 90.0)), (0.8, (51.0, 50.0), (82.0, 90.0)))
    confidence, x, y, _ = _blend(agreeing, *start, 8.0, 1.0)
    near = np.exp(-0.5 / 16)  # the second starts 1 pixel off: sigma is half the scale
    assert confidence == pytest.approx(0.5 * (0.9 + 0.8 * near), rel=1e-6)
    assert x == pytest.approx((0.9 * 80 + 0.8 * near * 82) / (0.9 + 0.8 * near), rel=1e-6) and y == 90
    disagreeing = association_rows((0.9, start, (80.0, 90.0)), (0.8, start, (120.0, 90.0)))
    assert _blend(disagreeing, *start, 8.0, 1.0)[:3] == pytest.approx((0.45, 80.0, 90.0))
    assert _blend(association_rows((0.9, (70.0, 50.0), (80.0, 90.0))), *start, 8.0, 1.0)[0] == 0, "none near"


def test_the_frontier_pops_best_first():
    priorities = np.random.default_rng(0).choice([0.2, 0.5, 0.7, 0.9], 40).astype(np.float32)
    heap = np.zeros(40, np.int64)
    size = 0
    for entry in range(40):
        size = _heap_push(heap, size, priorities, entry)
    popped = []
    while size:
        popped.append(priorities[heap[0]])
        size = _heap_pop(heap, size, priorities)
    assert popped == sorted(priorities, reverse=True)


def test_the_codec_decodes_and_refuses_box_nms():
    codec = codec_for(HEADS)
    _, scores, _ = codec.decoder(DecoderOptions(score_threshold=0.0))(fields_of(standing(40, 30, 200)[None]))
    assert len(scores) == 1
    with pytest.raises(ValueError, match="iou_threshold"):
        codec.decoder(DecoderOptions.from_given(iou_threshold=0.5))


def test_heads_of_different_strides_are_refused():
    with pytest.raises(ValueError, match="stride 8 and caf stride 16"):
        CifCafDecoder(HEADS[0], dataclasses.replace(HEADS[1], stride=16))


def test_a_person_scored_exactly_at_the_score_threshold_is_kept():
    fields = fields_of(standing(40, 30, 200)[None])
    _, (score,), _ = decoder()(fields)
    _, kept, _ = decoder(options=DecoderOptions(score_threshold=float(score)))(fields)
    assert len(kept) == 1, "the threshold is inclusive"


def lone_keypoints(*points, rows: int = 6, cols: int = 6) -> dict:
    """Fields (stride 8) where 16 cells each point at (x, y, confidence) of keypoint 0, sigma 1 pixel:
    the map there is the confidence; no associations."""
    cif = np.zeros((17, 5, rows, cols), np.float32)
    cells = [(row, col) for row in range(rows) for col in range(cols)]
    for index, (x, y, confidence) in enumerate(points):
        for row, col in cells[16 * index:16 * (index + 1)]:
            cif[0, 1:, row, col] = (confidence, x / 8, y / 8, 0.25)
    return {"cif": cif, "caf": np.zeros((19, 8, rows, cols), np.float32)}


def test_the_map_spans_the_grid_from_its_first_cell_to_its_last():
    # 6 x 6 cells at stride 8: the map covers pixels 0 to 40; a keypoint on the last pixel is
    # found, one a pixel beyond the edge is not (the map is read as -1 there)
    people = decoder(instance_threshold=0.0).joints(lone_keypoints((40.0, 40.0, 1.0)))
    assert people.shape == (1, 17, 4), "OpenPifPaf's confidence, x, y, scale per keypoint"
    assert people[0, 0, :3] == pytest.approx((1.0, 40.0, 40.0))
    assert len(decoder(instance_threshold=0.0).joints(lone_keypoints((41.0, 40.0, 1.0)))) == 0
    assert len(decoder(instance_threshold=0.0).joints(lone_keypoints((40.0, 41.0, 1.0)))) == 0


def test_a_keypoint_at_the_edge_is_not_taken_for_one_six_pixels_away():
    # occupancy squares have a half-side of 4 pixels: the second person's keypoint is outside the
    # first's, also on the last occupancy cell
    people = decoder(instance_threshold=0.0).joints(lone_keypoints((34.0, 20.0, 1.0), (40.0, 20.0, 0.8)))
    assert people[:, 0, :3] == pytest.approx(np.array([[1.0, 34.0, 20.0], [0.8, 40.0, 20.0]]))


def test_the_fast_seed_path_keeps_only_local_maxima():
    cif = np.zeros((17, 5, 3, 3), np.float32)
    cif[0, 1, 1, :2] = 0.9, 0.5  # two neighbouring cells: only the larger is a local maximum
    confidence_map = np.ones((17, 17, 17), np.float32)
    assert len(decoder().seeds(cif, confidence_map)[1]) == 2
    assert len(decoder(seed_local_maxima=True).seeds(cif, confidence_map)[1]) == 1


def test_seeds_of_equal_confidence_keep_their_scan_order():
    cif = np.zeros((17, 5, 1, 6), np.float32)
    cif[0, 1, 0] = 0.5, 0.5, 0.5, 0.7, 0.7, 0.7
    cif[0, 2, 0] = np.arange(6)  # x in cells: tells the seeds apart
    fields, seeds = decoder().seeds(cif, np.ones((17, 41, 41), np.float32))
    assert (fields == 0).all() and seeds[:, 1].tolist() == [24, 32, 40, 0, 8, 16]


def test_people_of_equal_mean_confidence_keep_their_order():
    # S is sure of every keypoint; X are surer than Y, but lose 8 keypoints inside S's occupancy:
    # best first, S, then the Y, then the X, each group in the order it came in
    def person(confidence, x, y, overlapped=0):
        joints = np.zeros((17, 4))
        joints[:] = confidence, x, y, 2.0
        joints[:overlapped, 1:3] = 100.0
        return joints

    s = person(1.0, 100, 100)
    xs = [person(0.85, 20 + 40 * index, 20, overlapped=8) for index in range(3)]
    ys = [person(0.6, 20 + 40 * index, 180) for index in range(3)]
    people = np.stack((ys[0], xs[0], ys[1], xs[1], ys[2], xs[2], s))
    kept = decoder(instance_threshold=0.0).suppressed(people, (17, 101, 101))
    expected = np.stack([s] + ys + xs)
    np.testing.assert_array_equal(kept[:, :, 1:], expected[:, :, 1:])
    assert kept[:, 16, 0].tolist() == [1.0, 0.6, 0.6, 0.6, 0.85, 0.85, 0.85]
    assert (kept[4:, :8, 0] == 0).all(), "suppressed, then dropped"


def test_keypoints_and_people_exactly_at_their_thresholds():
    people = np.zeros((1, 17, 4))
    people[0, :, 0] = 0.25  # exactly a threshold: the keypoint's, then the mean person's
    people[0, :, 1] = 10 * np.arange(17)
    kept = decoder(keypoint_threshold=0.25, instance_threshold=0.0).suppressed(people.copy(), (17, 101, 101))
    assert (kept[0, :, 0] == 0).all(), "keypoints at the keypoint threshold are dropped"
    kept = decoder(instance_threshold=0.25).suppressed(people.copy(), (17, 101, 101))
    assert len(kept) == 1 and (kept[0, :, 0] == 0.25).all()


def test_people_come_back_best_mean_confidence_first():
    people = np.zeros((3, 17, 4))
    for index, confidence in enumerate((0.3, 0.9, 0.6)):
        people[index] = confidence, 30 * index + 10, 30 * index + 10, 2.0
    kept = decoder().suppressed(people, (17, 101, 101))
    assert kept[:, 0, 0].tolist() == [0.9, 0.6, 0.3]


def test_without_score_weights_the_score_is_the_mean_confidence():
    unweighted = CifCafDecoder(CifHead(COCO17), HEADS[1], DecoderOptions(score_threshold=0.0))
    confidences = np.zeros((2, 17), np.float32)
    confidences[0, :4] = 1.0, 0.5, 0.25, 0.25
    confidences[1] = 0.5
    np.testing.assert_allclose(unweighted.pose_scores(confidences), [2 / 17, 0.5], rtol=1e-6)


def test_boxes_span_the_kept_keypoints_widened_by_their_scales():
    keypoints = np.array([[[10, 20, 0.9], [30, 40, 0.8], [500, 500, 0.0]],
                          [[10, 20, 0.0], [30, 40, 0.0], [50, 60, 0.0]]], np.float32)
    scales = np.full((2, 3), 2.0)
    boxes = boxes_around(keypoints, scales)
    assert boxes.dtype == np.float32
    np.testing.assert_array_equal(boxes, [[8, 18, 32, 42], [0, 0, 0, 0]])  # no keypoint kept: zeros


def test_the_workspace_keeps_its_occupancy_grid_and_clears_it_by_generation():
    workspace = _Workspace()
    grid, generation = workspace.cleared_occupancy((2, 3, 3))
    assert grid.shape == (2, 3, 3) and not (grid == generation).any()
    for _ in range(3):
        grid[:] = generation  # everything marked
        again, generation = workspace.cleared_occupancy((2, 3, 3))
        assert again is grid and not (grid == generation).any(), "the same grid, nothing marked"
    # the marks are int32: when the generations run out the grid is cleared
    workspace.generation = np.iinfo(np.int32).max - 1
    for _ in range(3):
        grid, generation = workspace.cleared_occupancy((2, 3, 3))
        assert 0 < generation <= np.iinfo(np.int32).max and not (grid == generation).any()
        grid[:] = generation
    assert workspace.cleared_occupancy((2, 4, 4))[0].shape == (2, 4, 4)
