import contextlib
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

import manypose
from manypose.evaluate import EvaluationError, evaluate

from conftest import shared_path


def test_default_model_reaches_the_original_ap_on_the_dev_set(dev_annotations, dev_images, tmp_path):
    estimator = manypose.load(score_threshold=0.01)  # as `manypose eval` and the original's eval
    stats, summary, failures = evaluate(estimator, dev_annotations, dev_images,
                                        json_output=tmp_path / "predictions.json",
                                        stats_output=tmp_path / "stats.json", progress=False)
    assert not failures
    assert stats["AP"] == pytest.approx(0.446, abs=0.002)  # the original implementation gives 0.446
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


def test_eval_stats_say_how_they_were_measured(estimator, dev_annotations, dev_images, tmp_path):
    evaluate(estimator, dev_annotations, dev_images, stats_output=tmp_path / "s.json", progress=False)
    stats = json.loads((tmp_path / "s.json").read_text())
    assert (stats["backend"], stats["int8"], stats["input_size"]) == ("onnxruntime", False, 640)


def test_eval_keeps_its_results_when_an_output_cannot_be_written(dev_annotations, dev_images, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    stats, summary, failures = evaluate(manypose.load(score_threshold=0.01), dev_annotations, dev_images,
                                        stats_output=tmp_path / "file.txt" / "s.json", progress=False)
    assert stats["AP"] == pytest.approx(0.446, abs=0.002) and "Average Precision" in summary
    assert len(failures) == 1 and f"{tmp_path / 'file.txt'}: cannot write" in failures[0]


@pytest.mark.parametrize("content, message", [
    ([], "not a COCO annotation file (annotation file format"),
    ({"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "person", "keypoints": ["a"] * 17}]},
     "image 1 of the annotations has no file_name"),
    ({"images": [], "annotations": [], "categories": [{"id": 1, "name": "person", "keypoints": ["a"] * 14}]},
     "its keypoint set has 14 keypoints, the model yolo11n-pose gives 17 (coco17)"),
])
def test_malformed_annotations_are_named(estimator, dev_images, tmp_path, content, message):
    (tmp_path / "a.json").write_text(json.dumps(content))
    with pytest.raises(EvaluationError, match=re.escape(message)):
        evaluate(estimator, tmp_path / "a.json", dev_images, progress=False)


def test_stats_carry_pycocotools_figures_under_their_names(dev_annotations):
    """Each name against pycocotools' own summary of the reference predictions: a swap of two
    names (AP and AP50, APm and APl...) fails here."""
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval

    from manypose.evaluate import STAT_NAMES, coco_keypoint_stats, load_coco

    from conftest import shared_path

    coco = load_coco(dev_annotations)
    predictions = json.loads(shared_path("reference/yolo11n-pose_val_predictions.json").read_text())
    stats, summary = coco_keypoint_stats(coco, predictions)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        direct = COCOeval(coco, coco.loadRes(predictions), "keypoints")
        direct.evaluate(), direct.accumulate(), direct.summarize()
    lines = [line for line in printed.getvalue().splitlines() if "Average" in line]
    assert len(lines) == len(STAT_NAMES) == 10
    for name, value, line in zip(STAT_NAMES, direct.stats, lines):
        assert stats[name] == pytest.approx(value)
        kind = "Precision" if name.startswith("AP") else "Recall"
        area = {"m": "medium", "l": "large"}.get(name[2:], "all")
        iou = {"50": "0.50", "75": "0.75"}.get(name[2:], "0.50:0.95")
        assert kind in line and f"IoU={iou:<9}" in line and f"area={area:>6}" in line, (name, line)
    assert summary == "\n".join(lines) + "\n"  # pycocotools' ten lines, as it prints them
    assert stats["AP"] == pytest.approx(0.446, abs=0.001)  # the original's AP on the dev set


def test_coco_stats_without_detections_are_zero_and_say_so(dev_annotations):
    # pycocotools' loadRes fails on an empty list (IndexError): no detections score 0 without it
    from manypose.evaluate import STAT_NAMES, coco_keypoint_stats, load_coco

    stats, summary = coco_keypoint_stats(load_coco(dev_annotations), [])
    assert stats == {name: 0.0 for name in STAT_NAMES}
    assert summary == "no detections: every AP is 0\n"


def crowdpose_predictions(seed: int):
    """The CrowdPose sample's people as predictions, moved by noise, plus a false person."""
    annotations = json.loads(shared_path("data/samples/crowdpose/test_crowdpose.json").read_text())
    rng = np.random.default_rng(seed)
    results = []
    for annotation in annotations["annotations"]:
        if annotation["iscrowd"] or not annotation["num_keypoints"]:
            continue
        keypoints = np.asarray(annotation["keypoints"], float).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0, 6, (len(keypoints), 2))
        keypoints[:, 2] = 1.0
        results.append({"image_id": annotation["image_id"], "category_id": 1, "bbox": annotation["bbox"],
                        "keypoints": keypoints.reshape(-1).round(2).tolist(), "score": float(rng.uniform(0.5, 1))})
    results.append({**results[0], "keypoints": (np.asarray(results[0]["keypoints"]) + 80).tolist(), "score": 0.99})
    return results


def test_crowdpose_ap_by_crowd_index():
    from manypose.evaluate import crowdpose_stats, load_coco
    from manypose.skeleton import CROWDPOSE14

    path = shared_path("data/samples/crowdpose/test_crowdpose.json")
    perfect = [{**r, "keypoints": a["keypoints"], "score": 1.0} for r, a in zip(
        crowdpose_predictions(0), [a for a in json.loads(path.read_text())["annotations"]
                                   if not a["iscrowd"] and a["num_keypoints"]])]
    stats, _ = crowdpose_stats(load_coco(path), perfect, CROWDPOSE14.sigmas)
    assert stats["AP"] == pytest.approx(1.0) and stats["AP_medium"] == pytest.approx(1.0)
    noisy, _ = crowdpose_stats(load_coco(path), crowdpose_predictions(0), CROWDPOSE14.sigmas)
    assert 0.2 < noisy["AP"] < 0.95


@pytest.mark.parametrize("case", range(15))
def test_crowdpose_stats_equal_xtcocotools(case, tmp_path):
    """Against the stats xtcocotools gave (tests/fixtures/crowdpose/make_reference.py): noisy,
    missed and false people, and crowd indices on the borders of the easy, medium and hard levels."""
    from manypose.evaluate import crowdpose_stats, load_coco
    from manypose.skeleton import CROWDPOSE14

    reference = json.loads((Path(__file__).parent / "fixtures/crowdpose/xtcocotools.json").read_text())
    truth, expected = json.loads(shared_path(reference["sample"]).read_text()), reference["cases"][case]
    for image, crowd_index in zip(truth["images"], expected["crowd_indices"]):
        image["crowdIndex"] = crowd_index
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    ours, _ = crowdpose_stats(load_coco(tmp_path / "truth.json"), expected["results"], CROWDPOSE14.sigmas)
    for name, value in expected["xtcocotools"].items():
        if value == -1.0:  # xtcocotools' mark of a level without images
            assert np.isnan(ours[name]), name
        else:  # xtcocotools rounds the levels' AP to 4 places
            assert ours[name] == pytest.approx(value, abs=1e-4 if name.startswith("AP_") else 1e-9), name


def test_crowdpose_ap_matches_xtcocotools():
    """Cross-check of our CrowdPose protocol against xtcocotools' (optional: it builds from source,
    pip install cython && pip install --no-build-isolation --no-binary xtcocotools xtcocotools)."""
    xtcocotools = pytest.importorskip("xtcocotools.coco")
    from xtcocotools.cocoeval import COCOeval

    from manypose.evaluate import crowdpose_stats, load_coco
    from manypose.skeleton import CROWDPOSE14

    path = shared_path("data/samples/crowdpose/test_crowdpose.json")
    for seed in range(3):
        results = crowdpose_predictions(seed)
        ours, _ = crowdpose_stats(load_coco(path), results, CROWDPOSE14.sigmas)
        with contextlib.redirect_stdout(io.StringIO()):
            truth = xtcocotools.COCO(str(path))
            theirs = COCOeval(truth, truth.loadRes(results), "keypoints_crowd", np.array(CROWDPOSE14.sigmas),
                              use_area=False)
            theirs.params.useSegm = None
            theirs.evaluate()
            theirs.accumulate()
            theirs.summarize()
        assert [ours[k] for k in ("AP", "AP50", "AP75", "AR", "AR50", "AR75")] == pytest.approx(
            list(theirs.stats[:6]), abs=1e-6)
        assert ours["AP_medium"] == pytest.approx(theirs.stats[7], abs=1e-4)  # theirs is rounded to 4 places


def test_eval_on_another_keypoint_set_uses_its_sigmas():
    from manypose.evaluate import coco_keypoint_stats, load_coco

    path = shared_path("data/samples/ap10k/test_ap10k.json")
    annotations = json.loads(path.read_text())["annotations"]
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "keypoints": a["keypoints"],
                "score": 1.0, "bbox": a["bbox"]} for a in annotations]
    stats, _ = coco_keypoint_stats(load_coco(path), perfect, sigmas=[0.05] * 17)
    assert stats["AP"] == pytest.approx(1.0)


def write_crowdpose_truth(path, images, people):
    """A CrowdPose-style annotation file: `images` as (id, crowd index), `people` as
    (image id, box, keypoints of 14 as (x, y))."""
    names = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
             "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck"]
    annotations = [{"id": n + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": list(box),
                    "num_keypoints": len(points),
                    "keypoints": [float(v) for x, y in points for v in (x, y, 2)]}
                   for n, (image_id, box, points) in enumerate(people)]
    path.write_text(json.dumps({
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480, "crowdIndex": c} for i, c in images],
        "annotations": annotations, "categories": [{"id": 1, "name": "person", "keypoints": names}]}))
    return path


def test_crowdpose_stats_by_hand(tmp_path):
    """One person found at OKS 0.52 (a hit at the 0.5 threshold only), one person of a 1x1 box
    missed: CrowdPose counts people of every size. The easy image has crowd index 0 (its lower
    border), the hard one nobody to find (pycocotools' -1), and no image is medium (nan)."""
    from manypose.evaluate import crowdpose_stats, load_coco
    from manypose.skeleton import CROWDPOSE14

    sigmas = np.asarray(CROWDPOSE14.sigmas)
    points = np.stack([np.linspace(20, 100, 14), np.linspace(20, 200, 14)], -1)
    area = 0.53 * 100 * 200
    # pycocotools' OKS of a keypoint: exp(-d^2 / (2 area (2 sigma)^2)); each one is 0.52 here
    found = points + np.stack([np.sqrt(-np.log(0.52) * 2 * area * (2 * sigmas) ** 2), np.zeros(14)], -1)
    path = write_crowdpose_truth(tmp_path / "truth.json", [(1, 0.0), (2, 0.9)],
                                 [(1, (10, 10, 100, 200), points), (1, (300, 300, 1, 1), [(300.5, 300.5)] * 14)])
    results = [{"image_id": 1, "category_id": 1, "score": 0.9,
                "keypoints": [float(v) for x, y in found for v in (x, y, 1)]}]
    stats, summary = crowdpose_stats(load_coco(path), results, CROWDPOSE14.sigmas)
    at_half = 51 / 101  # precision 1 up to recall 0.5: 51 of the 101 recall points
    expected = {"AP": at_half / 10, "AP50": at_half, "AP75": 0.0, "AR": 0.05, "AR50": 0.5, "AR75": 0.0,
                "AP_easy": at_half / 10, "AP_hard": -1.0}
    assert set(stats) == set(expected) | {"AP_medium"} and np.isnan(stats["AP_medium"])
    for name, value in expected.items():
        assert stats[name] == pytest.approx(value, abs=1e-9), name
    lines = summary.splitlines()
    assert len(lines) == 9 and summary.endswith("\n")
    assert re.fullmatch(r"\s*AP50\s+=\s+0\.505", lines[1]) and re.fullmatch(r"\s*AP_hard\s+=\s+-1\.000", lines[-1])
    assert re.fullmatch(r"\s*AP_medium\s+=\s+nan", lines[-2]), lines


def test_crowdpose_stats_without_detections_are_zero():
    from manypose.evaluate import crowdpose_stats, load_coco
    from manypose.skeleton import CROWDPOSE14

    stats, _ = crowdpose_stats(load_coco(shared_path("data/samples/crowdpose/test_crowdpose.json")), [],
                               CROWDPOSE14.sigmas)
    assert {name: value for name, value in stats.items() if name != "AP_easy" and name != "AP_hard"} == {
        "AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR": 0.0, "AR50": 0.0, "AR75": 0.0, "AP_medium": 0.0}
    assert np.isnan(stats["AP_easy"]) and np.isnan(stats["AP_hard"])  # both images are medium (0.33, 0.39)


def test_crowdpose_files_are_told_by_their_crowd_index(dev_annotations, tmp_path):
    """CrowdPose's protocol (crowdpose_stats) is chosen for files whose every image has a crowdIndex."""
    from manypose.evaluate import is_crowdpose, load_coco

    assert is_crowdpose(load_coco(shared_path("data/samples/crowdpose/test_crowdpose.json")))
    assert not is_crowdpose(load_coco(dev_annotations))
    truth = write_crowdpose_truth(tmp_path / "truth.json", [(1, 0.1), (2, 0.5)], [])
    assert is_crowdpose(load_coco(truth))
    content = json.loads(truth.read_text())
    del content["images"][1]["crowdIndex"]  # one image without it: not a CrowdPose file
    (tmp_path / "mixed.json").write_text(json.dumps(content))
    assert not is_crowdpose(load_coco(tmp_path / "mixed.json"))


def test_eval_progress_counts_the_images_of_the_annotations(estimator, tmp_path, capsys):
    # two images that cannot be read: no network run, but each one counts towards the progress
    names = ["nose"] + [f"k{i}" for i in range(16)]
    (tmp_path / "a.json").write_text(json.dumps({
        "images": [{"id": i, "file_name": f"missing{i}.jpg", "width": 64, "height": 48} for i in (1, 2)],
        "annotations": [], "categories": [{"id": 1, "name": "person", "keypoints": names}]}))
    stats, _, failures = evaluate(estimator, tmp_path / "a.json", tmp_path, progress=True)
    assert len(failures) == 2 and stats["failed_images"] == 2
    err = capsys.readouterr().err
    assert "eval: 100%" in err and "2/2" in err, err  # a bar of known length, named "eval"
    assert "image/s" in err, err  # counted in images
    assert "missing1.jpg" in failures[0] and "missing2.jpg" in failures[1]  # each failure names its image
    evaluate(estimator, tmp_path / "a.json", tmp_path)  # the bar is on by default
    assert "eval: 100%" in capsys.readouterr().err
    (tmp_path / "file.txt").write_text("x")
    stats, _, failures = evaluate(estimator, tmp_path / "a.json", tmp_path, progress=False,
                                  json_output=tmp_path / "file.txt" / "p.json")
    assert capsys.readouterr().err == ""  # progress=False: no bar
    # an output that cannot be written is one more failure, not a failed image
    assert len(failures) == 3 and f"{tmp_path / 'file.txt'}: cannot write" in failures[2]
    assert stats["failed_images"] == 2


def few_dev_images(dev_annotations, path, image_ids):
    """The dev annotation file cut down to `image_ids`, written to `path`."""
    content = json.loads(dev_annotations.read_text())
    content["images"] = [image for image in content["images"] if image["id"] in image_ids]
    content["annotations"] = [a for a in content["annotations"] if a["image_id"] in image_ids]
    path.write_text(json.dumps(content))
    return path


class WrappedEstimator:
    """The estimator as it is, or with another keypoint set (whose sigmas eval scores with)."""

    def __init__(self, estimator, skeleton=None):
        self.estimator, self.skeleton = estimator, skeleton or estimator.skeleton

    def __getattr__(self, name):
        return getattr(self.estimator, name)


class TimedEstimator(WrappedEstimator):
    """The estimator, with the time from the call of its stream to its last result noted:
    the images' reading and network runs, which evaluate's seconds per image must cover."""

    def stream(self, paths):
        started = time.perf_counter()

        def timed():
            for result in self.estimator.stream(paths):
                self.stream_seconds = time.perf_counter() - started
                yield result
        return timed()


def direct_keypoint_ap(annotations, predictions, sigmas) -> float:
    """pycocotools' AP of `predictions`, run here without manypose."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        evaluation = COCOeval(truth, truth.loadRes(predictions), "keypoints")
        evaluation.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    return float(evaluation.stats[0])


def test_eval_writes_the_predictions_it_scored_and_its_stats(estimator, dev_annotations, dev_images, tmp_path):
    annotations = few_dev_images(dev_annotations, tmp_path / "a.json", {183709, 311002})
    stats, summary, failures = evaluate(estimator, annotations, dev_images, json_output=tmp_path / "p.json",
                                        stats_output=tmp_path / "s.json", progress=False)
    assert not failures and (stats["images"], stats["failed_images"]) == (2, 0)
    text = (tmp_path / "p.json").read_text()
    assert text.endswith("]\n")  # one JSON list, one line
    predictions = json.loads(text)
    assert predictions and {p["image_id"] for p in predictions} == {183709, 311002}
    assert {p["category_id"] for p in predictions} == {1} and "Average Precision" in summary
    # the file holds what was scored: pycocotools gives the same AP from it
    assert stats["AP"] == pytest.approx(direct_keypoint_ap(annotations, predictions, estimator.skeleton.sigmas))
    assert json.loads((tmp_path / "s.json").read_text()) == stats


def test_eval_scores_with_the_sigmas_of_the_models_keypoint_set(estimator, dev_annotations, dev_images, tmp_path):
    """A 17-keypoint set other than COCO's (e.g. an animal one) has its own OKS sigmas."""
    import dataclasses

    annotations = few_dev_images(dev_annotations, tmp_path / "a.json", {183709})
    wide = dataclasses.replace(estimator.skeleton, name="wide17", sigmas=(0.2,) * 17)
    stats, _, _ = evaluate(WrappedEstimator(estimator, wide), annotations, dev_images,
                           json_output=tmp_path / "p.json", progress=False)
    predictions = json.loads((tmp_path / "p.json").read_text())
    expected = direct_keypoint_ap(annotations, predictions, wide.sigmas)
    assert expected != pytest.approx(direct_keypoint_ap(annotations, predictions, estimator.skeleton.sigmas))
    assert stats["AP"] == pytest.approx(expected)


@pytest.mark.parametrize("image_ids", [{183709}, {183709, 311002}])
def test_seconds_per_image_are_the_stream_time_over_the_images(estimator, dev_annotations, dev_images, tmp_path,
                                                                image_ids):
    annotations = few_dev_images(dev_annotations, tmp_path / "a.json", image_ids)
    timed = TimedEstimator(estimator)
    started = time.perf_counter()
    stats, _, _ = evaluate(timed, annotations, dev_images, progress=False)
    wall = time.perf_counter() - started
    # the images' reading and network runs lie inside the measured time, and that inside the call
    assert timed.stream_seconds <= stats["seconds_per_image"] * len(image_ids) <= wall


def test_annotation_errors_name_the_file(estimator, dev_images, tmp_path):
    path = tmp_path / "a.json"
    for categories in ([], [{"id": 1, "name": "person"}]):  # no person category, or one without keypoints
        path.write_text(json.dumps({"images": [], "annotations": [], "categories": categories}))
        with pytest.raises(EvaluationError, match=f"^{re.escape(str(path))}: no keypoint category with id 1 "):
            evaluate(estimator, path, dev_images, progress=False)
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": [
        {"id": 1, "name": "person", "keypoints": ["a"] * 14}]}))
    with pytest.raises(EvaluationError, match=f"^{re.escape(str(path))}: its keypoint set has 14 keypoints"):
        evaluate(estimator, path, dev_images, progress=False)


def test_eval_stats_count_the_images_read_and_name_the_model(estimator, dev_annotations, dev_images, tmp_path):
    # one image read and one that cannot be: `images` counts the images scored, not the file's
    annotations = few_dev_images(dev_annotations, tmp_path / "a.json", {183709})
    content = json.loads(annotations.read_text())
    content["images"].append({"id": 1, "file_name": "missing.jpg", "width": 64, "height": 48})
    annotations.write_text(json.dumps(content))
    stats, _, failures = evaluate(estimator, annotations, dev_images, stats_output=tmp_path / "s.json",
                                  progress=False)
    assert len(failures) == 1 and (stats["images"], stats["failed_images"]) == (1, 1)
    assert stats["model"] == estimator.name == "yolo11n-pose"
    assert json.loads((tmp_path / "s.json").read_text())["model"] == "yolo11n-pose"


def as_crowdpose14(keypoints):
    """COCO-17 keypoints (..., 17, 3) in CrowdPose's order: the 12 limb joints as they are, the
    nose as the head and the shoulders' middle as the neck (seen if both shoulders are)."""
    keypoints = np.asarray(keypoints, np.float64)
    neck = np.concatenate([(keypoints[..., 5, :2] + keypoints[..., 6, :2]) / 2,
                           np.minimum(keypoints[..., 5, 2:], keypoints[..., 6, 2:])], -1)
    return np.concatenate([keypoints[..., 5:17, :], keypoints[..., :1, :], neck[..., None, :]], -2)


class CrowdPoseEstimator(WrappedEstimator):
    """The estimator with its poses given in CrowdPose's 14 keypoints."""

    def __init__(self, estimator):
        from manypose.skeleton import CROWDPOSE14

        super().__init__(estimator, CROWDPOSE14)

    def stream(self, paths):
        import dataclasses

        for result in self.estimator.stream(paths):
            poses = result.poses
            if poses is not None:
                poses = dataclasses.replace(poses, keypoints=as_crowdpose14(poses.keypoints), skeleton=self.skeleton)
            yield result._replace(poses=poses)


def test_eval_of_a_crowdpose_file_gives_the_crowdpose_protocols_stats(estimator, dev_annotations, dev_images,
                                                                      tmp_path):
    """A file whose images carry a crowd index is scored by crowdpose_stats, on the predictions
    made, with the model's sigmas: AP by crowd level beside the overall figures."""
    from manypose.evaluate import crowdpose_stats, load_coco
    from manypose.skeleton import CROWDPOSE14

    content = json.loads(few_dev_images(dev_annotations, tmp_path / "coco.json", {183709, 311002}).read_text())
    for image, crowd_index in zip(sorted(content["images"], key=lambda image: image["id"]), (0.1, 0.5)):
        image["crowdIndex"] = crowd_index  # one easy image, one medium
    for annotation in content["annotations"]:
        annotation["keypoints"] = as_crowdpose14(np.reshape(annotation["keypoints"], (17, 3))).reshape(-1).tolist()
    content["categories"][0]["keypoints"] = ["k"] * 14
    (tmp_path / "crowdpose.json").write_text(json.dumps(content))
    crowd_estimator = CrowdPoseEstimator(estimator)
    stats, summary, _ = evaluate(crowd_estimator, tmp_path / "crowdpose.json", dev_images,
                                 json_output=tmp_path / "p.json", progress=False)
    predictions = json.loads((tmp_path / "p.json").read_text())
    expected, expected_summary = crowdpose_stats(load_coco(tmp_path / "crowdpose.json"), predictions,
                                                 CROWDPOSE14.sigmas)
    assert set(expected) >= {"AP_easy", "AP_medium", "AP_hard"} and expected["AP"] > 0.1
    assert {name: stats[name] for name in expected} == pytest.approx(expected, nan_ok=True)
    assert summary == expected_summary
