"""The training contract each trainable codec states (targets, loss, named and weighted terms,
the raw outputs the loss reads), its checks, and the clear refusal of kinds that cannot train."""
import pickle

import numpy as np
import pytest
import torch

from manypose.data.coco import Sample
from manypose.heads import (CentersHead, DisplacementsHead, LossTerm, PoseObjectsHead, TrainingContract,
                            codec_for)
from manypose.heads.composite_fields import coco17_heads
from manypose.losses import PoseLossGains
from manypose.losses.composite_fields import CompositeFieldsLoss
from manypose.skeleton import COCO17


def one_person(size: int = 161) -> Sample:
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, :, :2] = np.linspace(40, 120, 34).reshape(17, 2)
    keypoints[0, :, 2] = 2
    return Sample(np.zeros((size, size, 3), np.uint8), np.array([[40, 40, 120, 120]], np.float32), keypoints)


def test_pose_objects_state_the_yolo_terms_and_gains_and_rank_by_the_keypoint_term():
    contract = codec_for([PoseObjectsHead(COCO17, strides=(8, 16))]).training()
    gains = PoseLossGains()
    assert contract.term_names == ("box", "pose", "kobj", "cls", "dfl")
    assert contract.term_weights == {"box": gains.box, "pose": gains.pose, "kobj": gains.kobj, "cls": gains.cls,
                                     "dfl": gains.dfl}
    assert contract.ranking_terms == ("pose",)
    assert contract.raw_outputs == ("pose_objects_stride8", "pose_objects_stride16")
    targets = pickle.loads(pickle.dumps(contract.targets))(one_person(), 128)  # as in a data loading worker
    assert targets.keypoints.shape == (1, 17, 3)


def test_composite_fields_weigh_every_term_alike_and_rank_by_all():
    contract = codec_for(coco17_heads()).training()
    assert isinstance(contract.loss, CompositeFieldsLoss)
    assert contract.term_names == CompositeFieldsLoss.names and contract.ranking_terms == contract.term_names
    assert set(contract.term_weights.values()) == {1.0}
    assert contract.raw_outputs == ("cif", "caf")
    targets = pickle.loads(pickle.dumps(contract.targets))(one_person(), 161)
    assert targets.cif.confidence.shape == (17, 21, 21)


@pytest.mark.parametrize("head", [DisplacementsHead(COCO17), CentersHead(COCO17)],
                         ids=lambda head: head.kind)
def test_kinds_without_a_loss_refuse_to_train_naming_the_kind(head):
    with pytest.raises(NotImplementedError, match=f"training {head.kind} heads is not supported yet"):
        codec_for([head]).training()


def test_the_contract_checks_the_network_and_the_loss_against_it():
    contract = codec_for([PoseObjectsHead(COCO17)]).training()
    with pytest.raises(ValueError, match=r"gives 2 raw outputs; the loss reads 3 \(pose_objects_stride8, "):
        contract([torch.zeros(1, 81, 8, 8)] * 2, [])

    def two_items(raw_outputs, targets):
        return torch.zeros(()), torch.zeros(2)

    three_terms = TrainingContract(None, two_items, (LossTerm("a"), LossTerm("b"), LossTerm("c")), ("x",))
    with pytest.raises(ValueError, match="2 items for the terms a, b, c"):
        three_terms([torch.zeros(1)], [])


def test_terms_need_distinct_names_and_one_that_ranks():
    with pytest.raises(ValueError, match="distinct names"):
        TrainingContract(None, None, (LossTerm("a"), LossTerm("a")), ("x",))
    with pytest.raises(ValueError, match="none of the loss terms a, b ranks"):
        TrainingContract(None, None, (LossTerm("a", ranks=False), LossTerm("b", ranks=False)), ("x",))
