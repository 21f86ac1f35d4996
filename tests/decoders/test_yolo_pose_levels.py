import numpy as np
import torch

from manypose.decoders.yolo_pose import decode_levels
from manypose.heads import PoseObjectsHead
from manypose.models.yolo_pose import PoseHead
from manypose.skeleton import COCO17


def test_numpy_decoding_equals_the_network_decoding():
    head = PoseHead(PoseObjectsHead(COCO17), [64, 128, 256], light_score_branch=True)
    generator = torch.Generator().manual_seed(0)
    levels = [torch.randn(2, 64 + 1 + 51, h, w, generator=generator) * 3 for h, w in [(12, 20), (6, 10), (3, 5)]]
    expected = head.decode(levels).numpy()
    actual = decode_levels([level.numpy() for level in levels], (8, 16, 32), 1, (17, 3), 16)
    assert actual.shape == expected.shape == (2, 56, 12 * 20 + 6 * 10 + 3 * 5)
    assert np.abs(actual - expected).max() < 1e-3
