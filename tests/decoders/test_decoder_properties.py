"""Property tests (hypothesis) of every built-in decoder: on any network outputs, random, huge,
NaN or infinite, decoding never raises and returns finite poses of the promised shapes, and the
options a decoder honours hold on what it returns."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manypose.decoders import DecoderOptions
from manypose.decoders.finite import OUTPUT_BOUND, bounded, finite_people
from manypose.heads import (CentersHead, DisplacementsHead, GuidingOffsetsHead, PafHead, PoseObjectsHead,
                            codec_for)
from manypose.heads.composite_fields import coco17_heads
from manypose.skeleton import COCO17, OPENPOSE18

GRID = (9, 12)  # output rows, columns: small, so that random fields decode quickly


def channels_of(head) -> dict:
    """Output name -> shape without the grid (or with anchors) for one image."""
    kind = head.kind
    if kind == "pose_objects":
        return {head.output_names[0]: (4 + head.num_classes + len(head.skeleton) * head.keypoint_dims,)}
    if kind in ("cif", "caf"):
        return {kind: (head.fields, head.components)}
    if kind == "paf":
        return {"fields": (head.heatmap_channels + head.paf_channels,)}
    if kind == "displacements":
        keypoints, edges = len(head.skeleton), len(head.tree)
        return {"heatmaps": (keypoints,), "offsets": (2 * keypoints,),
                "displacements_forward": (2 * edges,), "displacements_backward": (2 * edges,)}
    if kind == "guiding_offsets":
        return {"offset_fields": (head.channels,)}
    if kind == "centers":
        keypoints = len(head.skeleton)
        sizes = {"centers": 1, "keypoint_heatmaps": keypoints, "keypoint_regression": 2 * keypoints,
                 "keypoint_offsets": 2 * keypoints, "box_sizes": 2, "box_offsets": 2}
        return {name: (sizes[name],) for name in head.output_names}
    raise AssertionError(f"no output layout for head kind {kind}")


HEADS = {
    "pose_objects": (PoseObjectsHead(COCO17),),
    "pose_objects_without_visibility": (PoseObjectsHead(COCO17, keypoint_dims=2),),
    "cifcaf": coco17_heads(),
    "paf": (PafHead(OPENPOSE18),),
    "displacements": (DisplacementsHead(COCO17),),
    "centers": (CentersHead(COCO17),),
    "guiding_offsets": (GuidingOffsetsHead(COCO17),),
}
SPECIAL = st.sampled_from((np.nan, np.inf, -np.inf, 3e38, -3e38, 1e9, -1e9, 0.0))


def outputs_for(heads, seed: int, scale: float, special: float, share: float) -> dict:
    """Random outputs for `heads`, a `share` of their values replaced by `special`."""
    rng = np.random.default_rng(seed)
    outputs = {}
    for head in heads:
        for name, channels in channels_of(head).items():
            shape = channels + ((GRID[0] * GRID[1] * 7,) if head.kind == "pose_objects" else GRID)
            values = (rng.standard_normal(shape) * scale).astype(np.float32)
            values[rng.random(shape) < share] = special
            outputs[name] = values
    return outputs


def assert_finite_poses(decoded, keypoint_count: int, options: DecoderOptions) -> None:
    boxes, scores, keypoints = decoded
    count = len(scores)
    assert boxes.shape == (count, 4) and scores.shape == (count,) and keypoints.shape == (count, keypoint_count, 3)
    for values in (boxes, scores, keypoints):
        assert np.isfinite(values).all()
    assert count <= options.max_detections
    assert (scores >= options.score_threshold).all()


@pytest.mark.parametrize("family", sorted(HEADS))
@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 32 - 1), scale=st.sampled_from((0.1, 1.0, 10.0, 1e4, 1e30)), special=SPECIAL,
       share=st.sampled_from((0.0, 0.001, 0.05, 0.5, 1.0)), threshold=st.floats(0, 1),
       max_detections=st.integers(1, 40), complete=st.booleans())
def test_any_outputs_decode_to_finite_poses(family, seed, scale, special, share, threshold, max_detections, complete):
    heads = HEADS[family]
    codec = codec_for(heads)
    wanted = {"score_threshold": threshold, "max_detections": max_detections, "complete_poses": complete}
    options = DecoderOptions.from_given(**{name: wanted[name] for name in codec.honoured_options if name in wanted})
    decoded = codec.decoder(options)(outputs_for(heads, seed, scale, special, share))
    assert_finite_poses(decoded, len(codec.skeleton), options)


OPTION_VALUES = {"score_threshold": st.floats(0, 1), "iou_threshold": st.floats(0.05, 1),
                 "max_detections": st.integers(1, 40), "complete_poses": st.booleans(),
                 "root_threshold": st.floats(0, 1)}


def plausible_outputs(heads, seed: int) -> dict:
    """Random outputs in which every method finds some people: pose objects get positive box
    sizes and scores in [0, 1]."""
    outputs = outputs_for(heads, seed, scale=3.0, special=0.0, share=0.0)
    for head in heads:
        if head.kind == "pose_objects":
            values = outputs[head.output_names[0]]
            values[:4] = np.abs(values[:4]) * 10
            values[4:4 + head.num_classes] = np.random.default_rng(seed).random(values[4:4 + head.num_classes].shape)
    return outputs


def largest_overlap(boxes: np.ndarray) -> float:
    top_left = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    iou = inter / np.maximum(area[:, None] + area[None] - inter, 1e-12)
    np.fill_diagonal(iou, 0)
    return float(iou.max(initial=0.0))


@pytest.mark.parametrize("family", sorted(HEADS))
@settings(max_examples=40, deadline=None, derandomize=True)
@given(chosen=st.fixed_dictionaries({}, optional=OPTION_VALUES), seed=st.integers(0, 2 ** 32 - 1))
def test_decoder_options_are_refused_or_honoured(family, chosen, seed):
    """An option the method has no use for is refused by name before any image; every other
    holds on what the decoder returns."""
    heads = HEADS[family]
    codec = codec_for(heads)
    options = DecoderOptions.from_given(**chosen)
    unused = sorted(set(chosen) - set(codec.honoured_options))
    if unused:
        with pytest.raises(ValueError) as error:
            codec.decoder(options)
        assert all(name in str(error.value) for name in unused)
        return
    boxes, scores, keypoints = codec.decoder(options)(plausible_outputs(heads, seed))
    assert_finite_poses((boxes, scores, keypoints), len(codec.skeleton), options)
    if "iou_threshold" in chosen:
        assert largest_overlap(boxes) <= options.iou_threshold + 1e-6
    if options.complete_poses:
        assert (keypoints[:, :, 2] > 0).all()
    if options.root_threshold is not None:
        assert (keypoints[:, :, 2].max(axis=1, initial=0) >= options.root_threshold).all()


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("family", sorted(HEADS))
def test_outputs_of_nan_or_infinities_decode_to_finite_poses(family, special):
    """The findings of the property above, kept: NaN fields aborted the composite-field decoder
    (numba indexing with NaN), the displacement decoder raised on int(NaN), pose objects came out
    with infinite boxes and scores."""
    heads = HEADS[family]
    codec = codec_for(heads)
    options = DecoderOptions()
    for share in (0.5, 1.0):
        assert_finite_poses(codec.decoder(options)(outputs_for(heads, 3, 1.0, special, share)), len(codec.skeleton),
                            options)


def test_outputs_are_bounded_without_a_copy_when_they_are_already():
    plain = np.array([[-2.0, 0.5], [OUTPUT_BOUND, -OUTPUT_BOUND]], np.float32)
    assert bounded(plain) is plain
    wild = np.array([np.nan, np.inf, -np.inf, 3e38, -1.5], np.float32)
    made_safe = bounded(wild)
    assert made_safe.dtype == np.float32 and np.isnan(wild[0])
    assert made_safe.tolist() == [0.0, OUTPUT_BOUND, -OUTPUT_BOUND, OUTPUT_BOUND, -1.5]


def test_people_with_any_non_finite_value_are_dropped():
    boxes, scores, keypoints = np.zeros((4, 4)), np.ones(4), np.zeros((4, 17, 3))
    boxes[1, 2], scores[2], keypoints[3, 16, 2] = np.inf, np.nan, -np.inf
    kept_boxes, kept_scores, kept_keypoints = finite_people(boxes, scores, keypoints)
    assert len(kept_boxes) == len(kept_scores) == len(kept_keypoints) == 1
