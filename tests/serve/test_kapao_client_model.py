"""The page's in-browser decoder takes one-class pose objects only: a YOLO-pose head with KAPAO's
keypoint objects (its classes are keypoints too) is left to the server."""
from types import SimpleNamespace

from manypose.config import EstimatorConfig
from manypose.data.transforms import InputSpec
from manypose.heads import PoseObjectsHead
from manypose.heads.pose_objects import PoseObjectsCodec
from manypose.serve.client import client_model
from manypose.skeleton import COCO17


def estimator_with(head):
    return SimpleNamespace(backend=SimpleNamespace(onnx_path="model.onnx"), input_spec=InputSpec(),
                           codec=PoseObjectsCodec((head,)), int8=False, config=EstimatorConfig())


def test_kapao_keypoint_object_heads_are_not_decoded_in_the_browser():
    assert client_model(estimator_with(PoseObjectsHead(COCO17))) is not None
    assert client_model(estimator_with(PoseObjectsHead(COCO17, num_classes=18, keypoint_objects=True))) is None
