"""No command writes over its own input, however the output is spelled or reached: a plain path,
a relative spelling, a symlink are refused in one line, exit 2, before any work; a hard link is
replaced by a new file, and the input keeps its bytes. (Folders, the outputs of convert and
train, cannot be hard-linked.)"""
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from manypose.cli import main
from manypose.skeleton import COCO17
from manypose.zoo import DEMO_IMAGE, find_model


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working folder as a user's: a photo, a folder of images, a short video, a folder of
    frames, COCO annotations, a model folder, checkpoints, and an empty folder `sub`."""
    monkeypatch.chdir(tmp_path)
    for folder in ("sub", "imgs", "frames", "model", "tfjs", "runs/last"):
        Path(folder).mkdir(parents=True)
    shutil.copy(DEMO_IMAGE, "a.jpg")
    shutil.copy(DEMO_IMAGE, "imgs/a.jpg")
    shutil.copy(DEMO_IMAGE, "frames/1.jpg")
    write_clip("clip.mp4")
    write_annotations("ann.json")
    shutil.copy(find_model().folder / "model.json", "model/model.json")
    for name in ("model.onnx", "weights.safetensors"):  # refused before loading: any bytes do
        Path("model", name).write_bytes(b"the model's own " + name.encode())
    Path("runs/last/model.json").write_text("an earlier run's model")
    Path("tfjs/model.json").write_text("a TensorFlow.js graph, named as they often are")
    Path("ckpt.pt").write_bytes(b"a checkpoint")
    return tmp_path


def write_clip(path, frames: int = 3) -> None:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for index in range(frames):
        writer.write(np.full((48, 64, 3), 40 * index, np.uint8))
    writer.release()


def write_annotations(path) -> None:
    person = {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 20000.0,
              "bbox": [150, 50, 200, 400], "num_keypoints": 1, "keypoints": [250, 100, 2] + [0] * 48}
    Path(path).write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 512, "height": 512}], "annotations": [person],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoints), "skeleton": []}]}))


EVAL = ["eval", "--annotations", "ann.json", "--images", "imgs"]
TRAIN = ["train", "--train-annotations", "ann.json", "--train-images", "imgs"]
# each command's output options, and the input each is pointed at
OUTPUTS_ONTO_INPUTS = {
    "predict JSON onto the image": (["predict", "a.jpg", "--json-output", "{out}"], "a.jpg"),
    "predict drawn images onto the images": (["predict", "imgs/a.jpg", "--image-output", "{out}"], "imgs"),
    "predict JSON onto the model": (["predict", "a.jpg", "--model", "model", "--json-output", "{out}"],
                                    "model/model.onnx"),
    "video onto the video": (["video", "clip.mp4", "--video-output", "{out}"], "clip.mp4"),
    "video JSON lines onto the video": (["video", "clip.mp4", "--json-output", "{out}"], "clip.mp4"),
    "video JSON lines onto a frame": (["video", "frames", "--json-output", "{out}"], "frames/1.jpg"),
    "video JSON lines onto the frames": (["video", "frames", "--json-output", "{out}"], "frames"),
    "eval predictions onto the annotations": (EVAL + ["--json-output", "{out}"], "ann.json"),
    "eval stats onto an image": (EVAL + ["--stats-output", "{out}"], "imgs/a.jpg"),
    "bench stats onto an image": (["bench", "--images", "imgs", "--stats-output", "{out}"], "imgs/a.jpg"),
    "bench stats onto a calibration image": (["bench", "--images", "frames", "--int8", "--calibration-images", "imgs",
                                              "--stats-output", "{out}"], "imgs/a.jpg"),
    "export onto the model's ONNX": (["export", "model", "{out}"], "model/model.onnx"),
    "export onto the model's weights": (["export", "model", "{out}", "--int8"], "model/weights.safetensors"),
    "convert onto the checkpoint": (["convert", "ckpt.pt", "{out}"], "ckpt.pt"),
    "convert into the checkpoint's folder": (["convert", "tfjs/model.json", "{out}", "--force"], "tfjs"),
    "train output onto the images": (TRAIN + ["--output", "{out}"], "imgs"),
    "train output onto the annotations": (TRAIN + ["--output", "{out}"], "ann.json"),
    "train output holding the starting model": (TRAIN + ["--model", "runs/last", "--output", "{out}"], "runs"),
    "train samples onto the images": (TRAIN + ["--output", "new-run", "--save-samples", "{out}"], "imgs"),
}


def spelled(path: str, spelling: str) -> str:
    """`path`, relative to the working folder, as a user may write it."""
    if spelling == "relative":
        return os.path.join("sub", "..", path)
    if spelling == "symlink":
        link = Path(f"link-{Path(path).resolve().name}")
        link.symlink_to(Path(path).resolve())
        return str(link)
    return path


def every_file(folder: Path) -> dict:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()}


@pytest.mark.parametrize("spelling", ["plain", "relative", "symlink"])
@pytest.mark.parametrize("case", OUTPUTS_ONTO_INPUTS)
def test_an_output_onto_an_input_is_refused_in_one_line(workspace, capsys, case, spelling):
    argv, target = OUTPUTS_ONTO_INPUTS[case]
    out = spelled(target, spelling)
    before = every_file(workspace)
    assert main([part.format(out=out) for part in argv]) == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1 and error.startswith(f"manypose {argv[0]}: error: {out}")
    assert "would overwrite" in error or "cannot be, or hold" in error
    assert every_file(workspace) == before, "the inputs are untouched and nothing was written"


# a hard link to an input under the output's name, and the input it shares its bytes with
HARD_LINKED_OUTPUTS = {
    "predict JSON": (["predict", "a.jpg", "--json-output", "out.json"], "out.json", "a.jpg"),
    "predict drawn image": (["predict", "imgs/a.jpg", "--image-output", "sub"], "sub/a.jpg", "imgs/a.jpg"),
    "video": (["video", "clip.mp4", "--video-output", "out.mp4"], "out.mp4", "clip.mp4"),
    "eval predictions": (EVAL + ["--json-output", "out.json"], "out.json", "ann.json"),
    "bench stats": (["bench", "--images", "imgs", "--rounds", "1", "--stats-output", "out.json"], "out.json",
                    "imgs/a.jpg"),
}


@pytest.mark.parametrize("case", HARD_LINKED_OUTPUTS)
def test_a_hard_link_to_an_input_is_replaced_and_the_input_kept(workspace, case, capsys):
    argv, output, target = HARD_LINKED_OUTPUTS[case]
    os.link(target, output)
    before = Path(target).read_bytes()
    assert main(argv + ["--quiet"]) == 0
    assert Path(target).read_bytes() == before
    assert not os.path.samefile(output, target) and Path(output).stat().st_size > 0


def test_convert_replaces_a_hard_link_in_its_folder_and_keeps_the_checkpoint(workspace, yolo11n_checkpoint):
    shutil.copy(yolo11n_checkpoint, "yolo.pt")
    Path("out").mkdir()
    os.link("yolo.pt", "out/weights.safetensors")
    before = Path("yolo.pt").read_bytes()
    assert main(["convert", "yolo.pt", "out"]) == 0
    assert Path("yolo.pt").read_bytes() == before and not os.path.samefile("yolo.pt", "out/weights.safetensors")


def test_the_drawn_images_may_go_beside_their_photos_under_new_names(workspace, capsys):
    shutil.copy(DEMO_IMAGE, "imgs/b.png")
    before = every_file(workspace / "imgs")
    assert main(["predict", "imgs/b.png", "--image-output", "imgs", "--quiet"]) == 0
    assert every_file(workspace / "imgs").items() >= before.items() and Path("imgs/b.jpg").is_file()
