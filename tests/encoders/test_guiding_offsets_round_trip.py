"""Encoding the dev set's people as heatmaps and guiding offsets, then decoding them, gives the
people back (benchmarks/round_trip.py --head offsets is the same at full length)."""
import numpy as np

from manypose.decoders.guiding_offsets import GuidingOffsetDecoder
from manypose.encoders.guiding_offsets import GuidingOffsetEncoder
from manypose.evaluate import coco_keypoint_stats, load_coco
from manypose.heads.guiding_offsets import GuidingOffsetsHead
from manypose.skeleton import COCO17


def with_unlabelled_at_the_mean(people: np.ndarray) -> np.ndarray:
    """As a network that puts hidden keypoints somewhere plausible: each unlabelled keypoint at
    the mean of its person's labelled ones (the ground truth ignores them)."""
    people = people.copy()
    for person in people:
        labelled = person[:, 2] > 0
        person[~labelled] = (*person[labelled, :2].mean(axis=0), 1)
    return people


def test_the_dev_people_round_trip_at_640(dev_annotations):
    coco = load_coco(dev_annotations)
    head = GuidingOffsetsHead(COCO17)
    encoder, decoder = GuidingOffsetEncoder(head), GuidingOffsetDecoder(head.limbs, 17, 4, min_person_score=0.0)
    results = []
    for image_id in coco.getImgIds():
        info = coco.imgs[image_id]
        people = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)) if a["num_keypoints"]]
        if not people:
            continue
        scale = 640 / max(info["width"], info["height"])
        keypoints = np.array([a["keypoints"] for a in people], np.float64).reshape(-1, 17, 3)
        keypoints[..., :2] = (keypoints[..., :2] + 0.5) * scale
        fields = encoder(with_unlabelled_at_the_mean(keypoints), -(-int(info["height"] * scale) // 4),
                         -(-int(info["width"] * scale) // 4)).as_outputs()
        _, scores, decoded = decoder(fields)
        decoded[..., :2] = decoded[..., :2] / scale - 0.5
        results += [{"image_id": image_id, "category_id": 1, "keypoints": k.reshape(-1).tolist(), "score": float(s)}
                    for k, s in zip(decoded, scores)]
    assert coco_keypoint_stats(coco, results)[0]["AP"] >= 0.95
