"""`manypose analyze` and `manypose eval --analyze` end to end: the report's files, its AP equal to
eval's, the worst images drawn, bad inputs refused in one line."""
import json

import numpy as np
import pytest
from conftest import shared_path

from manypose.cli import main
from manypose.evaluate import coco_keypoint_stats, load_coco

DEV = "data/coco-mini/annotations/person_keypoints_val2017.json"


@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    """The first six dev images' annotations, and results near their people plus strays."""
    folder = tmp_path_factory.mktemp("analyze")
    data = json.loads(shared_path(DEV).read_text())
    data["images"] = sorted(data["images"], key=lambda image: image["id"])[:6]
    kept = {image["id"] for image in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    (folder / "annotations.json").write_text(json.dumps(data))
    rng = np.random.default_rng(0)
    results = []
    for annotation in data["annotations"]:
        keypoints = np.array(annotation["keypoints"], float).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0, 4, (17, 2))
        keypoints[:, 2] = 0.9
        results.append({"image_id": annotation["image_id"], "category_id": 1, "score": float(rng.random()),
                        "keypoints": keypoints.ravel().tolist()})
        results.append({"image_id": annotation["image_id"], "category_id": 1, "score": 0.95,
                        "keypoints": (keypoints + [300, 0, 0]).ravel().tolist()})  # a confident stray
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_the_report_holds_evals_ap_and_the_worst_images_drawn(few_images, tmp_path):
    output = tmp_path / "report"
    code = main(["analyze", "--annotations", str(few_images / "annotations.json"), "--predictions",
                 str(few_images / "results.json"), "--output", str(output), "--images",
                 str(shared_path("data/coco-mini/val2017")), "--quiet"])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    results = json.loads((few_images / "results.json").read_text())
    stats, _ = coco_keypoint_stats(load_coco(few_images / "annotations.json"), results)
    assert summary["AP"]["AP"] == pytest.approx(stats["AP"], abs=1e-6)
    assert summary["error_ap"]["all"]["baseline"]["AP"] == pytest.approx(stats["AP"], abs=1e-6)
    assert summary["worst_images"] and all(entry["false_positives"] >= 1 for entry in summary["worst_images"])
    assert len(list((output / "gallery").glob("*.jpg"))) == len(summary["worst_images"])
    assert (output / "report.html").stat().st_size > 0


def test_a_file_that_is_not_results_is_refused_in_one_line(few_images, tmp_path, capsys):
    (tmp_path / "wrong.json").write_text(json.dumps({"images": []}))
    code = main(["analyze", "--annotations", str(few_images / "annotations.json"), "--predictions",
                 str(tmp_path / "wrong.json"), "--output", str(tmp_path / "out"), "--quiet"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "wrong.json" in error and "results" in error and len(error.splitlines()) == 1


def test_a_report_folder_holding_an_input_is_refused_before_anything_is_written(few_images, capsys):
    before = {path: path.read_bytes() for path in few_images.iterdir()}
    code = main(["analyze", "--annotations", str(few_images / "annotations.json"), "--predictions",
                 str(few_images / "results.json"), "--output", str(few_images), "--quiet"])
    assert code == 2 and "never written over" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in few_images.iterdir()} == before


def test_eval_analyze_runs_the_model_and_reports_on_its_results(few_images, tmp_path, capsys):
    output = tmp_path / "analysis"
    code = main(["eval", "--annotations", str(few_images / "annotations.json"), "--images",
                 str(shared_path("data/coco-mini/val2017")), "--analyze", str(output),
                 "--stats-output", str(tmp_path / "stats.json"), "--quiet"])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert summary["AP"]["AP"] == pytest.approx(stats["AP"], abs=1e-6)
    assert (output / "predictions.json").exists() and "report:" in capsys.readouterr().out


def test_crowdpose_files_are_analysed_with_its_keypoints_and_protocol(tmp_path):
    from manypose.evaluate import crowdpose_stats
    from manypose.skeleton import CROWDPOSE14

    path = shared_path("data/samples/crowdpose/test_crowdpose.json")
    rng = np.random.default_rng(1)
    results = []
    for annotation in json.loads(path.read_text())["annotations"]:
        if annotation["iscrowd"] or not annotation["num_keypoints"]:
            continue
        keypoints = np.asarray(annotation["keypoints"], float).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0, 6, (len(keypoints), 2))
        results.append({"image_id": annotation["image_id"], "category_id": 1, "bbox": annotation["bbox"],
                        "keypoints": keypoints.ravel().tolist(), "score": float(rng.uniform(0.5, 1))})
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert main(["analyze", "--annotations", str(path), "--predictions", str(tmp_path / "results.json"),
                 "--output", str(tmp_path / "report"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    expected, _ = crowdpose_stats(load_coco(path), results, CROWDPOSE14.sigmas)
    assert summary["skeleton"] == CROWDPOSE14.name and len(summary["keypoint_errors"]["per_keypoint"]) == 14
    assert summary["AP"]["AP"] == pytest.approx(expected["AP"], abs=1e-6)
