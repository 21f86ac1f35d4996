"""A COCO-format keypoint annotation file read and checked entry by entry, for data.coco's
KeypointDataset: its categories and keypoint set, its images, its people and crowd regions.
Anything malformed raises AnnotationFileError with a message that names the file and the entry."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ..skeleton import BUILTIN, Skeleton, get

ImageId = Union[int, str]
VISIBILITIES = (0, 1, 2)  # not labelled, labelled but hidden, labelled and visible


class AnnotationFileError(ValueError):
    """A keypoint annotation file that is not valid COCO keypoint JSON; the message names the entry."""


def load_annotation_json(annotations: Union[str, Path, dict]) -> tuple[dict, str]:
    """The file's top-level dict and a name for it in messages."""
    if isinstance(annotations, dict):
        return annotations, "annotations"
    path = Path(annotations)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationFileError(f"{path}: no such annotation file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:  # binary, or nested past the stack
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
        if category.get("skeleton") is not None and not is_edge_list(category["skeleton"]):
            raise AnnotationFileError(f"{where}: 'skeleton' must be a list of [a, b] pairs of keypoint numbers")
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


def is_edge_list(value) -> bool:
    return is_list_of(value, list) and all(len(edge) == 2 and is_list_of(edge, int) for edge in value)


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
