"""OpenPifPaf checkpoints, written by OpenPifPaf itself (tests/fixtures/openpifpaf/make_reference.py,
tiny widths), converted with `manypose convert` give OpenPifPaf's own fields on real images."""
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from manypose.cli import main
from manypose.convert import CheckpointError, model_file_from_checkpoint
from manypose.convert.openpifpaf import openpifpaf_model_file
from manypose.convert.torch_pickle import load_checkpoint
from manypose.heads.composite_fields import COCO17_DENSE_ASSOCIATIONS
from manypose.modelfile import read_model_folder
from manypose.models import inference_network
from manypose.skeleton import COCO17

from conftest import modules_imported_by, shared_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openpifpaf"
REFERENCE = np.load(FIXTURES / "fields.npz")
MODELS = ("tiny-shufflenetv2k", "tiny-resnet")


def reference_fields(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(cif, caf) as OpenPifPaf gave them; its dense caf25 head follows caf in our one CAF head."""
    cafs = [REFERENCE[f"{name}/{head}"] for head in ("caf", "caf25") if f"{name}/{head}" in REFERENCE]
    return REFERENCE[f"{name}/cif"], np.concatenate(cafs)


def fields_of(model, image: np.ndarray) -> list[np.ndarray]:
    """Our network's fields on an image prepared by the model's input spec at the image's own size."""
    spec = dataclasses.replace(model.input_spec, size=max(image.shape[:2]))  # no resize, as the reference
    blob, _ = spec.prepare(image)
    with torch.no_grad():
        return [output[0].numpy() for output in inference_network(model)(torch.from_numpy(blob))]


def crop(name: str) -> np.ndarray:
    x, y, width, height = REFERENCE[f"{name}/crop"]
    image = cv2.imread(str(shared_path(f"data/coco-mini/val2017/{REFERENCE[f'{name}/image']}")))
    return image[y:y + height, x:x + width]


@pytest.mark.parametrize("name", MODELS)
def test_converted_checkpoint_gives_openpifpafs_fields(name, tmp_path):
    assert main(["convert", str(FIXTURES / f"{name}.pkl"), str(tmp_path / name), "--dtype", "float32"]) == 0
    cif, caf = fields_of(read_model_folder(tmp_path / name), crop(name))
    expected_cif, expected_caf = reference_fields(name)
    assert cif.shape == expected_cif.shape and caf.shape == expected_caf.shape
    assert np.abs(cif - expected_cif).max() < 1e-4
    assert np.abs(caf - expected_caf).max() < 1e-4


def test_the_description_is_read_from_the_records(tmp_path):
    shufflenet = openpifpaf_model_file(FIXTURES / "tiny-shufflenetv2k.pkl")
    resnet = openpifpaf_model_file(FIXTURES / "tiny-resnet.pkl")
    assert shufflenet.architecture["backbone"] == {
        "kind": "shufflenetv2k", "stem_channels": 8, "input_conv2_channels": 0, "stage_repeats": [1, 2, 1],
        "stage_channels": [16, 32, 48], "final_channels": 24, "kernel": 5}
    assert resnet.architecture["backbone"] == {
        "kind": "resnet", "stem_channels": 16, "stem_kernel": 7, "stem_pool": False, "input_conv2": True,
        "stage_repeats": [1, 2, 1, 1], "stage_widths": [4, 8, 8, 4], "expansion": 4, "last_stage_dilation": 2}
    assert resnet.architecture["batch_norm_eps"] == 1e-3
    cif, caf = shufflenet.heads
    assert (cif.kind, cif.stride, cif.upsample, cif.skeleton) == ("cif", 8, 2, COCO17)
    assert cif.score_weights == (3.0,) * 3 + (1.0,) * 14
    assert caf.associations == COCO17.edges
    assert resnet.heads[1].associations == COCO17.edges + COCO17_DENSE_ASSOCIATIONS
    spec = shufflenet.input_spec
    assert (spec.size, spec.stride, spec.corner_aligned, spec.pad_value) == (641, 16, True, (124, 116, 104))
    assert spec.scale == pytest.approx(tuple(1 / (255 * s) for s in (0.229, 0.224, 0.225)))
    assert shufflenet.description["provenance"]["source_version"] == "0.13.11"


def test_a_checkpoint_loads_by_path_without_openpifpaf_or_torchvision():
    code = ("import manypose, numpy as np; "
            f"e = manypose.load({str(FIXTURES / 'tiny-resnet.pkl')!r}, backend='torch'); "
            "print(e(np.full((60, 80, 3), 90, np.uint8)).keypoints.shape)")
    assert not {"openpifpaf", "torchvision"} & modules_imported_by(code)


def mutated(name: str, change) -> dict:
    content = load_checkpoint(FIXTURES / f"{name}.pkl")
    change(content["model"])
    return content


def module(shell, path: str):
    for part in path.split("."):
        shell = shell._modules[part]
    return shell


def test_a_layer_of_another_geometry_is_refused():
    def dilate(shell):
        module(shell, "base_net.stage4.0.branch2.3").dilation = (2, 2)

    with pytest.raises(CheckpointError, match=r"stage4\.0\.branch2\.3: dilation \(2, 2\)"):
        openpifpaf_model_file(FIXTURES / "tiny-shufflenetv2k.pkl", content=mutated("tiny-shufflenetv2k", dilate))


def test_unsupported_backbones_and_heads_and_malformed_records_are_named():
    def mobilenet(shell):
        module(shell, "base_net").qualified_name = "openpifpaf.network.basenetworks.MobileNetV2"

    def detection_head(shell):
        module(shell, "head_nets.0").meta.qualified_name = "openpifpaf.headmeta.CifDet"

    def headless(shell):
        del module(shell, "head_nets")._modules["1"].meta.skeleton

    with pytest.raises(CheckpointError, match="MobileNetV2"):
        openpifpaf_model_file(FIXTURES / "tiny-resnet.pkl", content=mutated("tiny-resnet", mobilenet))
    with pytest.raises(CheckpointError, match="CifDet"):
        openpifpaf_model_file(FIXTURES / "tiny-resnet.pkl", content=mutated("tiny-resnet", detection_head))
    with pytest.raises(CheckpointError, match="tiny-resnet.pkl: a malformed OpenPifPaf checkpoint .AttributeError"):
        openpifpaf_model_file(FIXTURES / "tiny-resnet.pkl", content=mutated("tiny-resnet", headless))


def test_the_converted_folder_keeps_where_it_came_from(tmp_path):
    assert main(["convert", str(FIXTURES / "tiny-resnet.pkl"), str(tmp_path / "r")]) == 0
    description = json.loads((tmp_path / "r" / "model.json").read_text())
    assert description["architecture"]["family"] == "pifpaf"
    assert [head["kind"] for head in description["heads"]] == ["cif", "caf"]
    assert description["provenance"]["source_format"] == "openpifpaf"
    assert model_file_from_checkpoint(FIXTURES / "tiny-resnet.pkl").identity != \
        model_file_from_checkpoint(FIXTURES / "tiny-shufflenetv2k.pkl").identity


def test_a_checkpoint_from_before_score_weights_gets_openpifpafs_migration():
    def older(shell):
        del module(shell, "head_nets.0").meta.score_weights

    model = openpifpaf_model_file(FIXTURES / "tiny-shufflenetv2k.pkl", content=mutated("tiny-shufflenetv2k", older))
    assert model.heads[0].score_weights == (3.0,) * 3 + (1.0,) * 14
