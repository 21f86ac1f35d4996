"""One estimator configuration: what load and the command line build, and what tracking runs with."""
from __future__ import annotations

import pytest

from manypose.config import EstimatorConfig
from manypose.decoders.options import DecoderOptions
from manypose.heads.displacements import DisplacementsCodec, DisplacementsHead
from manypose.skeleton import COCO17
from manypose.track import TrackerOptions
from manypose.tta import TestTimeAugmentation


def test_keyword_values_go_to_the_decoder_the_views_and_the_settings():
    config = EstimatorConfig.from_given("m", score_threshold=0.3, flip=True, threads=1, input_size=None,
                                        tracker=TrackerOptions(max_lost_frames=5))
    assert config.model == "m" and config.threads == 1 and config.input_size is None
    assert config.decoder.score_threshold == 0.3 and config.decoder.given == {"score_threshold"}
    assert config.tta == TestTimeAugmentation(flip=True) and config.tracker.max_lost_frames == 5


def test_unknown_options_and_bad_settings_are_refused_by_name():
    with pytest.raises(TypeError, match="unknown decoder option colour"):
        EstimatorConfig.from_given(colour="red")
    with pytest.raises(ValueError, match="device 'gpu'"):
        EstimatorConfig(device="gpu")
    with pytest.raises(ValueError, match="batch_size must be a whole number, 1 or more"):
        EstimatorConfig(batch_size=0)
    with pytest.raises(ValueError, match="input_size"):
        EstimatorConfig(input_size=0)
    with pytest.raises(ValueError, match="threads"):
        EstimatorConfig(threads=0)


def test_tracking_lowers_an_unset_score_threshold_to_the_trackers_low_score():
    tracker = TrackerOptions(low_score=0.05)
    assert EstimatorConfig(tracker=tracker).tracking_decoder().score_threshold == 0.05
    given = DecoderOptions.from_given(score_threshold=0.4)
    assert EstimatorConfig(decoder=given, tracker=tracker).tracking_decoder().score_threshold == 0.4


def test_the_root_threshold_is_its_own_option():
    codec = DisplacementsCodec([DisplacementsHead(COCO17)])
    own = codec.decoder(DecoderOptions.from_given(score_threshold=0.1, root_threshold=0.6)).decode
    assert (own.score_threshold, own.min_pose_score) == (0.6, 0.1)
    default = codec.decoder(DecoderOptions.from_given(score_threshold=0.1)).decode
    assert (default.score_threshold, default.min_pose_score) == (0.1, 0.1)
    with pytest.raises(ValueError, match="root_threshold must be a number in"):
        DecoderOptions.from_given(root_threshold=2.0)


def test_models_without_roots_refuse_a_root_threshold():
    import manypose

    with pytest.raises(ValueError, match="has no root_threshold"):
        manypose.load(root_threshold=0.3)


def test_the_estimator_keeps_its_configuration_and_changes_only_what_may_change(estimator):
    assert estimator.config.model is None and estimator.config.decoder == DecoderOptions()
    tracking = estimator.for_tracking()
    assert tracking.config.decoder.score_threshold == TrackerOptions().low_score
    assert tracking.backend is estimator.backend
    with pytest.raises(ValueError, match="backend cannot change"):
        estimator.reconfigured(backend="torch")
