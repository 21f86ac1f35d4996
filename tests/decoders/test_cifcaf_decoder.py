"""The composite-field decoder finds the people OpenPifPaf's own decoder finds on the same fields
(tests/fixtures/cifcaf/decoder_reference.npz, from benchmarks/cifcaf_decoder.py: clean and noisy
fields of four crowded dev images, and OpenPifPaf 0.13's poses on them), and behaves on fields
with known answers."""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from manypose.decoders import DecoderOptions
from manypose.decoders.cifcaf import CifCafDecoder, _blend, _connection, _heap_pop, _heap_push
from manypose.encoders.cifcaf import CifCafEncoder
from manypose.heads import codec_for
from manypose.heads.composite_fields import coco17_heads

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "cifcaf" / "decoder_reference.npz"
HEADS = coco17_heads()


def reference_images():
    reference = np.load(REFERENCE)
    keys = sorted({name.rsplit("/", 1)[0] for name in reference.files})
    return [(key, {name: reference[f"{key}/{name}"].astype(np.float32) for name in ("cif", "caf")},
             reference[f"{key}/keypoints"], reference[f"{key}/scores"]) for key in keys]


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
        return _connection(source, 1, forward, backward, starts, 0.15)

    confidence, x, y, _ = connect(association_rows((0.6, elbow, shoulder)))
    assert (x, y) == elbow and confidence == pytest.approx(np.sqrt(0.5 * 0.6))
    # read backwards, the elbow's best association goes to the other shoulder: refused
    assert connect(association_rows((0.6, elbow, shoulder), (1.0, elbow, other_shoulder)))[0] == 0


def test_the_two_best_associations_blend_when_they_agree():
    start = (50.0, 50.0)
    agreeing = association_rows((0.9, start, (80.0, 90.0)), (0.8, (51.0, 50.0), (82.0, 90.0)))
    confidence, x, y, _ = _blend(agreeing, *start, 8.0)
    near = np.exp(-0.5 / 16)  # the second starts 1 pixel off: sigma is half the scale
    assert confidence == pytest.approx(0.5 * (0.9 + 0.8 * near), rel=1e-6)
    assert x == pytest.approx((0.9 * 80 + 0.8 * near * 82) / (0.9 + 0.8 * near), rel=1e-6) and y == 90
    disagreeing = association_rows((0.9, start, (80.0, 90.0)), (0.8, start, (120.0, 90.0)))
    assert _blend(disagreeing, *start, 8.0)[:3] == pytest.approx((0.45, 80.0, 90.0))
    assert _blend(association_rows((0.9, (70.0, 50.0), (80.0, 90.0))), *start, 8.0)[0] == 0, "none near"


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
