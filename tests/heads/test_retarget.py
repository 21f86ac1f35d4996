"""Each built-in head kind's codec fits its heads to another keypoint set (a data set's own, for
training): sized for its keypoints, its flip map, and the kind's keypoint-naming layout (CAF
associations, PAF limbs, the displacement tree) taken from its edges, or refused clearly."""
from dataclasses import replace

import pytest

from manypose.decoders.displacements import check_tree
from manypose.heads import CentersHead, DisplacementsHead, PafHead, PoseObjectsHead, codec_for
from manypose.heads.composite_fields import coco17_heads
from manypose.heads.paf import OPENPOSE18_DENSE_LIMBS
from manypose.skeleton import COCO17, OPENPOSE18, Skeleton

# a face: its flip map swaps the eyes and the ears (from the names); edges from the nose outwards
FACE = Skeleton("face", ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
                ((0, 1), (0, 2), (1, 3), (2, 4)), (0.026, 0.025, 0.025, 0.035, 0.035))
# a custom set whose flip map is given, not read from names
HANDS = Skeleton("hands", ("a", "b", "c"), ((0, 1), (1, 2)), (0.05,) * 3, flip=(2, 1, 0))
NO_EDGES = Skeleton("points", ("a", "b", "c"), (), (0.05,) * 3)


def retargeted(heads, skeleton):
    return codec_for(heads).retarget(skeleton)


def test_the_same_keypoints_keep_the_heads_and_their_own_skeleton():
    heads = coco17_heads(dense=True)
    other_sigmas = replace(COCO17, name="coco-like", sigmas=(0.1,) * 17)
    assert retargeted(heads, other_sigmas) == heads
    assert retargeted((PoseObjectsHead(COCO17),), other_sigmas)[0].skeleton is COCO17


@pytest.mark.parametrize("skeleton", [FACE, HANDS], ids=lambda s: s.name)
def test_pose_objects_are_sized_for_the_new_keypoints_and_keep_their_layout(skeleton):
    (head,) = retargeted((PoseObjectsHead(COCO17, strides=(8, 16), box_bins=8),), skeleton)
    assert head.skeleton == skeleton and head.keypoint_shape == (len(skeleton), 3)
    assert (head.strides, head.box_bins) == ((8, 16), 8)
    assert head.skeleton.flip == skeleton.flip


def test_flip_pairs_come_from_the_new_skeleton():
    assert retargeted((PoseObjectsHead(COCO17),), FACE)[0].skeleton.flip == (0, 2, 1, 4, 3)  # from the names
    assert retargeted((PoseObjectsHead(COCO17),), HANDS)[0].skeleton.flip == (2, 1, 0)  # as given


def test_composite_fields_take_associations_from_the_new_edges_and_drop_the_keypoint_weights():
    cif, caf = retargeted(coco17_heads(stride=16, dense=True), FACE)
    assert cif.fields == 5 and cif.score_weights == () and (cif.stride, cif.upsample) == (16, 2)
    assert caf.associations == FACE.edges and caf.fields == 4 and caf.stride == 16
    assert cif.skeleton.flip == caf.skeleton.flip == FACE.flip


def test_association_fields_need_edges():
    with pytest.raises(ValueError, match="caf heads .* 'points' has no edges"):
        retargeted(coco17_heads(), NO_EDGES)


def test_paf_limbs_are_the_new_edges_with_a_channel_pair_each():
    (head,) = retargeted((PafHead(OPENPOSE18, limbs=OPENPOSE18_DENSE_LIMBS),), FACE)
    assert head.limbs == ((0, 1, 0, 1), (0, 2, 2, 3), (1, 3, 4, 5), (2, 4, 6, 7))
    assert (head.heatmap_channels, head.paf_channels) == (6, 8)
    with pytest.raises(ValueError, match="paf heads .* no edges"):
        retargeted((PafHead(OPENPOSE18),), NO_EDGES)


def test_displacements_walk_a_tree_over_the_new_edges():
    (head,) = retargeted((DisplacementsHead(COCO17, stride=8),), FACE)
    assert head.tree == ((0, 1), (0, 2), (1, 3), (2, 4)) and head.stride == 8
    check_tree(head.tree, 5)
    backwards = Skeleton("chain", ("a", "b", "c", "d"), ((3, 2), (1, 2), (0, 1)), (0.05,) * 4)
    assert retargeted((head,), backwards)[0].tree == ((0, 1), (1, 2), (2, 3)), "parents first, from keypoint 0"


def test_displacements_refuse_keypoints_the_edges_do_not_reach():
    apart = Skeleton("apart", ("a", "b", "c", "d"), ((0, 1), (2, 3)), (0.05,) * 4)
    with pytest.raises(ValueError, match="'apart' do not reach c, d"):
        retargeted((DisplacementsHead(COCO17),), apart)


def test_centres_are_sized_for_the_new_keypoints():
    (head,) = retargeted((CentersHead(COCO17, stride=8),), FACE)
    assert head.skeleton == FACE and head.stride == 8
