"""One fuzz target per reader of untrusted bytes. Each writes the input where the reader expects
a file and reads it as the project does; the reader's own documented error is an accepted
answer to a bad file, and is swallowed here. Anything else that escapes is a finding."""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

from .seeds import PART_SEPARATOR, with_weights_checksum

MAX_VIDEO_FRAMES = 20  # enough to pass the container's header and a few decoded frames


def _fresh_folder() -> Path:
    """An empty folder for this input's files, the same one each time (so a crash leaves them there)."""
    folder = Path(tempfile.gettempdir()) / f"manypose-fuzz-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def _parts(data: bytes, count: int) -> list[bytes]:
    parts = data.split(PART_SEPARATOR, count - 1)
    return parts + [b""] * (count - len(parts))


def fuzz_torch_pickle(data: bytes) -> None:
    from manypose.convert.torch_pickle import CheckpointError, load_checkpoint, module_tensors

    path = _fresh_folder() / "model.pt"
    path.write_bytes(data)
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError:
        return
    for value in (checkpoint.values() if isinstance(checkpoint, dict) else [checkpoint]):
        module_tensors(value)


def fuzz_graphdef(data: bytes) -> None:
    from manypose.convert.graphdef import GraphDefError, read_graphdef

    path = _fresh_folder() / "graph.pb"
    path.write_bytes(data)
    try:
        read_graphdef(path)
    except GraphDefError:
        pass


def fuzz_tfjs(data: bytes) -> None:
    """model.json, then (after PART_SEPARATOR) its shard w.bin."""
    from manypose.convert.tfjs import TfjsError, is_tfjs_model, read_tfjs_graph

    model_json, shard = _parts(data, 2)
    folder = _fresh_folder()
    (folder / "model.json").write_bytes(model_json)
    (folder / "w.bin").write_bytes(shard)
    is_tfjs_model(folder / "model.json")
    try:
        read_tfjs_graph(folder / "model.json")
    except TfjsError:
        pass


def fuzz_modelfile(data: bytes) -> None:
    """model.json, then (after PART_SEPARATOR) weights.safetensors; the description's checksum
    placeholder becomes the weights' checksum."""
    from manypose.modelfile import DESCRIPTION_FILE, WEIGHTS_FILE, ModelFileError, read_model_folder

    description, weights = _parts(data, 2)
    folder = _fresh_folder()
    (folder / DESCRIPTION_FILE).write_bytes(with_weights_checksum(description, weights))
    (folder / WEIGHTS_FILE).write_bytes(weights)
    try:
        model = read_model_folder(folder)
        model.skeleton, model.heads, model.input_spec, model.architecture, model.identity
        model.check_weights_present()
        model.weights
    except ModelFileError:
        pass


def fuzz_images(data: bytes) -> None:
    from manypose.data.images import ImageReadError, read_annotated_image, read_image, read_reduced_image

    path = _fresh_folder() / "image.jpg"  # the suffix is a name only: OpenCV reads the content
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # codec warnings on damaged images are expected
        try:
            read_image(path)
            read_annotated_image(path, (16, 24))
            read_reduced_image(path, lambda width, height: 8 if width * height > 4096 else 2)
        except ImageReadError:
            pass


def fuzz_coco(data: bytes) -> None:
    from manypose.data.coco import KeypointDataset
    from manypose.data.coco_annotations import AnnotationFileError

    folder = _fresh_folder()
    (folder / "annotations.json").write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "ignoring skeleton edges" is the expected answer to odd edges
            dataset = KeypointDataset(folder / "annotations.json", folder, check_images=False)
    except AnnotationFileError:
        return
    repr(dataset), dataset.num_people


def fuzz_video(data: bytes) -> None:
    from manypose.video.sources import FrameRange, VideoSourceError, open_source

    suffix = ".gif" if data.startswith(b"GIF") else ".avi" if data.startswith(b"RIFF") else ".mp4"
    path = _fresh_folder() / f"video{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the video ended early" is the expected answer to a cut file
        try:
            source = open_source(path)
        except VideoSourceError:
            return
        try:
            for _ in source.frames(FrameRange(max_frames=MAX_VIDEO_FRAMES)):
                pass
        finally:
            source.close()


TARGETS = {"torch_pickle": fuzz_torch_pickle, "graphdef": fuzz_graphdef, "tfjs": fuzz_tfjs,
           "modelfile": fuzz_modelfile, "images": fuzz_images, "coco": fuzz_coco, "video": fuzz_video}
