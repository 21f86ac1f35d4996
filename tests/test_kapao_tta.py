"""KAPAO's test-time augmentation (views made from the network input, their candidates merged
before NMS and fusion) against its own `--scales 0.8 1 1.2 --flips -1 3 -1` (tests/data/kapao)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kapao_reference import CHECKPOINT, decoder, fused_on_image, image, input_spec, outputs, settings  # noqa: E402
from manypose.convert.kapao import kapao_model_file  # noqa: E402
from manypose.heads import codec_for  # noqa: E402
from manypose.models import inference_network  # noqa: E402
from manypose.tta import view_blob  # noqa: E402


@pytest.fixture(scope="module")
def merged():
    model = kapao_model_file(CHECKPOINT)
    network = inference_network(model)
    blob, _ = input_spec().prepare(image())
    views = [(scale, flip == 3) for scale, flip in zip(settings()["scales"], settings()["flips"])]

    def run(view):
        with torch.no_grad():
            return {"kapao": network(torch.from_numpy(view)).numpy()}

    outputs_of_views = [(run(view_blob(blob, scale, mirrored, 64)), scale, mirrored) for scale, mirrored in views]
    return codec_for(model.heads).merged_view_outputs(outputs_of_views, blob.shape[3])["kapao"][0]


def test_kapao_views_are_made_as_the_originals_scale_img():
    blob = np.arange(2 * 3 * 4, dtype=np.float32).reshape(1, 3, 2, 4) / 24
    mirrored = view_blob(blob, 1.0, True, 64)
    np.testing.assert_array_equal(mirrored, blob[..., ::-1])
    larger = view_blob(blob, 1.5, False, 4)
    assert larger.shape == (1, 3, 4, 8)  # 3 x 6 resized, padded to multiples of 4
    np.testing.assert_array_equal(larger[:, :, 3:], np.float32(0.447))
    np.testing.assert_array_equal(larger[:, :, :, 6:], np.float32(0.447))


def test_kapao_merged_views_give_the_originals_candidates(merged):
    # each candidate the original's views gave that can pass its thresholds is among ours (rounding
    # apart); their order within a view can differ where scores tie, so they are matched by value
    given = settings()
    threshold = min(given["conf_thres"], given["conf_thres_kp"])
    best = (merged[:, 5:23] * merged[:, 4:5]).max(1)
    ours = merged[(merged[:, 4] > threshold) & (best > threshold)]
    reference = outputs()["tta_candidates"]
    assert len(ours) == len(reference) > len(outputs()["plain_person_dets"])
    scale = np.maximum(np.abs(reference), 1)
    nearest = [(np.abs(ours - row) / scale[i]).max(1).min() for i, row in enumerate(reference)]
    assert max(nearest) < 1e-4


def test_kapao_merged_candidates_decode_and_fuse_as_the_original():
    reference = outputs()
    boxes, scores, _, objects = decoder().objects(reference["tta_candidates"])
    np.testing.assert_allclose(boxes, reference["tta_person_dets"][:, :4], atol=1e-4)
    np.testing.assert_array_equal(objects.classes + 1, reference["tta_kp_dets"][:, 5])
    _, fused, counts = fused_on_image(reference["tta_candidates"])
    np.testing.assert_allclose(fused, reference["tta_poses"], atol=1e-4)
    np.testing.assert_array_equal(counts, reference["tta_fused"])
    assert counts.sum() > 0
