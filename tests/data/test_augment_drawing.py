"""draw_sample, to check what training sees: labelled keypoints are drawn whether visible or
hidden (visibility 2 or 1), the people drawn with the sample's own skeleton, and crowd regions
outlined in red with lines that thicken with the image."""
import numpy as np

from manypose.data.augment import draw_sample
from manypose.data.coco import Sample
from manypose.skeleton import COCO17, CROWDPOSE14

RED = (0, 0, 255)


def one_person(skeleton, width=400, height=300) -> Sample:
    keypoints = np.zeros((1, len(skeleton), 3), np.float32)
    boxes = np.array([[20, 20, width - 20, height - 20]], np.float32)
    return Sample(image=np.zeros((height, width, 3), np.uint8), boxes=boxes, keypoints=keypoints)


def test_hidden_keypoints_are_drawn_and_unlabelled_ones_not():
    sample = one_person(COCO17)
    sample.keypoints[0, 0] = (100, 100, 1)  # labelled, hidden
    sample.keypoints[0, 1] = (200, 150, 2)  # labelled, visible
    sample.keypoints[0, 2] = (300, 200, 0)  # not labelled (normally at 0, 0: placed apart to see it is not drawn)
    drawn = draw_sample(sample, COCO17)
    assert drawn[100, 100].any(), "the hidden keypoint"
    assert drawn[150, 200].any(), "the visible keypoint"
    assert not drawn[200, 300].any(), "nothing where the unlabelled keypoint is"


def test_people_are_drawn_with_the_samples_own_skeleton():
    sample = one_person(CROWDPOSE14)
    head, neck = CROWDPOSE14.index("head"), CROWDPOSE14.index("neck")
    assert (head, neck) in CROWDPOSE14.edges or (neck, head) in CROWDPOSE14.edges
    sample.keypoints[0, head] = (100, 60, 2)
    sample.keypoints[0, neck] = (300, 60, 2)
    drawn = draw_sample(sample, CROWDPOSE14)
    assert drawn[60, 200].any(), "the head-neck line, halfway along"


def red_line_width(width: int, height: int) -> int:
    """How many pixels thick the top edge of a crowd region is drawn, on a black image of that size."""
    sample = Sample(image=np.zeros((height, width, 3), np.uint8), boxes=np.zeros((0, 4), np.float32),
                    keypoints=np.zeros((0, len(COCO17), 3), np.float32),
                    crowd_boxes=np.array([[width // 4, height // 4, 3 * width // 4, 3 * height // 4]], np.float32))
    drawn = draw_sample(sample, COCO17)
    column = drawn[: height // 2, width // 2]
    return int((column == RED).all(axis=1).sum())


def test_crowd_lines_thicken_with_the_image():
    small, large = red_line_width(200, 150), red_line_width(1600, 1200)
    assert small == 1, "a thin line on a small image"
    assert large > 1, "thicker on a large one, where a thin line would be lost"
