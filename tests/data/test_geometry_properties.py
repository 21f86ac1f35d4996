"""Property tests (hypothesis) of the input geometry: for every kind of InputSpec and any image
size, network coordinates map back onto the image and forth without loss, and the image lands
inside the network input it was placed on."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from manypose.data.transforms import InputSpec


@st.composite
def input_specs(draw) -> InputSpec:
    if draw(st.booleans()):
        return InputSpec(size=(draw(st.integers(16, 320)), draw(st.integers(16, 320))), resize="stretch")
    stride = draw(st.sampled_from((8, 16, 32)))
    corner_aligned = draw(st.booleans())
    size = stride * draw(st.integers(2, 12)) + (1 if corner_aligned else 0)
    return InputSpec(size=size, stride=stride, corner_aligned=corner_aligned,
                     anchor=draw(st.sampled_from(("center", "top_left"))), square=draw(st.booleans()),
                     interpolation=draw(st.sampled_from(("linear", "area", "tf_legacy"))))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(spec=input_specs(), height=st.integers(1, 700), width=st.integers(1, 700), seed=st.integers(0, 2 ** 16))
def test_points_go_to_the_network_and_back_and_the_image_lands_inside_its_input(spec, height, width, seed):
    blob, geometry = spec.prepare(np.zeros((height, width, 3), np.uint8))
    points = np.random.default_rng(seed).uniform((0, 0), (width, height), (20, 2))
    there = geometry.to_input(points.copy())
    assert np.allclose(geometry.to_original(there.copy()), points, rtol=1e-9, atol=1e-6)
    corners = geometry.to_input(np.array([[0.0, 0.0], [width, height]]))
    input_height, input_width = blob.shape[2:]
    assert (corners[0] >= -1e-6).all()
    assert corners[1, 0] <= input_width + 1e-6 and corners[1, 1] <= input_height + 1e-6


def test_a_strip_thinner_than_a_pixel_once_shrunk_keeps_one_pixel():
    """Found by the property above: a 1 x 32 image letterboxed to 16 was resized to no rows (a
    cv2.error, reported as a bug of ours)."""
    blob, geometry = InputSpec(size=16, stride=8).prepare(np.zeros((1, 32, 3), np.uint8))
    assert blob.shape == (1, 3, 8, 16) and geometry.scale == 0.5
