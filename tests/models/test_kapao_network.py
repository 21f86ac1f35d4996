"""KAPAO's network against its original code: the reference (tests/data/kapao) is what KAPAO's
own model gave, with the same random weights, on the same image."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kapao_reference import CHECKPOINT, image, input_spec, outputs  # noqa: E402
from manypose.convert.kapao import kapao_model_file  # noqa: E402
from manypose.models import inference_network  # noqa: E402


@pytest.fixture(scope="module")
def network_outputs():
    blob, _ = input_spec().prepare(image())
    network = inference_network(kapao_model_file(CHECKPOINT))
    with torch.no_grad():
        levels = network.raw_outputs(torch.from_numpy(blob))
        decoded = network(torch.from_numpy(blob))
    raw = torch.cat([level.reshape(1, -1, level.shape[-1]) for level in levels], 1)
    return blob, raw.numpy(), decoded.numpy()


def test_kapao_input_is_letterboxed_as_the_original(network_outputs):
    blob, _, _ = network_outputs
    np.testing.assert_allclose(blob[0] * 255, outputs()["input"], atol=1e-3)


def test_kapao_raw_outputs_match_the_original(network_outputs):
    _, raw, _ = network_outputs
    reference = outputs()["raw"]
    assert raw.shape == reference.shape == (1, 3 * (16 * 16 + 8 * 8 + 4 * 4 + 2 * 2), 5 + 18 + 34)
    assert np.abs(raw - reference).max() < 1e-4


def test_kapao_decoded_outputs_match_the_original(network_outputs):
    # scores to float32 rounding; pixel coordinates (up to ~1000, sigmoids times anchors of up to
    # 925 pixels) to a few float32 steps of their size
    _, _, decoded = network_outputs
    reference = outputs()["output"]
    scores = slice(4, 5 + 18)
    assert np.abs(decoded[..., scores] - reference[..., scores]).max() < 1e-6
    assert np.abs(decoded - reference).max() < 1e-3
