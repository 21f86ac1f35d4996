"""The options every command shares: what loading the model they name reads."""
import os

from manypose.cli.options import model_inputs


def test_a_model_is_read_from_its_folder_and_every_file_in_it():
    inputs = dict((str(path), what) for what, path in model_inputs(None))
    folder = next(path for path, what in inputs.items() if what == "the model")
    assert inputs[os.path.join(folder, "model.onnx")] == "the model's file"
    assert inputs[os.path.join(folder, "weights.safetensors")] == "the model's file"
    assert model_inputs("no-such-model") == []
