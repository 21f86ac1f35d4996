"""The part affinity field of one limb, on grids small enough to check by hand."""
import numpy as np

from manypose.encoders import PafEncoder


def test_a_limb_a_thousandth_of_a_cell_long_still_has_a_direction():
    # stride 1: cell (0, 0) is centred on the first keypoint; the limb points along +x. Limbs
    # under 1e-3 cells have no direction and are left out; from 1e-3 on they are encoded.
    encoder = PafEncoder(limbs=((0, 1, 0, 1),), num_parts=2, stride=1)
    person = np.zeros((1, 2, 3))
    person[0, :, 2] = 2
    person[0, 1, 0] = 1e-3
    _, pafs = encoder(person, 3, 3)
    assert pafs[0, 0, 0] == 1.0 and pafs[1, 0, 0] == 0.0
    assert pafs[0, 1, 0] == 1.0 and pafs[0, 2, 0] == 0.0, "a half-width of one cell across the limb"
    person[0, 1, 0] = 0.9e-3
    _, pafs = encoder(person, 3, 3)
    assert not pafs.any()
