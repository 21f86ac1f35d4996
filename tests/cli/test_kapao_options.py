"""KAPAO's fusion options on the command line: eval --count-fused, --overwrite-tol, --no-kp-dets."""
import pytest

from conftest import shared_path
from kapao_reference import CHECKPOINT
from manypose.cli import main

pytest.importorskip("torch")


def eval_args(*extra):
    folder = shared_path("data/samples/ochuman")
    return ["eval", "--annotations", str(folder / "test_ochuman.json"), "--images", str(folder), "--model",
            str(CHECKPOINT), "--input-size", "128", "--score-threshold", "0.5", "--quiet", *extra]


def fused_total(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("keypoint objects fused:"))
    return int(line.split(":")[1].split("(")[0])


def test_kapao_eval_counts_fused_keypoints_and_options_change_them(capsys):
    assert main(eval_args("--count-fused")) == 0
    default = fused_total(capsys.readouterr().out)
    assert main(eval_args("--count-fused", "--overwrite-tol", "1")) == 0
    narrow = fused_total(capsys.readouterr().out)
    assert main(eval_args("--count-fused", "--no-kp-dets")) == 0
    assert fused_total(capsys.readouterr().out) == 0
    assert default > narrow


def test_kapao_options_are_refused_by_other_models(capsys):
    folder = shared_path("data/samples/ochuman")
    with pytest.raises(SystemExit, match="has no keypoint objects to fuse"):
        main(["eval", "--annotations", str(folder / "test_ochuman.json"), "--images", str(folder), "--quiet",
              "--count-fused"])
