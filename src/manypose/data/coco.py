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

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..skeleton import BUILTIN, Skeleton, get
from .images import ImageReadError, read_annotated_image

ImageId = Union[int, str]
MISSING_FILES_NAMED = 5  # how many missing image files an error lists by name
VISIBILITIES = (0, 1, 2)  # not labelled, labelled but hidden, labelled and visible


class AnnotationFileError(ValueError):
    """A keypoint annotation file that is not valid COCO keypoint JSON; the message names the entry."""


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


def load_annotation_json(annotations: Union[str, Path, dict]) -> tuple[dict, str]:
    """The file's top-level dict and a name for it in messages."""
    if isinstance(annotations, dict):
        return annotations, "annotations"
    path = Path(annotations)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationFileError(f"{path}: no such annotation file") from None
    except json.JSONDecodeError as error:
        raise AnnotationFileError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise AnnotationFileError(f"{path}: expected a COCO JSON object with 'images', 'annotations' and "
                                  f"'categories', found a {json_type(data)}")
    return data, str(path)


def json_type(value) -> str:
    names = {dict: "dict", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


def required_list(container: dict, key: str, where: str) -> list:
    if key not in container:
        raise AnnotationFileError(f"{where}: no '{key}' list")
    value = container[key]
    if not isinstance(value, list):
        raise AnnotationFileError(f"{where}: '{key}' is a {json_type(value)}, expected a list")
    return value


def entries(container: dict, key: str, source: str) -> list[tuple[str, dict]]:
    """The dicts of a top-level list, each with its name for messages, e.g. ``images[3] (id 42)``."""
    named = []
    for index, entry in enumerate(required_list(container, key, source)):
        if not isinstance(entry, dict):
            raise AnnotationFileError(f"{source}: {key}[{index}] is a {json_type(entry)}, expected a dict")
        label = f"{key}[{index}]" + (f" (id {entry['id']})" if "id" in entry else "")
        named.append((f"{source}: {label}", entry))
    return named


def keypoint_categories(data: dict, source: str, category_ids: Optional[Sequence[int]]) -> list[dict]:
    """The categories whose annotations are read: those chosen, or all that define keypoints."""
    categories = entries(data, "categories", source)
    for where, category in categories:
        if "id" not in category:
            raise AnnotationFileError(f"{where}: no 'id'")
        if "keypoints" in category and not is_list_of(category["keypoints"], str):
            raise AnnotationFileError(f"{where}: 'keypoints' must be a list of keypoint names")
    if category_ids is not None:
        known = {category["id"]: (where, category) for where, category in categories}
        unknown = [i for i in category_ids if i not in known]
        if unknown:
            raise AnnotationFileError(f"{source}: no categories with ids {unknown} (it has {sorted(known)})")
        categories = [known[i] for i in category_ids]
        for where, category in categories:
            if not category.get("keypoints"):
                raise AnnotationFileError(f"{where}: category {category.get('name')!r} defines no keypoints")
    chosen = [category for _, category in categories if category.get("keypoints")]
    if not chosen:
        raise AnnotationFileError(f"{source}: no category defines 'keypoints' (not a keypoint annotation file?)")
    names = {tuple(category["keypoints"]) for category in chosen}
    if len(names) > 1:
        raise AnnotationFileError(f"{source}: its categories define {len(names)} different keypoint sets; "
                                  "choose categories that share one with category_ids")
    return chosen


def is_list_of(value, kind) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def choose_skeleton(categories: list[dict], source: str, skeleton: Union[Skeleton, str, None],
                    sigmas: Optional[Sequence[float]], flip: Optional[Sequence[int]]) -> Skeleton:
    names = tuple(categories[0]["keypoints"])
    if skeleton is not None:
        chosen = get(skeleton)
        if chosen.keypoints != names:
            raise AnnotationFileError(f"{source}: skeleton {chosen.name!r} has keypoints {list(chosen.keypoints)}, "
                                      f"the file's category {list(names)} (pass flip= or sigmas= to adjust "
                                      "the file's own set instead)")
    else:
        chosen = next((builtin for builtin in BUILTIN.values() if builtin.keypoints == names), None)
        if chosen is None:
            chosen = Skeleton.from_coco_category(categories[0])
            if len(categories) > 1:  # one set shared by many species: no one category's name fits it
                chosen = replace(chosen, name=Path(source).stem)
    if sigmas is not None:
        chosen = replace(chosen, sigmas=tuple(float(s) for s in sigmas))
    if flip is not None:
        chosen = replace(chosen, flip=checked_flip_map(flip, len(names), source))
    return chosen


def checked_flip_map(flip: Sequence[int], keypoint_count: int, source: str) -> tuple[int, ...]:
    """A flip map must pair keypoints up: mirroring twice gives each keypoint back."""
    flip = tuple(int(i) for i in flip)
    if sorted(flip) != list(range(keypoint_count)) or any(flip[flip[i]] != i for i in range(keypoint_count)):
        raise AnnotationFileError(f"{source}: flip map {list(flip)} must pair up the {keypoint_count} keypoints "
                                  "(each index once, and the mirror of a keypoint's mirror the keypoint)")
    return flip


def parse_images(data: dict, source: str) -> dict[ImageId, dict]:
    images: dict[ImageId, dict] = {}
    for where, image in entries(data, "images", source):
        if "id" not in image:
            raise AnnotationFileError(f"{where}: no 'id'")
        if not isinstance(image.get("file_name"), str) or not image["file_name"]:
            raise AnnotationFileError(f"{where}: 'file_name' must be the image's file name")
        for key in ("width", "height"):
            if key in image and not (is_number(image[key]) and image[key] > 0):
                raise AnnotationFileError(f"{where}: '{key}' is {image[key]!r}, expected a positive number")
        if image["id"] in images:
            raise AnnotationFileError(f"{where}: image id {image['id']!r} is listed twice")
        images[image["id"]] = image
    return images


def annotated_size(image_entry: dict) -> Optional[tuple[float, float]]:
    """The (width, height) an annotation file gives an image; None where it gives none."""
    if "width" in image_entry and "height" in image_entry:
        return image_entry["width"], image_entry["height"]
    return None


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_annotations(data: dict, source: str, images: dict[ImageId, dict], category_ids: set,
                      keypoint_count: int, min_box_size: float) -> tuple[dict, dict]:
    """People as (box, keypoints) and crowd regions as boxes, per image id."""
    all_categories = {category.get("id") for category in data["categories"]}
    people: dict[ImageId, list] = {}
    crowds: dict[ImageId, list] = {}
    for where, annotation in entries(data, "annotations", source):
        image = image_of(annotation, images, where)
        category = annotation.get("category_id")
        if category not in all_categories:
            raise AnnotationFileError(f"{where}: 'category_id' {category!r} is not one of 'categories'")
        if category not in category_ids:
            continue
        box = clipped_box(annotation, image, where)
        crowd = bool(annotation.get("iscrowd", 0))
        points = None if crowd else parse_keypoints(annotation, keypoint_count, where)
        if box[2] - box[0] < min_box_size or box[3] - box[1] < min_box_size:
            continue
        if crowd:
            crowds.setdefault(image["id"], []).append(box)
        else:
            people.setdefault(image["id"], []).append((box, points))
    return people, crowds


def image_of(annotation: dict, images: dict[ImageId, dict], where: str) -> dict:
    if "image_id" not in annotation:
        raise AnnotationFileError(f"{where}: no 'image_id'")
    image = images.get(annotation["image_id"])
    if image is None:
        raise AnnotationFileError(f"{where}: 'image_id' {annotation['image_id']!r} is not one of 'images'")
    return image


def clipped_box(annotation: dict, image: dict, where: str) -> list[float]:
    """The COCO x, y, width, height box as x1, y1, x2, y2, clipped to the image when its size is known."""
    bbox = annotation.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(is_number(v) for v in bbox):
        raise AnnotationFileError(f"{where}: 'bbox' is {bbox!r}, expected 4 numbers x, y, width, height")
    x, y, width, height = (float(v) for v in bbox)
    if width < 0 or height < 0:
        raise AnnotationFileError(f"{where}: 'bbox' {bbox} has a negative width or height")
    x1, y1, x2, y2 = x, y, x + width, y + height
    if "width" in image and "height" in image:
        x1, x2 = (min(max(v, 0.0), float(image["width"])) for v in (x1, x2))
        y1, y2 = (min(max(v, 0.0), float(image["height"])) for v in (y1, y2))
    return [x1, y1, x2, y2]


def parse_keypoints(annotation: dict, keypoint_count: int, where: str) -> np.ndarray:
    if "keypoints" not in annotation:
        raise AnnotationFileError(f"{where}: no 'keypoints' (a person needs 3 x {keypoint_count} values, "
                                  "all 0 when none is labelled)")
    values = annotation["keypoints"]
    if not isinstance(values, list):
        raise AnnotationFileError(f"{where}: 'keypoints' is a {json_type(values)}, expected a list of "
                                  f"3 x {keypoint_count} numbers")
    if len(values) != 3 * keypoint_count:
        raise AnnotationFileError(f"{where}: 'keypoints' has {len(values)} values, expected 3 x {keypoint_count} = "
                                  f"{3 * keypoint_count}")
    if not all(is_number(v) for v in values):
        raise AnnotationFileError(f"{where}: 'keypoints' holds something other than finite numbers")
    points = np.array(values, np.float32).reshape(keypoint_count, 3)
    odd = [(i, v) for i, v in enumerate(points[:, 2]) if v not in VISIBILITIES]
    if odd:
        raise AnnotationFileError(f"{where}: keypoint {odd[0][0]} has visibility {odd[0][1]:g}, expected 0, 1 or 2")
    points[points[:, 2] == 0, :2] = 0  # unlabelled: its position means nothing, as in COCO
    return points


def check_image_files(records: Sequence[ImageRecord], source: str) -> None:
    missing = [record.file for record in records if not record.file.is_file()]
    if missing:
        named = ", ".join(str(path) for path in missing[:MISSING_FILES_NAMED])
        more = f" and {len(missing) - MISSING_FILES_NAMED} more" if len(missing) > MISSING_FILES_NAMED else ""
        raise ImageReadError(f"{source}: {len(missing)} of {len(records)} listed image files are missing: "
                             f"{named}{more}")
