import numpy as np
import torch

from manypose.decoders.yolo_pose_fields import decode_levels
from manypose.models.yolo_pose import PoseHead


def test_numpy_decoding_equals_the_network_decoding():
    head = PoseHead(1, (17, 3), [64, 128, 256], [8, 16, 32], light_score_branch=True)
    generator = torch.Generator().manual_seed(0)
    levels = [torch.randn(2, 64 + 1 + 51, h, w, generator=generator) * 3 for h, w in [(12, 20), (6, 10), (3, 5)]]
    expected = head.decode(levels).numpy()
    actual = decode_levels([level.numpy() for level in levels], (8, 16, 32), 1, (17, 3))
    assert actual.shape == expected.shape == (2, 56, 12 * 20 + 6 * 10 + 3 * 5)
    assert np.abs(actual - expected).max() < 1e-3
