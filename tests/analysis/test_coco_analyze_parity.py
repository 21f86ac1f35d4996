"""The analysis gives the original coco-analyze's numbers (tests/fixtures/analysis: its run on
yolo11n-pose's dev results, see benchmarks/reference_runners/coco_analyze.py): the AP after
each cumulative correction and the count of each keypoint error kind."""
import gzip
import json
from pathlib import Path

import pytest
from conftest import shared_path

from manypose.analysis.diagnosis import diagnose
from manypose.evaluate import load_coco
from manypose.skeleton import COCO17

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "analysis"
# coco-analyze's names for the steps after the keypoint corrections
STEPS = {"score": "score", "background_fp": "bckgd_false_pos", "false_negatives": "false_neg"}


@pytest.fixture(scope="module")
def analysed():
    results = json.loads(gzip.decompress((FIXTURES / "yolo11n_dev_results.json.gz").read_bytes()))
    coco = load_coco(shared_path("data/coco-mini/annotations/person_keypoints_val2017.json"))
    reference = json.loads((FIXTURES / "coco_analyze_reference.json").read_text())
    return diagnose(coco, results, COCO17), reference


def test_the_ap_after_each_correction_is_coco_analyzes(analysed):
    summary, reference = analysed
    ours = summary["error_ap"]["all"]
    assert ours["baseline"] == pytest.approx(reference["baseline"], abs=1e-6)
    for step, values in ours.items():
        if step != "baseline":
            assert values == pytest.approx(reference["after"][STEPS.get(step, step)], abs=1e-6), step


def test_the_keypoints_are_judged_as_coco_analyze_judges_them(analysed):
    summary, reference = analysed
    assert summary["keypoint_errors"]["totals"] == reference["keypoint_counts"]
