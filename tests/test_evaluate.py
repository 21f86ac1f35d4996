import json

import pytest

import manypose
from manypose.evaluate import EvaluationError, evaluate


def test_default_model_reaches_the_original_ap_on_the_dev_set(dev_annotations, dev_images, tmp_path):
    estimator = manypose.load(score_threshold=0.01)  # as `manypose eval` and the original's eval
    stats, summary, failures = evaluate(estimator, dev_annotations, dev_images,
                                        json_output=tmp_path / "predictions.json",
                                        stats_output=tmp_path / "stats.json", progress=False)
    assert not failures
    assert stats["AP"] >= 0.440  # the original implementation gives 0.446
    assert "Average Precision" in summary
    written = json.loads((tmp_path / "stats.json").read_text())
    for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "images", "seconds_per_image"):
        assert key in written
    assert written["images"] == 79
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    assert {p["category_id"] for p in predictions} == {1}


def test_missing_inputs(estimator, tmp_path, dev_annotations):
    with pytest.raises(EvaluationError, match="no such annotation file"):
        evaluate(estimator, tmp_path / "none.json", tmp_path)
    (tmp_path / "broken.json").write_text("[1, 2")
    with pytest.raises(EvaluationError, match="not a COCO annotation file"):
        evaluate(estimator, tmp_path / "broken.json", tmp_path)
    with pytest.raises(EvaluationError, match="no such image directory"):
        evaluate(estimator, dev_annotations, tmp_path / "nowhere")
