import pytest
import torch

from manypose.models import build_network, load_weights
from manypose.models.yolo_pose import architecture

from conftest import coco_pose_heads

# parameter counts (millions) published for each size in Ultralytics' pose model tables
PUBLISHED_MILLIONS = {
    "yolov8-pose": {"n": 3.3, "s": 11.6, "m": 26.4, "l": 44.4, "x": 69.4},
    "yolo11-pose": {"n": 2.9, "s": 9.9, "m": 20.9, "l": 26.2, "x": 58.8},
}


@pytest.mark.parametrize("family", sorted(PUBLISHED_MILLIONS))
@pytest.mark.parametrize("size", "nsmlx")
def test_every_size_builds_with_the_published_parameter_count(family, size):
    network = build_network(architecture(family, size), coco_pose_heads())
    millions = sum(p.numel() for p in network.parameters()) / 1e6
    assert millions == pytest.approx(PUBLISHED_MILLIONS[family][size], abs=0.1)  # tables round to 0.1M


@pytest.mark.parametrize("family", sorted(PUBLISHED_MILLIONS))
def test_output_layout_for_non_square_inputs(family):
    network = build_network(architecture(family, "n"), coco_pose_heads()).eval()
    with torch.no_grad():
        output = network(torch.rand(2, 3, 96, 160))
    anchors = sum((96 // s) * (160 // s) for s in (8, 16, 32))
    assert output.shape == (2, 4 + 1 + 17 * 3, anchors)
    scores = output[:, 4]
    assert ((scores >= 0) & (scores <= 1)).all()


def test_folding_batch_norms_keeps_the_output():
    torch.manual_seed(0)
    network = build_network(architecture("yolo11-pose", "n"), coco_pose_heads()).eval()
    for module in network.modules():  # non-trivial statistics so folding has work to do
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        before = network(image)
        after = network.fold_batch_norms()(image)
    assert torch.allclose(before, after, atol=1e-3)


def test_unknown_family_and_size_are_rejected():
    with pytest.raises(ValueError, match="unknown family"):
        architecture("yolov5-pose", "n")
    with pytest.raises(ValueError, match="unknown size"):
        architecture("yolo11-pose", "q")
    with pytest.raises(ValueError, match="unknown network family"):
        build_network({"family": "nope"}, coco_pose_heads())


def test_load_weights_lists_what_does_not_fit():
    network = build_network(architecture("yolo11-pose", "n"), coco_pose_heads())
    weights = {k: v.numpy() for k, v in network.state_dict().items()}
    weights.pop("model.0.conv.weight")
    weights["model.1.conv.weight"] = weights["model.1.conv.weight"][:1]
    weights["extra.weight"] = weights["model.1.bn.bias"]
    with pytest.raises(ValueError) as error:
        load_weights(network, weights)
    message = str(error.value)
    assert "model.0.conv.weight" in message and "extra.weight" in message and "model.1.conv.weight" in message
