"""The OffsetGuided network: its fields' layout, batch norms folded, ONNX export and the usual
API (torch and ONNX Runtime give the same poses)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import manypose
from manypose import modelfile
from manypose.export import export_onnx
from manypose.heads import codec_for
from manypose.models import build_network, folded
from manypose.zoo import DEMO_IMAGE, untrained_model


def tiny_description() -> dict:
    base = untrained_model("offsetguided-resnet26").description
    backbone = {**base["architecture"]["backbone"], "stem_channels": 8, "stage_widths": [4, 8, 8, 16],
                "stage_repeats": [1, 1, 1, 1]}
    return {**base, "name": "offsetguided-test", "architecture": {**base["architecture"], "backbone": backbone,
                                                                  "neck_channels": 16},
            "input": {**base["input"], "size": 256}}


def tiny_network(description):
    torch.manual_seed(0)
    network = build_network(description["architecture"], modelfile.ModelFile(description).heads)
    for module in network.modules():  # batch norms away from the identity, so that folding them shows
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.running_mean, -0.2, 0.2)
            torch.nn.init.uniform_(module.running_var, 0.5, 1.5)
    return network.eval()


def test_the_fields_are_heatmaps_refinement_and_guiding_offsets_at_stride_4():
    description = tiny_description()
    network = tiny_network(description)
    head = modelfile.ModelFile(description).heads[0]
    with torch.no_grad():
        fields = network(torch.randn(2, 3, 96, 128))
    assert fields.shape == (2, 3 * 17 + 2 * 19, 24, 32) and head.channels == fields.shape[1]
    assert 0 <= fields[:, :17].min() and fields[:, :17].max() <= 1
    with torch.no_grad():
        (raw,) = network.raw_outputs(torch.ones(1, 3, 64, 64))
        assert torch.equal(raw, network(torch.ones(1, 3, 64, 64)))


def test_untrained_heatmaps_start_near_the_background_value():
    network = build_network(untrained_model("offsetguided-resnet26").architecture,
                            untrained_model("offsetguided-resnet26").heads).eval()
    with torch.no_grad():
        heatmaps = network(torch.zeros(1, 3, 64, 64))[:, :17]
    assert float(heatmaps.mean()) == pytest.approx(0.01, abs=0.005)


def test_folding_the_batch_norms_keeps_the_fields():
    network = tiny_network(tiny_description())
    images = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected = network(images)
        assert torch.allclose(folded(network)(images), expected, atol=1e-5)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    description = tiny_description()
    network = tiny_network(description)
    weights = {k: v.numpy() for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    folder = modelfile.save(tmp_path_factory.mktemp("offsetguided") / "model", description, weights, dtype="float32")
    return folder


def test_the_onnx_export_gives_the_torch_poses(saved_model):
    export_onnx(modelfile.read_model_folder(saved_model), saved_model / modelfile.ONNX_FILE)
    by_torch = manypose.load(str(saved_model), backend="torch", score_threshold=0.0)(str(DEMO_IMAGE))
    by_onnx = manypose.load(str(saved_model), score_threshold=0.0)(str(DEMO_IMAGE))
    assert len(by_torch) == len(by_onnx)
    np.testing.assert_allclose(by_onnx.keypoints, by_torch.keypoints, atol=0.05)


def test_int8_keeps_the_three_output_convolutions_in_float(saved_model):
    import onnx

    path = export_onnx(modelfile.read_model_folder(saved_model), saved_model / "for-names.onnx")
    pattern = codec_for(modelfile.read_model_folder(saved_model).heads).float_layers()
    kept = [node.name for node in onnx.load(str(path)).graph.node if pattern.match(node.name)]
    assert sorted(kept) == ["/head/guiding/Conv", "/head/heatmaps/Conv", "/head/refinement/Conv"]


def test_the_hourglass_backbone_takes_inputs_in_multiples_of_its_depths_stride():
    model = untrained_model("offsetguided-hourglass")
    assert model.input_spec.stride == 4 * 2 ** model.architecture["backbone"]["depth"]
    small = {**model.architecture, "backbone": {"kind": "hourglass", "depth": 2, "channels": 8}, "neck_channels": 8}
    network = build_network(small, model.heads).eval()
    with torch.no_grad():
        assert network(torch.randn(1, 3, 48, 80)).shape == (1, 89, 12, 20)  # multiples of 16


def test_an_unknown_backbone_is_refused_with_the_known_ones():
    model = untrained_model("offsetguided-resnet26")
    with pytest.raises(ValueError, match="unknown backbone 'vgg'; known: resnet, hourglass"):
        build_network({**model.architecture, "backbone": {"kind": "vgg"}}, model.heads)
