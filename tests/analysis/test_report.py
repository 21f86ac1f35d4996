"""The error-diagnosis report: a well-formed, self-contained page that shows the numbers it is given,
real PNG plots, the gallery, escaped text, and curves without pycocotools' "no data" points."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from manypose.analysis.report import curve_points, step_gains, write_report
from manypose.skeleton import COCO17

STEPS = ("baseline", "miss", "swap", "inversion", "jitter", "score", "background_fp", "false_negatives")
KINDS = ("good", "jitter", "inversion", "swap", "miss")
PLOTS = ("errors.png", "pr_curves.png", "pr_curves_by_size.png", "keypoint_errors.png",
         "keypoint_similarity.png", "background.png")
VOID_TAGS = {"meta", "img", "br", "hr", "link", "col", "input", "source", "wbr"}


def fake_summary(seed: int = 0, keypoints=COCO17.keypoints) -> dict:
    """Every field of the summary filled with numbers drawn from a seeded generator, through JSON
    as the caller hands it over."""
    rng = np.random.default_rng(seed)
    recall = np.linspace(0, 1, 101)

    def curve(reach):  # precision falling with recall, -1 (no data) beyond `reach`
        precision = np.clip(1 - recall ** 3 * rng.uniform(0.2, 1), 0, 1).round(4)
        precision[recall > reach] = -1
        return precision.tolist()

    def corrections():  # cumulative: each step adds a little AP
        ap = rng.uniform(0.3, 0.5)
        steps = {}
        for step in STEPS:
            ap = ap if step == "baseline" else min(1.0, ap + rng.uniform(0.0, 0.05))
            steps[step] = {"AP": ap, "AP50": min(1.0, ap + 0.2), "AP75": min(1.0, ap + 0.05)}
        return steps

    per_keypoint = {name: {kind: int(rng.integers(0, 300)) for kind in KINDS} for name in keypoints}
    score_edges = np.linspace(0, 1, 11).round(2).tolist()
    summary = {
        "annotations": "/data/coco/person_keypoints_val2017.json", "predictions": "run/predictions.json",
        "skeleton": "coco17", "keypoints": list(keypoints),
        "images": 50, "people": 120, "detections": int(rng.integers(150, 250)),
        "AP": {key: float(rng.uniform(0.2, 0.9)) for key in
               ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")},
        "error_ap": {area: corrections() for area in ("all", "medium", "large")},
        "keypoint_errors": {
            "totals": {kind: sum(counts[kind] for counts in per_keypoint.values()) for kind in KINDS},
            "per_keypoint": per_keypoint,
            "detections_with": {kind: int(rng.integers(0, 100)) for kind in KINDS[1:]}},
        "keypoint_similarity": {"bins": np.linspace(0, 1, 11).round(2).tolist(),
                                "per_keypoint": {name: rng.integers(0, 50, 10).tolist() for name in keypoints}},
        "background": {
            "oks": 0.5,
            "false_negatives": {"total": 30, "by_size": {"small": 20, "medium": 6, "large": 4},
                                "by_visible_keypoints": {"1-5": 15, "6-10": 8, "11-15": 5, "16+": 2}},
            "false_positives": {"total": 40, "by_score": {"bins": score_edges,
                                                          "counts": rng.integers(0, 10, 10).tolist()}}},
        "pr_curves": {"recall": recall.round(2).tolist(),
                      "all": {"0.5": curve(0.9), "0.75": curve(0.7), "0.95": curve(0.2)},
                      "medium": {"0.5": curve(0.8), "0.75": curve(0.6)},
                      "large": {"0.5": curve(0.95), "0.75": curve(0.75)}},
        "worst_images": [{"image_id": 139 + i, "file_name": f"{139 + i:012d}.jpg",
                          "missed_people": int(rng.integers(0, 5)), "false_positives": int(rng.integers(0, 5)),
                          "mean_oks": float(rng.uniform(0, 1))} for i in range(5)],
    }
    return json.loads(json.dumps(summary))


def fake_gallery(count: int = 2, file_name: str = "000000000139.jpg") -> list[dict]:
    rng = np.random.default_rng(1)
    return [{"image": rng.integers(0, 255, (48 + 8 * i, 64, 3), dtype=np.uint8),
             "file_name": file_name if i == 0 else f"{i:012d}.jpg", "caption": f"2 missed people, picture {i}"}
            for i in range(count)]


class PageChecker(HTMLParser):
    """Collects <img src>, href values, and every tag left open or closed out of order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open, self.problems, self.images, self.links, self.tags = [], [], [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src"))
        if "href" in attrs:
            self.links.append(attrs["href"])
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def check_page(path: Path) -> PageChecker:
    checker = PageChecker()
    checker.feed(path.read_text(encoding="utf-8"))
    checker.close()
    return checker


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report of the fake summary with a gallery of 2 (plots take a few seconds to draw)."""
    folder = tmp_path_factory.mktemp("report")
    summary = fake_summary()
    return summary, write_report(summary, folder, gallery=fake_gallery())


def test_report_is_well_formed_and_self_contained(report):
    _, page = report
    assert page.name == "report.html" and page.is_file()
    checker = check_page(page)
    assert not checker.problems and not checker.open
    assert {"html", "head", "body", "table", "img", "style"} <= checker.tags
    assert "script" not in checker.tags
    for address in checker.images + checker.links:
        assert "://" not in address and not address.startswith(("//", "/")), address


def test_report_shows_the_numbers_as_formatted(report):
    summary, page = report
    text = page.read_text(encoding="utf-8")
    for key, value in summary["AP"].items():
        assert f"<td>{value:.3f}</td>" in text, key
    steps = summary["error_ap"]["all"]
    gained = steps["miss"]["AP"] - steps["baseline"]["AP"]
    assert f"{steps['miss']['AP']:.3f} (+{gained:.3f})" in text
    assert f"{summary['worst_images'][0]['mean_oks']:.3f}" in text
    assert summary["worst_images"][0]["file_name"] in text


def test_every_image_the_report_shows_exists(report):
    _, page = report
    images = check_page(page).images
    assert {f"plots/{name}" for name in PLOTS} <= set(images)
    for src in images:
        assert (page.parent / src).is_file(), src


@pytest.mark.parametrize("name", PLOTS)
def test_plots_are_real_pngs(report, name):
    _, page = report
    path = page.parent / "plots" / name
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    picture = cv2.imread(str(path))
    assert picture is not None and picture.shape[0] > 100 and picture.shape[1] > 100


def test_gallery_is_written_and_shown(report):
    _, page = report
    written = sorted((page.parent / "gallery").iterdir())
    assert [path.name for path in written] == ["01_000000000139.jpg", "02_000000000001.jpg"]
    for path, item in zip(written, fake_gallery()):
        assert cv2.imread(str(path)).shape == item["image"].shape
    text = page.read_text(encoding="utf-8")
    assert [src for src in check_page(page).images if src.startswith("gallery/")] == [
        f"gallery/{path.name}" for path in written]
    assert "2 missed people, picture 0" in text and "2 missed people, picture 1" in text


@pytest.mark.parametrize("gallery", [None, []])
def test_no_gallery_no_gallery_section(tmp_path, gallery):
    page = write_report(fake_summary(), tmp_path, gallery=gallery)
    assert "Gallery" not in page.read_text(encoding="utf-8")
    assert not (tmp_path / "gallery").exists()


def test_special_characters_are_escaped_in_the_page_and_the_plots(tmp_path):
    nasty = 'a<b>&"c\'<script>x</script>.jpg'
    summary = fake_summary(keypoints=("<nose>", "$\\frac{$eye") + COCO17.keypoints[2:])
    summary["worst_images"][0]["file_name"] = nasty
    summary["predictions"] = "<i>predictions</i>.json"
    gallery = fake_gallery(1, file_name=nasty)
    gallery[0]["caption"] = "<b>caption</b> & more"
    page = write_report(summary, tmp_path, gallery=gallery)
    text = page.read_text(encoding="utf-8")
    checker = check_page(page)
    assert not checker.problems and "script" not in checker.tags and "i" not in checker.tags
    assert "<nose>" not in text and "&lt;nose&gt;" in text and "$\\frac{$eye" in text
    assert "&lt;script&gt;" in text and "&lt;b&gt;caption&lt;/b&gt; &amp; more" in text
    assert "&lt;i&gt;predictions&lt;/i&gt;.json" in text
    shown = [src for src in checker.images if src.startswith("gallery/")]
    assert len(shown) == 1 and re.fullmatch(r"gallery/01_[\w.-]+\.jpg", shown[0]), shown
    assert (tmp_path / shown[0]).is_file()


def test_curve_points_leave_out_no_data():
    recall, precision = curve_points([0.0, 0.25, 0.5, 0.75, 1.0], [1.0, 0.5, -1, 0.0, -1])
    assert recall.tolist() == [0.0, 0.25, 0.75]
    assert precision.tolist() == [1.0, 0.5, 0.0]


def test_step_gains_are_per_step_and_skip_no_data():
    assert step_gains([0.5, 0.6, 0.6, -1, 0.7]) == pytest.approx([None, 0.1, 0.0, None, None])


def test_by_size_curves_only_when_there_are_sizes(tmp_path):
    summary = fake_summary()
    del summary["pr_curves"]["medium"], summary["pr_curves"]["large"]
    page = write_report(summary, tmp_path)
    assert not (tmp_path / "plots" / "pr_curves_by_size.png").exists()
    assert "plots/pr_curves_by_size.png" not in check_page(page).images
    assert "plots/pr_curves.png" in check_page(page).images


def test_an_empty_evaluation_renders_without_warnings(tmp_path):
    """No detections, no people of a size: zeros and pycocotools' -1 everywhere, and no division
    by zero or empty-plot warning on the way."""
    summary = fake_summary()
    summary["AP"] = {key: -1.0 for key in summary["AP"]}
    for steps in summary["error_ap"].values():
        for values in steps.values():
            values.update(AP=-1.0, AP50=-1.0, AP75=-1.0)
    errors = summary["keypoint_errors"]
    for counts in [errors["totals"], errors["detections_with"], *errors["per_keypoint"].values()]:
        counts.update(dict.fromkeys(counts, 0))
    summary["detections"] = 0
    for curves in summary["pr_curves"].values():
        for threshold in curves if isinstance(curves, dict) else ():
            curves[threshold] = [-1.0] * 101
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = write_report(summary, tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "<td>n/a</td>" in text and "-1.000" not in text
    for name in PLOTS:
        assert cv2.imread(str(tmp_path / "plots" / name)) is not None, name


def test_importing_the_module_leaves_matplotlib_unloaded():
    code = "import sys, manypose.analysis.report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
