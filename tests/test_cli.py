"""The command line, run in-process through manypose.cli.main (plus one real entry-point call)."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from manypose.cli import main
from manypose.zoo import DEMO_IMAGE


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """A folder of every awkward input a user may hand us, plus one good photo."""
    folder = tmp_path_factory.mktemp("inputs")
    photo = cv2.imread(str(DEMO_IMAGE))
    cv2.imwrite(str(folder / "good.jpg"), photo)
    data = (folder / "good.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "notes.jpg").write_text("not an image at all")
    cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "rgba.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "deep.png"), photo.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "dot.png"), photo[:1, :1])
    cv2.imwrite(str(folder / "huge.jpg"), np.zeros((10000, 10000, 3), np.uint8))
    return folder


def test_predict_writes_json_and_overlays(tmp_path, capsys):
    code = main(["predict", str(DEMO_IMAGE), "--json-output", str(tmp_path / "out.json"),
                 "--image-output", str(tmp_path / "drawn"), "--quiet"])
    assert code == 0
    entries = json.loads((tmp_path / "out.json").read_text())
    assert len(entries) == 1 and entries[0]["width"] == 512
    person = entries[0]["poses"][0]
    assert len(person["keypoints"]) == 17 and len(person["keypoints"][0]) == 3 and len(person["box"]) == 4
    drawn = cv2.imread(str(tmp_path / "drawn" / "astronaut.jpg"))
    assert drawn is not None and drawn.shape == (512, 512, 3)


def test_predict_prints_a_summary_without_json(capsys):
    assert main(["predict", str(DEMO_IMAGE), "--quiet"]) == 0
    assert "astronaut.jpg: 1 person (scores" in capsys.readouterr().out


def test_batch_goes_on_past_bad_files_and_fails_at_the_end(bad_inputs, tmp_path, capsys):
    missing = bad_inputs / "missing.jpg"
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    code = main(["predict", str(bad_inputs), str(missing), str(empty_dir),
                 "--json-output", str(tmp_path / "out.json"), "--quiet"])
    assert code == 1
    errors = capsys.readouterr().err
    for name in ("truncated.jpg", "notes.jpg", "missing.jpg", "empty"):
        assert name in errors
    entries = {os.path.basename(e["file"]): e for e in json.loads((tmp_path / "out.json").read_text())}
    assert set(entries) == {"good.jpg", "truncated.jpg", "notes.jpg", "grey.png", "rgba.png", "deep.png",
                            "dot.png", "huge.jpg", "missing.jpg", "empty"}, "nothing is lost"
    for failed in ("truncated.jpg", "notes.jpg", "missing.jpg", "empty"):
        assert "error" in entries[failed]
    for variant in ("good.jpg", "grey.png", "rgba.png", "deep.png"):
        assert len(entries[variant]["poses"]) == 1, variant
    assert entries["dot.png"]["poses"] == [] and entries["huge.jpg"]["width"] == 10000


def test_json_output_is_replaced_atomically(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text('["previous complete result"]')

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert main(["predict", str(DEMO_IMAGE), "--json-output", str(target), "--quiet"]) == 1
    assert json.loads(target.read_text()) == ["previous complete result"]
    assert os.listdir(tmp_path) == ["out.json"], "no temporary file left behind"


def test_eval_prints_summary_and_writes_stats(dev_annotations, dev_images, tmp_path, capsys):
    code = main(["eval", "--annotations", str(dev_annotations), "--images", str(dev_images),
                 "--stats-output", str(tmp_path / "stats.json"), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Average Precision  (AP) @[ IoU=0.50:0.95" in out
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["AP"] == pytest.approx(0.446, abs=0.002) and stats["images"] == 79 and stats["seconds_per_image"] > 0


def test_convert_and_predict_with_the_converted_folder(yolo11n_checkpoint, tmp_path, capsys):
    assert main(["convert", str(yolo11n_checkpoint), str(tmp_path / "mine")]) == 0
    assert (tmp_path / "mine" / "model.json").is_file()
    assert main(["predict", str(DEMO_IMAGE), "--model", str(tmp_path / "mine"), "--quiet"]) == 0
    assert "1 person" in capsys.readouterr().out


def test_convert_rejects_a_foreign_file_in_one_line(tmp_path, capsys):
    (tmp_path / "x.pt").write_text("hello")
    assert main(["convert", str(tmp_path / "x.pt"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "x.pt" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_models_lists_the_bundled_default(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name": "yolo11n-pose", "where": "bundled"}.items() <= rows[0].items()


def test_unknown_model_is_a_one_line_error(capsys):
    assert main(["predict", str(DEMO_IMAGE), "--model", "nonexistent-model"]) == 2
    assert "unknown model 'nonexistent-model'" in capsys.readouterr().err


def test_installed_entry_point_explains_itself():
    result = subprocess.run([sys.executable, "-m", "manypose.cli", "predict", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--json-output" in result.stdout and "--model" in result.stdout


def test_export_writes_onnx_that_predicts_the_same(tmp_path, capsys):
    from manypose.zoo import find_model

    model = shutil.copytree(find_model().folder, tmp_path / "model")
    os.link(model / "model.onnx", tmp_path / "m.onnx")  # a hard link is replaced, the model's own file kept
    before = (model / "model.onnx").read_bytes()
    assert main(["export", str(model), str(tmp_path / "m.onnx")]) == 0
    assert (model / "model.onnx").read_bytes() == before
    assert not os.path.samefile(model / "model.onnx", tmp_path / "m.onnx")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [d.shape for d in session.get_inputs()] == [["batch", 3, "height", "width"]]
    assert main(["export", "yolo11n-pose", str(tmp_path / "q.onnx"), "--int8"]) == 0  # the demo image calibrates
    import onnx

    assert any(node.op_type == "QuantizeLinear" for node in onnx.load(str(tmp_path / "q.onnx")).graph.node)


@pytest.mark.parametrize("option, value, message", [
    ("--input-size", "0", "argument --input-size: must be 1 or more, not 0"),
    ("--threads", "0", "argument --threads: threads must be a whole number from 1 to"),
    ("--threads", "1000000", "argument --threads: threads must be a whole number from 1 to"),
    ("--threads", "two", "argument --threads: expected a whole number, not 'two'"),
])
def test_bad_counts_are_refused_in_one_line(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(DEMO_IMAGE), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("manypose predict: error: ") and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (["--input-size", "650"], "not a multiple of the model's stride 32 (try 640 or 672)"),
    (["--input-size", "100000"], "input size must be a whole number of pixels from 32 to 4096"),
    (["--score-threshold", "nan"], "score_threshold must be a number in [0, 1]"),
    (["--iou-threshold", "1.5"], "iou_threshold must be a number in [0, 1]"),
    (["--complete-poses"], "the pose_objects decoder has no complete_poses"),
])
def test_bad_options_end_with_one_line_and_exit_2(options, message, capsys):
    assert main(["predict", str(DEMO_IMAGE), "--quiet", *options]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_predict_counts_one_person_and_says_where_it_wrote(tmp_path, capsys):
    assert main(["predict", str(DEMO_IMAGE), "--quiet", "--image-output", str(tmp_path / "drawn")]) == 0
    captured = capsys.readouterr()
    assert "astronaut.jpg: 1 person (scores" in captured.out
    assert f"wrote the drawn images into {tmp_path / 'drawn'}" in captured.err


def test_overlays_never_replace_inputs_or_each_other(tmp_path, capsys):
    photo = cv2.imread(str(DEMO_IMAGE))
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "a.jpg"), photo)
    cv2.imwrite(str(tmp_path / "one" / "a.png"), photo)
    before = (tmp_path / "one" / "a.jpg").read_bytes()
    assert main(["predict", str(tmp_path / "one"), "--quiet", "--image-output", str(tmp_path / "one")]) == 2
    assert "the drawn image would overwrite the input image" in capsys.readouterr().err
    assert (tmp_path / "one" / "a.jpg").read_bytes() == before and len(list((tmp_path / "one").iterdir())) == 2
    assert main(["predict", str(tmp_path / "one"), str(tmp_path / "two"), "--quiet",
                 "--image-output", str(tmp_path / "drawn")]) == 0
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["a.jpg", "a_jpg.jpg", "a_png.jpg"]


def test_unwritable_outputs_are_refused_before_the_run(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert main(["predict", str(DEMO_IMAGE), "--quiet", "--json-output", str(tmp_path / "file.txt" / "o.json")]) == 1
    assert "cannot write the JSON output there" in capsys.readouterr().err
    assert main(["predict", str(DEMO_IMAGE), "--quiet", "--image-output", str(tmp_path / "file.txt")]) == 1
    assert "is a file; the drawn images needs a folder" in capsys.readouterr().err


def test_json_goes_through_symlinks_and_to_stdout(tmp_path):
    target = tmp_path / "target.json"
    target.write_text("old")
    (tmp_path / "link.json").symlink_to(target)
    assert main(["predict", str(DEMO_IMAGE), "--quiet", "--json-output", str(tmp_path / "link.json")]) == 0
    assert (tmp_path / "link.json").is_symlink() and json.loads(target.read_text())[0]["width"] == 512
    for path in ("-", "/dev/stdout"):
        result = subprocess.run([sys.executable, "-m", "manypose.cli", "predict", str(DEMO_IMAGE), "--quiet",
                                 "--json-output", path], capture_output=True, text=True, check=True)
        assert json.loads(result.stdout)[0]["width"] == 512


def test_convert_keeps_another_model_unless_forced(tmp_path, capsys, yolo11n_checkpoint):
    folder = tmp_path / "model"
    assert main(["convert", str(yolo11n_checkpoint), str(folder)]) == 0
    (folder / "model.onnx").write_text("an export of these weights")
    assert main(["convert", str(yolo11n_checkpoint), str(folder)]) == 2
    assert "holds a model already; pass --force" in capsys.readouterr().err
    assert main(["convert", str(yolo11n_checkpoint), str(folder), "--force"]) == 0
    assert not (folder / "model.onnx").exists(), "the old weights' export goes with them"


def test_an_onnx_file_or_a_video_gets_a_line_that_says_what_to_do(tmp_path, capsys):
    from manypose.zoo import find_model

    assert main(["predict", str(DEMO_IMAGE), "--model", str(find_model().folder / "model.onnx")]) == 2
    assert "pass the model folder it came from" in capsys.readouterr().err
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    assert main(["predict", str(tmp_path / "clip.mp4"), "--quiet"]) == 1
    assert "a video, not an image" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch, capsys):
    import manypose.zoo

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(manypose.zoo, "list_models", broken)
    assert main(["models"]) == 1
    assert capsys.readouterr().err.strip() == ("manypose models: error: unexpected ZeroDivisionError: a bug "
                                               "(set MANYPOSE_DEBUG=1 for the traceback, and please report it)")
    monkeypatch.setenv("MANYPOSE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["models"])
