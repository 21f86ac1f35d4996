import torch

from manypose.heads import PafHead
from manypose.models import build_network
from manypose.models.openpose import TfSamePad, resize_bilinear_tf1
from manypose.skeleton import OPENPOSE18

OPENPOSE_HEADS = (PafHead(OPENPOSE18),)


def small_arch(width: float = 0.5) -> dict:
    def c(channels):
        return max(8, int(channels * width + 4) // 8 * 8)

    # strides 2 (stem), 2, 2, 2: the fine features at 1/8, the coarse ones at 1/16
    blocks = [[c(32), c(16), 1], [c(16) * 6, c(24), 2], [c(24) * 6, c(32), 2], [c(32) * 6, c(64), 2]]
    return {"family": "openpose_mobilenet", "stem": c(32), "blocks": blocks, "fine_block": 2, "coarse_block": 3,
            "stage_layers": [[[3, 32], [1, 38]], [[3, 32], [1, 38]]]}


def test_tensorflow_same_padding_puts_the_extra_at_the_end():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    padded = TfSamePad(3, 2)(x)
    assert padded.shape == (1, 1, 5, 5)
    assert padded[0, 0, :4, :4].equal(x[0, 0]) and padded[0, 0, 4].abs().sum() == 0
    assert TfSamePad(3, 2)(torch.zeros(1, 1, 5, 5)).shape == (1, 1, 7, 7)  # odd: one on each side


def test_tensorflow1_bilinear_resize_has_no_half_pixel_offset():
    x = torch.tensor([[[[0.0, 10.0]]]])
    assert resize_bilinear_tf1(x, 1, 4).flatten().tolist() == [0.0, 5.0, 10.0, 10.0]


def test_widths_build_and_keep_the_output_layout():
    for width in (0.5, 1.0, 1.4):
        network = build_network(small_arch(width), OPENPOSE_HEADS).eval()
        with torch.no_grad():
            output = network(torch.rand(1, 3, 64, 96) * 255)
        assert output.shape == (1, 57, 8, 12)


def test_per_image_normalization_makes_outputs_independent_of_the_batch():
    network = build_network(small_arch(), OPENPOSE_HEADS).eval()
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        together = network(images)
        alone = network(images[:1])
    assert torch.allclose(together[:1], alone, atol=1e-5)
