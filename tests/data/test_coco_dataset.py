"""KeypointDataset: the real COCO, CrowdPose, OCHuman, AP-10K and Animal-Pose files, and each
kind of malformed file failing with a message that names the entry."""
import json
import warnings

import cv2
import numpy as np
import pytest

from manypose.data.coco import KeypointDataset
from manypose.data.coco_annotations import AnnotationFileError
from manypose.data.images import ImageReadError
from manypose.skeleton import COCO17, CROWDPOSE14

from conftest import shared_path

COCO_TRAIN = "data/coco-mini/annotations/person_keypoints_train2017.json"


@pytest.fixture(scope="module")
def coco_train():
    annotations = shared_path(COCO_TRAIN)
    return KeypointDataset(annotations, shared_path("data/coco-mini/train2017")), json.loads(annotations.read_text())


def test_coco_people_and_crowds_match_a_direct_count(coco_train):
    dataset, data = coco_train
    people = [a for a in data["annotations"] if not a["iscrowd"]]
    crowds = [a for a in data["annotations"] if a["iscrowd"]]
    labelled = [a for a in people if a["num_keypoints"] > 0]
    assert len(dataset) == len(data["images"]) == 80
    assert dataset.num_people == len(people)
    assert sum(len(r.boxes) > 0 for r in dataset.records) == len({a["image_id"] for a in people})
    assert sum(len(r.crowd_boxes) for r in dataset.records) == len(crowds) == 5
    has_labelled_keypoints = np.concatenate([(r.keypoints[..., 2] > 0).any(axis=1) for r in dataset.records])
    assert has_labelled_keypoints.sum() == len(labelled) == 86, "the README's count of annotated persons"
    assert len({a["image_id"] for a in labelled}) == 28


def test_coco_crowd_regions_are_apart_from_people(coco_train):
    dataset, data = coco_train
    crowd = next(a for a in data["annotations"] if a["iscrowd"])
    record = next(r for r in dataset.records if r.image_id == crowd["image_id"])
    x, y, w, h = crowd["bbox"]
    assert any(np.allclose(box, [x, y, x + w, y + h]) for box in record.crowd_boxes)
    assert not any(np.allclose(box, [x, y, x + w, y + h]) for box in record.boxes)


def test_coco_sample_reads_the_image_and_keeps_the_labels(coco_train):
    dataset, data = coco_train
    index = next(i for i, r in enumerate(dataset.records) if len(r.boxes) >= 2)
    sample = dataset[index]
    entry = next(image for image in data["images"] if image["id"] == sample.image_id)
    assert sample.image.shape == (entry["height"], entry["width"], 3) and sample.image.dtype == np.uint8
    assert sample.file.name == entry["file_name"]
    first = next(a for a in data["annotations"] if a["image_id"] == sample.image_id and not a["iscrowd"])
    assert np.allclose(sample.keypoints[0], np.reshape(first["keypoints"], (17, 3)))
    assert sample.boxes.dtype == sample.keypoints.dtype == np.float32
    sample.boxes[:] = 0
    assert dataset.records[index].boxes.any(), "a sample is a copy: changing it leaves the dataset alone"


def test_coco_people_without_keypoints_stay_as_boxes(coco_train):
    dataset, _ = coco_train
    unlabelled = np.concatenate([(r.keypoints[..., 2] == 0).all(axis=1) for r in dataset.records])
    assert unlabelled.sum() == dataset.num_people - 86


def test_skipping_images_without_people(coco_train):
    dataset, data = coco_train
    with_people = KeypointDataset(data, shared_path("data/coco-mini/train2017"), skip_images_without_people=True)
    assert len(with_people) == len({a["image_id"] for a in data["annotations"] if not a["iscrowd"]})
    assert with_people.num_people == dataset.num_people


def test_crowdpose_sample_has_14_keypoints_and_its_crowd_index():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its category's broken COCO edges are not used
        dataset = KeypointDataset(shared_path("data/samples/crowdpose/test_crowdpose.json"),
                                  shared_path("data/samples/crowdpose"))
    assert dataset.skeleton is CROWDPOSE14
    assert dataset.crowd_indices == {106848: 0.33, 103319: 0.39}
    assert dataset.num_people == 5
    sample = dataset[0]
    assert sample.image_id == 106848 and sample.keypoints.shape == (3, 14, 3)


def test_ochuman_sample_reads_as_coco():
    annotations = shared_path("data/samples/ochuman/test_ochuman.json")
    dataset = KeypointDataset(annotations, annotations.parent)
    assert dataset.skeleton is COCO17 and dataset.num_people == 5 and not dataset.crowd_indices


def test_ap10k_animals_of_every_species_share_its_keypoint_set():
    annotations = shared_path("data/samples/ap10k/test_ap10k.json")
    dataset = KeypointDataset(annotations, annotations.parent)
    skeleton = dataset.skeleton
    assert len(skeleton) == 17 and skeleton.keypoints[:3] == ("left_eye", "right_eye", "nose")
    assert skeleton.name == "test_ap10k", "many species: the file, not one species, names the set"
    assert skeleton.flip[skeleton.index("left_front_paw")] == skeleton.index("right_front_paw")
    assert skeleton.flip[skeleton.index("nose")] == skeleton.index("nose")
    assert dataset.num_people == 2, "a jaguar and an antelope"
    assert KeypointDataset(annotations, annotations.parent, category_ids=[1]).num_people == 1


def test_animalpose_keypoints_and_their_flip_map():
    annotations = shared_path("data/samples/animalpose/test_animalpose.json")
    dataset = KeypointDataset(annotations, annotations.parent)
    skeleton = dataset.skeleton
    assert len(skeleton) == 20 and skeleton.name == "cat"
    assert skeleton.flip[skeleton.index("L_F_Paw")] == skeleton.index("R_F_Paw")
    assert skeleton.flip[skeleton.index("L_EarBase")] == skeleton.index("R_EarBase")
    assert skeleton.flip[skeleton.index("Withers")] == skeleton.index("Withers")
    assert dataset[0].keypoints.shape == (1, 20, 3)


def test_flip_map_and_sigmas_given_by_the_caller():
    annotations = shared_path("data/samples/animalpose/test_animalpose.json")
    no_swap = tuple(range(20))
    dataset = KeypointDataset(annotations, annotations.parent, flip=no_swap, sigmas=[0.1] * 20)
    assert dataset.skeleton.flip == no_swap and dataset.skeleton.sigmas == (0.1,) * 20
    for not_pairs in ([1] * 20, list(range(1, 20)) + [0]):
        with pytest.raises(AnnotationFileError, match="must pair up the 20 keypoints"):
            KeypointDataset(annotations, annotations.parent, flip=not_pairs)


def test_a_skeleton_must_name_the_files_keypoints():
    annotations = shared_path("data/samples/ap10k/test_ap10k.json")
    with pytest.raises(AnnotationFileError, match="skeleton 'coco17' has keypoints"):
        KeypointDataset(annotations, annotations.parent, skeleton="coco17")


# A small valid file, broken one way per test below
def minimal_file() -> dict:
    return {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 4567, "image_id": 7, "category_id": 1, "iscrowd": 0, "bbox": [4, 4, 20, 30],
                         "keypoints": [10, 12, 2] + [0] * 48}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoints), "skeleton": []}],
    }


@pytest.fixture
def folder(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((48, 64, 3), np.uint8))
    return tmp_path


def load(folder, data) -> KeypointDataset:
    path = folder / "keypoints.json"
    path.write_text(json.dumps(data))
    return KeypointDataset(path, folder)


def set_in(data, path, value):
    *keys, last = path
    target = data
    for key in keys:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return data


DELETE = object()

MALFORMED = {
    "keypoint count": (("annotations", 0, "keypoints"), [0] * 50,
                       r"annotations\[0\] \(id 4567\): 'keypoints' has 50 values, expected 3 x 17 = 51"),
    "keypoints missing": (("annotations", 0, "keypoints"), DELETE, r"annotations\[0\] \(id 4567\): no 'keypoints'"),
    "keypoints not a list": (("annotations", 0, "keypoints"), "1 2 3", r"'keypoints' is a string, expected a list"),
    "non-number keypoint": (("annotations", 0, "keypoints"), [None] * 51, r"\(id 4567\): 'keypoints' holds something"),
    "visibility": (("annotations", 0, "keypoints"), [1, 1, 3] + [0] * 48, r"\(id 4567\): keypoint 0 has visibility 3"),
    "unknown image": (("annotations", 0, "image_id"), 99, r"annotations\[0\] \(id 4567\): 'image_id' 99 is not one of"),
    "no image id": (("annotations", 0, "image_id"), DELETE, r"annotations\[0\] \(id 4567\): no 'image_id'"),
    "unknown category": (("annotations", 0, "category_id"), 5, r"\(id 4567\): 'category_id' 5 is not one of"),
    "short bbox": (("annotations", 0, "bbox"), [4, 4, 20], r"\(id 4567\): 'bbox' is \[4, 4, 20\], expected 4 numbers"),
    "negative bbox": (("annotations", 0, "bbox"), [4, 4, -20, 30], r"\(id 4567\): 'bbox' .* negative width or height"),
    "images not a list": (("images",), {"id": 7}, r"'images' is a dict, expected a list"),
    "annotation not a dict": (("annotations", 0), "person", r"annotations\[0\] is a string, expected a dict"),
    "no annotations": (("annotations",), DELETE, r"no 'annotations' list"),
    "no categories": (("categories",), DELETE, r"no 'categories' list"),
    "no keypoints in the category": (("categories", 0, "keypoints"), DELETE, r"no category defines 'keypoints'"),
    "image without a file name": (("images", 0, "file_name"), DELETE, r"images\[0\] \(id 7\): 'file_name' must be"),
    "image with a zero width": (("images", 0, "width"), 0, r"images\[0\] \(id 7\): 'width' is 0"),
    # found by fuzzing (fuzz/targets.py: coco), a ValueError from the skeleton's unpacking before
    "skeleton edge not a pair": (("categories", 0, "skeleton"), [[1, 2], [3]],
                                 r"categories\[0\] \(id 1\): 'skeleton' must be a list of \[a, b\] pairs"),
    "skeleton of names": (("categories", 0, "skeleton"), [["nose", "left_eye"]], r"'skeleton' must be a list"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_files_name_the_offending_entry(folder, case):
    path, value, message = MALFORMED[case]
    with pytest.raises(AnnotationFileError, match="keypoints.json: .*" + message):
        load(folder, set_in(minimal_file(), path, value))


def test_top_level_list_and_broken_json(folder):
    with pytest.raises(AnnotationFileError, match="expected a COCO JSON object .* found a list"):
        load(folder, [minimal_file()])
    (folder / "broken.json").write_text('{"images": [')
    with pytest.raises(AnnotationFileError, match="broken.json: not JSON"):
        KeypointDataset(folder / "broken.json", folder)


def test_binary_and_deeply_nested_files_are_not_json(folder):
    """Found by fuzzing (fuzz/targets.py: coco): bytes that are not UTF-8 escaped as UnicodeDecodeError."""
    (folder / "binary.json").write_bytes(b'{"images": [\xa2]}')
    with pytest.raises(AnnotationFileError, match="binary.json: not JSON"):
        KeypointDataset(folder / "binary.json", folder)
    (folder / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(AnnotationFileError, match="nested.json: not JSON"):
        KeypointDataset(folder / "nested.json", folder)


def test_an_image_listed_twice(folder):
    data = minimal_file()
    data["images"].append(dict(data["images"][0]))
    with pytest.raises(AnnotationFileError, match=r"images\[1\] \(id 7\): image id 7 is listed twice"):
        load(folder, data)


def test_missing_image_files_are_counted_and_named_up_front(folder):
    data = minimal_file()
    data["images"] += [{"id": i, "file_name": f"gone{i}.jpg"} for i in range(7)]
    with pytest.raises(ImageReadError, match=r"7 of 8 listed image files are missing: .*gone0.jpg, .*gone4.jpg "
                                             r"and 2 more"):
        load(folder, data)
    path = folder / "keypoints.json"
    dataset = KeypointDataset(path, folder, check_images=False)
    with pytest.raises(ImageReadError, match="gone0.jpg: no such file"):
        dataset[1]


def test_boxes_are_clipped_and_tiny_ones_dropped(folder):
    data = minimal_file()
    person = data["annotations"][0]
    data["annotations"] += [dict(person, id=1, bbox=[50, 40, 30, 30]), dict(person, id=2, bbox=[4, 4, 0.5, 30]),
                            dict(person, id=3, bbox=[4, 4, 0, 0]), dict(person, id=4, bbox=[70, 4, 10, 10])]
    dataset = load(folder, data)
    assert np.allclose(dataset.records[0].boxes, [[4, 4, 24, 34], [50, 40, 64, 48]])


def test_unlabelled_keypoints_lose_their_position_and_crowds_stay_apart(folder):
    data = minimal_file()
    data["annotations"][0]["keypoints"][3:6] = [30, 31, 0]
    data["annotations"].append({"id": 9, "image_id": 7, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 64, 20]})
    record = load(folder, data).records[0]
    assert record.keypoints[0, 0].tolist() == [10, 12, 2] and record.keypoints[0, 1].tolist() == [0, 0, 0]
    assert len(record.boxes) == 1 and record.crowd_boxes.tolist() == [[0, 0, 64, 20]]
