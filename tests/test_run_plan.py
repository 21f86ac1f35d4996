"""The rule every command plans by: no output replaces an input, however spelled or reached."""
import os

import pytest

from manypose.atomic_files import atomic_write_text
from manypose.run_plan import OverwritesInput, refuse_overwriting_inputs


@pytest.fixture
def photo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "a.jpg").write_bytes(b"the user's photo")
    return tmp_path / "a.jpg"


@pytest.mark.parametrize("spelling", ["a.jpg", "./a.jpg", "d/../a.jpg", "{tmp}/a.jpg", "missing/../a.jpg"])
def test_an_output_spelled_as_an_input_is_refused_naming_both(photo, spelling):
    output = spelling.format(tmp=photo.parent)
    with pytest.raises(OverwritesInput) as refused:
        refuse_overwriting_inputs([("the input image", photo)], files=[("the JSON output", output)])
    assert str(refused.value).startswith(f"{output}: the JSON output would overwrite the input image {photo};")


def test_a_symlink_to_an_input_is_refused(photo):
    (photo.parent / "link.json").symlink_to(photo)
    with pytest.raises(OverwritesInput, match="link.json: the JSON output would overwrite"):
        refuse_overwriting_inputs([("the input image", photo)], files=[("the JSON output", "link.json")])


def test_an_input_reached_through_a_symlink_is_refused(photo):
    (photo.parent / "link.jpg").symlink_to(photo)
    with pytest.raises(OverwritesInput, match="the input image link.jpg"):
        refuse_overwriting_inputs([("the input image", "link.jpg")], files=[("the JSON output", photo)])


def test_a_hard_link_is_replaced_by_its_own_file_and_the_input_stays_whole(photo):
    os.link(photo, "hard.json")
    refuse_overwriting_inputs([("the input image", photo)], files=[("the JSON output", "hard.json")])
    atomic_write_text("hard.json", "[]")
    assert photo.read_bytes() == b"the user's photo" and (photo.parent / "hard.json").read_text() == "[]"


def test_other_outputs_stdout_and_unset_ones_pass(photo):
    refuse_overwriting_inputs([("the input image", photo), ("the model", None)],
                              files=[("the JSON output", "-"), ("the stats", None), ("the drawn image", "d/a.jpg")])


def test_an_output_file_onto_an_input_folder_is_refused(photo):
    with pytest.raises(OverwritesInput, match="d: the JSON output would overwrite the input folder d"):
        refuse_overwriting_inputs([("the input folder", "d")], files=[("the JSON output", "d")])


@pytest.mark.parametrize("folder", [".", "d/..", "a.jpg"])
def test_an_output_folder_that_is_or_holds_an_input_is_refused(photo, folder):
    with pytest.raises(OverwritesInput, match=f"{folder}: the model folder cannot be, or hold, the checkpoint"):
        refuse_overwriting_inputs([("the checkpoint", photo)], folders=[("the model folder", folder)])


def test_an_output_folder_beside_or_inside_an_input_folder_passes(photo):
    refuse_overwriting_inputs([("the checkpoint", photo), ("the images", "d")],
                              folders=[("the model folder", "d/model"), ("the samples", "e")])
