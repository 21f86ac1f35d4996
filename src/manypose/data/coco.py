"""COCO-format keypoint datasets for training: any keypoint set, checked as they load.

The annotation file is parsed and checked whole at construction, so a malformed file fails
at once with an error naming the offending entry (``annotations[12] (id 4567): 'keypoints'
has 50 values, expected 3 x 17 = 51``) rather than hours into training. Image files are
checked to exist up front too (all missing ones counted, the first few named); pixels are
read only when a sample is asked for.

What is kept, per image:
- people: non-crowd annotations, as xyxy boxes clipped to the image and (K, 3) keypoints
  x, y, visibility 0/1/2 as labelled. People with no labelled keypoint stay, as boxes with
  all keypoints invisible (COCO keeps them: they are people a detector must find).
- crowd regions (``iscrowd`` 1): boxes apart from the people, regions to ignore in training.
- boxes narrower or lower than ``min_box_size`` pixels (after clipping) are dropped.
Boxes are kept as labelled, not widened to their keypoints: COCO's come from the visible
outline, and some people have labelled keypoints outside it (19 of 167 in coco-mini train).

Pixels are read in the orientation the annotations are in: a photo with an EXIF orientation is
turned as displayed only where the file's width and height for it are its displayed size and
not its stored one (`read_annotated_image`). The COCO images of coco-mini carry none (none of
its 159 has EXIF data at all): they read as before.

CrowdPose files (14 keypoints, a ``crowdIndex`` per image) are read like any other; their
keypoint names select the built-in CrowdPose skeleton (its sigmas and edges; the category's
own ``skeleton`` in the published files names keypoints it does not have), and each image's
crowd index is kept in ``KeypointDataset.crowd_indices`` for evaluation by crowdedness.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..skeleton import Skeleton
from .coco_annotations import (ImageId, annotated_size, choose_skeleton, keypoint_categories, load_annotation_json,
                               parse_annotations, parse_images)
from .images import ImageReadError, read_annotated_image

MISSING_FILES_NAMED = 5  # how many missing image files an error lists by name


@dataclass(eq=False)  # arrays do not compare as one truth value
class Sample:
    """One training image with its people, in the image's pixels.

    image: HxWx3 uint8 BGR; boxes: (N, 4) float32 x1, y1, x2, y2; keypoints: (N, K, 3) float32
    x, y, visibility (0 not labelled, with x = y = 0; 1 labelled but hidden; 2 visible);
    crowd_boxes: (M, 4) float32 xyxy regions of crowds, to be ignored rather than learnt.
    image_id: the annotation file's id (a tuple of ids for a mosaic of several images);
    file: where the image was read from (None for made-up images).
    """

    image: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray
    crowd_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    image_id: Any = None
    file: Optional[Path] = None


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One image's checked annotations, without its pixels (the fields of `Sample` but the image),
    and the (width, height) the file gives the image, which says the orientation its
    annotations are in (see `read_annotated_image`)."""

    image_id: ImageId
    file: Path
    boxes: np.ndarray
    keypoints: np.ndarray
    crowd_boxes: np.ndarray
    size: Optional[tuple[float, float]] = None

    def with_image(self, image: np.ndarray) -> Sample:
        """A sample of this image: copies of the arrays, so changing it cannot change the dataset."""
        return Sample(image=image, boxes=self.boxes.copy(), keypoints=self.keypoints.copy(),
                      crowd_boxes=self.crowd_boxes.copy(), image_id=self.image_id, file=self.file)


class KeypointDataset:
    """The images and people of a COCO-format keypoint file, for any keypoint set.

    annotations: the JSON file (or its already-loaded dict); images_dir: the folder that the
    images' ``file_name`` entries are relative to.
    skeleton: the keypoint set when the file's category should not define it (its keypoint
    names must be the category's); by default a built-in skeleton when the names match one
    (COCO-17, CrowdPose-14), else one made from the category: names, 1-based edges, and the
    flip map from left/right names. sigmas, flip: OKS sigmas and the left/right flip map
    (index of each keypoint's mirror image), overriding the skeleton's.
    category_ids: which categories to read when the file has several with keypoints (AP-10K
    has one per species); they must share one keypoint set. By default all that define keypoints.
    skip_images_without_people: drop images with no person (background images stay by default:
    they teach the model what is not a person).
    check_images: check at construction that every image file exists (one error counting all
    missing files and naming the first few); without it a missing file fails when read.
    """

    def __init__(self, annotations: Union[str, Path, dict], images_dir: Union[str, Path], *,
                 skeleton: Union[Skeleton, str, None] = None, sigmas: Optional[Sequence[float]] = None,
                 flip: Optional[Sequence[int]] = None, category_ids: Optional[Sequence[int]] = None,
                 skip_images_without_people: bool = False, min_box_size: float = 1.0,
                 check_images: bool = True):
        data, self.source = load_annotation_json(annotations)
        self.images_dir = Path(images_dir)
        categories = keypoint_categories(data, self.source, category_ids)
        self.skeleton = choose_skeleton(categories, self.source, skeleton, sigmas, flip)
        images = parse_images(data, self.source)
        people, crowds = parse_annotations(data, self.source, images, {c["id"] for c in categories},
                                           len(self.skeleton), min_box_size)
        records = [self._record(entry, people.get(image_id, []), crowds.get(image_id, []))
                   for image_id, entry in images.items()]
        if skip_images_without_people:
            records = [record for record in records if len(record.boxes)]
        self.records: tuple[ImageRecord, ...] = tuple(records)
        self.crowd_indices: dict[ImageId, float] = {
            image_id: float(entry["crowdIndex"]) for image_id, entry in images.items() if "crowdIndex" in entry}
        if check_images:
            check_image_files(self.records, self.source)

    def _record(self, image_entry: dict, people: list, crowds: list) -> ImageRecord:
        keypoint_count = len(self.skeleton)
        boxes = np.array([box for box, _ in people], np.float32).reshape(-1, 4)
        keypoints = np.array([points for _, points in people], np.float32).reshape(-1, keypoint_count, 3)
        crowd_boxes = np.array(crowds, np.float32).reshape(-1, 4)
        return ImageRecord(image_entry["id"], self.images_dir / image_entry["file_name"], boxes, keypoints,
                           crowd_boxes, annotated_size(image_entry))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        return record.with_image(read_annotated_image(record.file, record.size))

    @property
    def num_people(self) -> int:
        return sum(len(record.boxes) for record in self.records)

    def __repr__(self) -> str:
        crowds = sum(len(record.crowd_boxes) for record in self.records)
        return (f"KeypointDataset({self.source}: {len(self)} images, {self.num_people} people, "
                f"{crowds} crowd regions, skeleton {self.skeleton.name} of {len(self.skeleton)} keypoints)")


def check_image_files(records: Sequence[ImageRecord], source: str) -> None:
    missing = [record.file for record in records if not record.file.is_file()]
    if missing:
        named = ", ".join(str(path) for path in missing[:MISSING_FILES_NAMED])
        more = f" and {len(missing) - MISSING_FILES_NAMED} more" if len(missing) > MISSING_FILES_NAMED else ""
        raise ImageReadError(f"{source}: {len(missing)} of {len(records)} listed image files are missing: "
                             f"{named}{more}")
