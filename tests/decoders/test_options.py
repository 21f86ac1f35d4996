"""Decoder options: defaults in one place, validated, honoured by each decoder or refused."""
import math

import numpy as np
import pytest

from manypose.decoders import DecoderOptions
from manypose.encoders import PafEncoder
from manypose.heads import PafHead, PoseObjectsHead, codec_for
from manypose.heads.paf import OPENPOSE18_LIMBS
from manypose.skeleton import COCO17, OPENPOSE18

from decoders.test_paf_decoder import standing_person


def test_unset_options_take_the_defaults_and_are_not_given():
    options = DecoderOptions.from_given(score_threshold=0.01, iou_threshold=None, max_detections=None)
    assert options == DecoderOptions(score_threshold=0.01, given=frozenset({"score_threshold"}))
    assert options.iou_threshold == DecoderOptions().iou_threshold


@pytest.mark.parametrize("values", [{"score_threshold": math.nan}, {"score_threshold": 1.5},
                                    {"iou_threshold": -0.1}, {"max_detections": 0},
                                    {"score_threshold": True}, {"max_detections": True},
                                    {"max_detections": 2.5}, {"max_detections": 3.0},
                                    {"complete_poses": 1}, {"complete_poses": "yes"}])
def test_bad_values_are_refused(values):
    with pytest.raises(ValueError, match="must be"):
        DecoderOptions.from_given(**values)


def test_thresholds_take_both_ends_of_0_to_1():
    # the range is closed: 1 (keep only certain people, never merge duplicates) is allowed
    options = DecoderOptions.from_given(score_threshold=1, iou_threshold=1.0)
    assert (options.score_threshold, options.iou_threshold) == (1, 1.0)
    assert DecoderOptions(score_threshold=0, iou_threshold=0.0).score_threshold == 0


def test_numpy_numbers_are_numbers():
    # a threshold computed with numpy, e.g. a percentile of scores
    options = DecoderOptions.from_given(score_threshold=np.float32(0.3), iou_threshold=np.float64(0.5),
                                        max_detections=np.int64(5))
    assert (options.score_threshold, options.iou_threshold, options.max_detections) == (np.float32(0.3), 0.5, 5)


@pytest.mark.parametrize("value", ["0.5", None])
def test_a_threshold_that_is_not_a_number_is_refused_by_name(value):
    # a ValueError naming the option, not math.isnan's TypeError
    with pytest.raises(ValueError, match="score_threshold must be a number in \\[0, 1\\]"):
        DecoderOptions(score_threshold=value)


def test_unknown_options_are_refused():
    with pytest.raises(TypeError, match="unknown decoder option min_people"):
        DecoderOptions.from_given(min_people=3)


def test_the_refusals_name_every_option_involved():
    with pytest.raises(TypeError) as unknown:
        DecoderOptions.from_given(min_people=3, given=frozenset(), flip=True)
    # "given" is bookkeeping, not an option a user sets
    assert str(unknown.value) == ("unknown decoder option flip, given, min_people; "
                                  "known: complete_poses, iou_threshold, keypoint_objects, max_detections, "
                                  "overwrite_tolerance, overwrite_tolerance_fraction, root_threshold, score_threshold")
    options = DecoderOptions.from_given(iou_threshold=0.5, max_detections=5, score_threshold=None)
    with pytest.raises(ValueError) as refused:
        options.check_honoured(("score_threshold", "max_detections"), "the paf decoder")
    assert str(refused.value) == "the paf decoder has no iou_threshold; it honours max_detections, score_threshold"
    with pytest.raises(ValueError) as none:
        options.check_honoured((), "a test decoder")
    assert str(none.value) == "a test decoder has no iou_threshold, max_detections; it honours no decoder option"


def test_a_decoder_refuses_what_it_cannot_honour_only_when_set():
    paf = codec_for([PafHead(OPENPOSE18)])
    paf.decoder(DecoderOptions())  # the IoU default is simply not used
    with pytest.raises(ValueError, match="the paf decoder has no iou_threshold"):
        paf.decoder(DecoderOptions.from_given(iou_threshold=0.5))
    codec_for([PoseObjectsHead(COCO17)]).decoder(DecoderOptions.from_given(iou_threshold=0.5))
    with pytest.raises(ValueError, match="the paf decoder has no complete_poses"):
        paf.decoder(DecoderOptions.from_given(complete_poses=True))


def two_people_fields(weak: float):
    """Fields of a strong person and of one whose heatmaps and fields are scaled by `weak`."""
    encoder = PafEncoder(OPENPOSE18_LIMBS)
    strong = np.concatenate(encoder(standing_person(100, 40)[None], 30, 48))
    faint = np.concatenate(encoder(standing_person(260, 60)[None], 30, 48)) * weak
    return {"fields": np.maximum(strong, faint)}


def test_paf_models_honour_the_score_threshold_and_max_people():
    codec = codec_for([PafHead(OPENPOSE18)])
    fields = two_people_fields(weak=0.5)
    _, scores, _ = codec.decoder(DecoderOptions(score_threshold=0.0))(fields)
    assert len(scores) >= 2 and (np.diff(scores) <= 0).all() and scores[-1] < 0.9, "best first"
    threshold = float(scores[-1]) + 0.05
    _, kept, _ = codec.decoder(DecoderOptions(score_threshold=threshold))(fields)
    assert 0 < len(kept) < len(scores) and (kept >= threshold).all()
    _, best, _ = codec.decoder(DecoderOptions(score_threshold=0.0, max_detections=1))(fields)
    assert list(best) == [scores[0]]
