"""KAPAO's keypoint objects on the anchor-free YOLO-pose head: the model made from the bundled
one, its training targets, loss and decoding with fusion."""
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from manypose.decoders import DecoderOptions  # noqa: E402
from manypose.decoders.kapao_fusion import FusionOptions  # noqa: E402
from manypose.decoders.yolo_pose import KeypointObjectsPoseDecoder  # noqa: E402
from manypose.encoders.pose_objects import pad_targets  # noqa: E402
from manypose.heads import PoseObjectsHead, codec_for  # noqa: E402
from manypose.losses.pose_objects import keypoint_object_targets  # noqa: E402
from manypose.skeleton import COCO17  # noqa: E402
from manypose.train.keypoint_objects import KEYPOINT_PRIOR, with_keypoint_objects  # noqa: E402
from manypose.zoo import DEMO_IMAGE, find_model  # noqa: E402


def test_kapao_keypoint_object_targets_are_squares_of_the_labelled_keypoints():
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[0, 3] = (100, 50, 2)
    keypoints[1, 16] = (30, 40, 1)
    keypoints[1, 5] = (0, 0, 0)  # not labelled: no object
    sample = SimpleNamespace(boxes=np.array([[0, 0, 200, 200], [10, 10, 60, 90]], np.float32), keypoints=keypoints)
    targets = keypoint_object_targets(sample, 640, object_size=0.05)
    assert targets.classes.tolist() == [0, 0, 4, 17]
    np.testing.assert_allclose(targets.boxes[2:], [[84, 34, 116, 66], [14, 24, 46, 56]])
    assert (targets.keypoints[2:] == 0).all() and (targets.keypoints[:2] == torch.from_numpy(keypoints)).all()


def test_kapao_head_needs_one_class_per_keypoint():
    with pytest.raises(ValueError, match="18 classes"):
        PoseObjectsHead(COCO17, num_classes=1, keypoint_objects=True)


def test_kapao_decoder_fuses_a_more_confident_keypoint_object_into_the_person():
    num_keypoints = 17
    columns = np.zeros((4 + 1 + num_keypoints + 3 * num_keypoints, 2), np.float32)
    columns[:4, 0] = (100, 100, 80, 160)  # a person
    columns[4, 0] = 0.9
    person = columns[5 + num_keypoints:, 0].reshape(num_keypoints, 3)
    person[:] = (100, 100, 0.3)
    columns[:4, 1] = (110, 90, 8, 8)  # a left-eye object 14 px away, more confident than the person's eye
    columns[4 + 1 + 1, 1] = 0.8
    decode = KeypointObjectsPoseDecoder(COCO17, 0.25, 0.7, 300, FusionOptions(tolerance=20))
    boxes, scores, keypoints = decode(columns)
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.9)
    np.testing.assert_allclose(keypoints[0, 1], [110, 90, 0.8], rtol=1e-6)
    np.testing.assert_allclose(keypoints[0, 2], [100, 100, 0.3], rtol=1e-6)
    assert decode.fused_counts.tolist() == [0, 1] + [0] * 15
    unfused = KeypointObjectsPoseDecoder(COCO17, 0.25, 0.7, 300, FusionOptions(tolerance=10))(columns)[2]
    np.testing.assert_allclose(unfused[0, 1], [100, 100, 0.3], rtol=1e-6)


def test_kapao_keypoint_objects_model_from_the_bundled_one_finds_the_same_people():
    import cv2

    import manypose
    from manypose.models import inference_network

    base = find_model(None)
    model = with_keypoint_objects(base, "yolo11n-pose-kapao")
    (head,) = model.heads
    assert head.keypoint_objects and head.num_classes == 18
    image = cv2.imread(str(DEMO_IMAGE))
    plain = manypose.load(backend="torch")(image)
    blob, _ = base.input_spec.prepare(image)
    with torch.no_grad():
        output = inference_network(model)(torch.from_numpy(blob)).numpy()
    decoder = codec_for(model.heads).decoder(DecoderOptions())
    _, scores, _, objects = decoder.with_keypoint_objects({"pose_objects": output[0]})
    assert len(objects) == 0  # the keypoint classes start at a low prior, at every anchor
    np.testing.assert_allclose(output[0, 5:5 + 17], KEYPOINT_PRIOR, rtol=1e-4)
    assert len(scores) == len(plain) > 0
    np.testing.assert_allclose(np.sort(scores), np.sort(plain.scores), atol=1e-4)


def test_kapao_keypoint_objects_loss_learns_the_keypoint_classes():
    from manypose.losses import PoseObjectsLoss
    from manypose.models import build_network

    model = with_keypoint_objects(find_model(None), "yolo11n-pose-kapao")
    (head,) = model.heads
    loss = PoseObjectsLoss.for_head(head)
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, :, :2] = np.linspace(40, 90, 34).reshape(17, 2)
    keypoints[0, :, 2] = 2
    sample = SimpleNamespace(boxes=np.array([[30, 30, 100, 100]], np.float32), keypoints=keypoints)
    targets = loss.targets(sample, 128)
    assert targets.classes.tolist() == list(range(18))
    network = build_network(model.architecture, model.heads).train()
    total, items = loss(network.raw_outputs(torch.zeros(1, 3, 128, 128)), [targets])
    assert torch.isfinite(total) and (items > 0).all()


def test_kapao_keypoint_objects_train_the_class_towards_1_and_leave_the_keypoint_terms_to_people():
    from manypose.losses import PoseObjectsLoss
    from manypose.models import build_network

    model = with_keypoint_objects(find_model(None), "yolo11n-pose-kapao")
    (head,) = model.heads
    loss = PoseObjectsLoss.for_head(head)
    network = build_network(model.architecture, model.heads).train()
    raw = network.raw_outputs(torch.zeros(1, 3, 128, 128))
    predictions = loss.flatten(raw)
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, 5] = (64, 64, 2)
    one_keypoint = loss.targets(SimpleNamespace(boxes=np.array([[20, 20, 110, 110]], np.float32),
                                                keypoints=keypoints), 128)
    only_the_object = type(one_keypoint)(one_keypoint.boxes[1:], one_keypoint.keypoints[1:],
                                         one_keypoint.classes[1:])
    assert only_the_object.classes.tolist() == [6]
    _, items = loss(raw, [only_the_object])
    terms = dict(zip(loss.names, items.tolist()))
    assert terms["pose"] == 0 and terms["kobj"] == 0  # a keypoint object has no keypoints to learn
    # the class target on the object's anchors is 1 whatever their boxes' overlap: cls is then
    # the binary cross-entropy against 1 there and 0 elsewhere, over the number of those anchors
    padded = pad_targets([only_the_object])
    assignment = loss.assigner(predictions.class_logits.detach().sigmoid(), loss.decode_boxes(predictions).detach(),
                               predictions.anchors * predictions.strides, padded.labels, padded.boxes, padded.mask)
    foreground = assignment.foreground
    expected = torch.zeros_like(predictions.class_logits)
    expected[foreground, 6] = 1
    cls = torch.nn.functional.binary_cross_entropy_with_logits(predictions.class_logits.detach(), expected,
                                                               reduction="sum")
    assert foreground.sum() > 0
    assert terms["cls"] == pytest.approx(float(cls / foreground.sum()) * loss.gains.cls, rel=1e-5)
