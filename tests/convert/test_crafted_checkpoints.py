"""Crafted checkpoints (a few hundred bytes each) that describe tensors outside their storage:
every one is refused with one clear line naming the tensor, through convert, predict and
load, in a separate process with bounded memory, with no crash and nothing read from outside
the storage."""
import pickle
import resource
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from manypose.convert import CheckpointError
from manypose.convert.torch_pickle import load_checkpoint

MEMORY_LIMIT = 6 << 30  # address space of the child: imports fit, a runaway allocation does not


def _op(value) -> bytes:
    """The pickle opcodes that push `value` (protocol 2, without the header and STOP)."""
    return pickle.dumps(value, protocol=2)[2:-1]


def _tuple(values) -> bytes:
    return b"(" + b"".join(_op(v) for v in values) + b"t"


def tensor_record(offset, size, stride, numel: int) -> bytes:
    """torch._utils._rebuild_tensor_v2(storage 0 (float32, numel), offset, size, stride, False, {})."""
    storage = (b"(" + _op("storage") + b"ctorch\nFloatStorage\n" + _op("0") + _op("cpu") + _op(numel) + b"tQ")
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + _op(offset) + _tuple(size) + _tuple(stride)
            + b"\x89ccollections\nOrderedDict\n)RtR")


def write_checkpoint(path, offset, size, stride, storage_floats: int = 4):
    data = b"\x80\x02}" + _op("weight") + tensor_record(offset, size, stride, storage_floats) + b"s."
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/data/0", np.arange(storage_floats, dtype="<f4").tobytes())
    return path


CRAFTED = {
    "negative stride": dict(offset=3, size=(4,), stride=(-1,)),
    "small negative stride reaching before the storage": dict(offset=0, size=(2, 2), stride=(2, -3)),
    "stride 0 with a huge shape": dict(offset=0, size=(1 << 20, 1 << 20), stride=(0, 0)),
    "offset past the end": dict(offset=10, size=(2,), stride=(1,)),
    "shape larger than its bytes": dict(offset=0, size=(3, 3), stride=(3, 1)),
    "sizes and strides that disagree": dict(offset=0, size=(2, 2), stride=(1,)),
    "negative offset": dict(offset=-2, size=(2,), stride=(1,)),
}


def test_a_well_formed_record_still_reads(tmp_path):
    weight = load_checkpoint(write_checkpoint(tmp_path / "ok.pth", 1, (3,), (1,)))["weight"]
    assert weight.tolist() == [1.0, 2.0, 3.0]
    transposed = load_checkpoint(write_checkpoint(tmp_path / "t.pth", 0, (2, 2), (1, 2)))["weight"]
    assert transposed.tolist() == [[0.0, 2.0], [1.0, 3.0]]


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_records_are_refused_in_process(tmp_path, case):
    path = write_checkpoint(tmp_path / "crafted.pth", **CRAFTED[case])
    with pytest.raises(CheckpointError, match="tensor in record 0"):
        load_checkpoint(path)


def _limited_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("command", ["convert", "predict", "load"])
@pytest.mark.parametrize("case", ["negative stride", "stride 0 with a huge shape", "offset past the end"])
def test_crafted_checkpoints_end_with_one_line_through_every_entry(tmp_path, case, command):
    from manypose.zoo import DEMO_IMAGE

    path = write_checkpoint(tmp_path / "crafted.pth", **CRAFTED[case])
    argv = {"convert": [sys.executable, "-m", "manypose.cli", "convert", str(path), str(tmp_path / "out")],
            "predict": [sys.executable, "-m", "manypose.cli", "predict", str(DEMO_IMAGE), "--model", str(path)],
            "load": [sys.executable, "-c", f"import manypose; manypose.load({str(path)!r})"]}[command]
    result = subprocess.run(argv, capture_output=True, text=True, preexec_fn=_limited_memory, timeout=300)
    if command == "load":  # the API raises; the error is the last line of the traceback
        assert result.returncode == 1 and "CheckpointError" in result.stderr.splitlines()[-1]
    else:
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "tensor in record 0" in lines[0] and "Traceback" not in result.stderr
    assert "tensor in record 0" in result.stderr
    assert not (tmp_path / "out").exists(), "nothing is written"


@pytest.mark.parametrize("offset, size, stride", [
    (1, (4,), (1,)),        # one past the end
    (10, (1,), (1,)),       # a single element past the end
    (0, (3, 3), (0, 1)),    # a broadcast view: more elements than the storage holds
])
def test_views_just_outside_their_storage_are_refused(tmp_path, offset, size, stride):
    with pytest.raises(CheckpointError, match="does not fit its storage of 4 elements"):
        load_checkpoint(write_checkpoint(tmp_path / "edge.pth", offset, size, stride))


@pytest.mark.parametrize("offset, size, stride, expected", [
    (0, (4,), (1,), [0.0, 1.0, 2.0, 3.0]),   # exactly the storage
    (3, (1,), (1,), [3.0]),                  # its last element
    (9, (0,), (1,), []),                     # empty: no element to read
])
def test_views_just_inside_their_storage_read(tmp_path, offset, size, stride, expected):
    assert load_checkpoint(write_checkpoint(tmp_path / "edge.pth", offset, size, stride))["weight"].tolist() == expected


def test_bfloat16_storages_widen_and_a_truncated_one_is_refused(tmp_path):
    values = np.array([1.5, -2.0, 0.15625], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    for name, data in (("ok", raw), ("truncated", raw[:-1])):
        pickled = (b"\x80\x02}" + _op("weight") + tensor_record(0, (3,), (1,), 3) + b"s.").replace(
            b"FloatStorage", b"BFloat16Storage")
        with zipfile.ZipFile(tmp_path / f"{name}.pth", "w") as archive:
            archive.writestr("archive/data.pkl", pickled)
            archive.writestr("archive/data/0", data)
    assert load_checkpoint(tmp_path / "ok.pth")["weight"].tolist() == values.tolist()
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / "truncated.pth")


def test_bfloat16_storages_widen_to_float32_even_where_numpy_knows_bfloat16(tmp_path):
    # ml_dtypes (loaded with onnx, jax or tensorflow) teaches numpy a "bfloat16" dtype: the
    # reader must still widen bfloat16 storages to float32 itself, as it does without it
    try:
        import ml_dtypes  # noqa: F401  (registers the dtype, as an earlier onnx import would)
    except ImportError:
        pass
    values = np.array([1.5, -2.0, 0.15625], np.float32)  # exact in bfloat16: the top 16 bits
    pickled = (b"\x80\x02}" + _op("weight") + tensor_record(0, (3,), (1,), 3) + b"s.").replace(
        b"FloatStorage", b"BFloat16Storage")
    with zipfile.ZipFile(tmp_path / "bf16.pth", "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/data/0", (values.view(np.uint32) >> 16).astype("<u2").tobytes())
    weight = load_checkpoint(tmp_path / "bf16.pth")["weight"]
    assert weight.dtype == np.float32
    assert weight.tolist() == values.tolist()


def _with_pickle(path, data: bytes, storage: bool = True):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        if storage:
            archive.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
    return path


@pytest.mark.parametrize("persistent_id", [("other", "x"), (), "storage", ["storage", "x"]])
def test_persistent_records_other_than_storages_are_refused(tmp_path, persistent_id):
    data = b"\x80\x02}" + _op("weight") + _op(persistent_id) + b"Qs."
    with pytest.raises(CheckpointError, match="unknown persistent record"):
        load_checkpoint(_with_pickle(tmp_path / "pid.pth", data))


def test_a_missing_tensor_data_record_is_named(tmp_path):
    data = b"\x80\x02}" + _op("weight") + tensor_record(0, (4,), (1,), 4) + b"s."
    with pytest.raises(CheckpointError, match="tensor data record 0 is missing from the archive"):
        load_checkpoint(_with_pickle(tmp_path / "missing.pth", data, storage=False))


def test_a_tensor_record_without_a_storage_is_malformed(tmp_path):
    record = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + _op(7) + _op(0) + _tuple((4,)) + _tuple((1,))
              + b"\x89ccollections\nOrderedDict\n)RtR")
    with pytest.raises(CheckpointError, match="malformed tensor record"):
        load_checkpoint(_with_pickle(tmp_path / "malformed.pth", b"\x80\x02}" + _op("weight") + record + b"s."))


def test_a_tensor_record_without_a_storage_is_one_plain_line(tmp_path):
    # the message is the file and the reason, nothing else around it
    record = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + _op(7) + _op(0) + _tuple((4,)) + _tuple((1,))
              + b"\x89ccollections\nOrderedDict\n)RtR")
    path = _with_pickle(tmp_path / "malformed.pth", b"\x80\x02}" + _op("weight") + record + b"s.")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert str(error.value) == f"{path}: malformed tensor record"


def test_files_that_are_not_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing\.pth: no such file"):
        load_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "text.pth").write_text("not a zip")
    with pytest.raises(CheckpointError, match=r"text\.pth: not a PyTorch zip checkpoint"):
        load_checkpoint(tmp_path / "text.pth")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("model/weights.bin", b"")
    with pytest.raises(CheckpointError, match=r"other\.zip: zip archive without data\.pkl, not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "other.zip")
    with zipfile.ZipFile(tmp_path / "damaged.pth", "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00")
    with pytest.raises(CheckpointError, match=r"damaged\.pth: damaged or malformed checkpoint \("):
        load_checkpoint(tmp_path / "damaged.pth")


@pytest.mark.parametrize("pickle_name, data_name", [("archive/data.pkl", "archive/data/0"), ("a/b/data.pkl", "a/b/data/0"),
                                                     ("data.pkl", "data/0")])
def test_the_pickle_may_sit_in_nested_folders_or_at_the_top(tmp_path, pickle_name, data_name):
    data = b"\x80\x02}" + _op("weight") + tensor_record(1, (2,), (1,), 4) + b"s."
    with zipfile.ZipFile(tmp_path / "placed.pth", "w") as archive:
        archive.writestr(pickle_name, data)
        archive.writestr(data_name, np.arange(4, dtype="<f4").tobytes())
    assert load_checkpoint(tmp_path / "placed.pth")["weight"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("storage, size", [("FloatStorage", 6), ("BFloat16Storage", 3), ("BFloat16Storage", 5)])
def test_a_storage_that_is_not_whole_elements_is_truncated(tmp_path, storage, size):
    data = (b"\x80\x02}" + _op("weight") + tensor_record(0, (1,), (1,), 1) + b"s.").replace(
        b"FloatStorage", storage.encode())
    with zipfile.ZipFile(tmp_path / "cut.pth", "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/data/0", bytes(size))
    with pytest.raises(CheckpointError, match=r"cut\.pth: tensor data record is truncated$"):
        load_checkpoint(tmp_path / "cut.pth")


def _encode_call(*args) -> bytes:
    """A protocol 2 pickle of `_codecs.encode(*args)`, the way pickle writes bytes objects."""
    return b"\x80\x02c_codecs\nencode\n(" + b"".join(_op(a) for a in args) + b"tR."


@pytest.mark.parametrize("args", [("\xff\x01A", "latin1"), ("\xff\x01A", "latin-1"), ("\x01A",)],
                         ids=["latin1", "latin-1", "default-encoding"])
def test_encoded_bytes_read_as_codecs_encode_would(tmp_path, args):
    # both spellings Python accepts for latin-1; with no encoding, ASCII text encodes the same
    # in every codec, so the call must answer like the real `_codecs.encode(*args)`
    import _codecs
    path = _with_pickle(tmp_path / "bytes.pth", _encode_call(*args), storage=False)
    assert load_checkpoint(path) == _codecs.encode(*args)


# --- zip archives whose directory lies (found by fuzzing, fuzz/targets.py: torch_pickle) -------

def _patched(data: bytes, signature: bytes, offset: int, value: bytes) -> bytes:
    """`value` written `offset` bytes into the first record that starts with `signature`."""
    at = data.index(signature) + offset
    return data[:at] + value + data[at + len(value):]


CENTRAL_DIRECTORY, END_OF_DIRECTORY = b"PK\x01\x02", b"PK\x05\x06"
DAMAGED_ZIPS = {  # escaped as NotImplementedError, NotImplementedError and OSError
    "unknown compression method": (CENTRAL_DIRECTORY, 10, (99).to_bytes(2, "little")),
    "zip version from the future": (CENTRAL_DIRECTORY, 6, (101).to_bytes(2, "little")),
    "directory offset past its place": (END_OF_DIRECTORY, 16, (1 << 20).to_bytes(4, "little")),
}


@pytest.mark.parametrize("case", sorted(DAMAGED_ZIPS))
def test_a_zip_directory_that_lies_is_a_damaged_checkpoint(tmp_path, case):
    path = write_checkpoint(tmp_path / "damaged.pth", 0, (4,), (1,))
    path.write_bytes(_patched(path.read_bytes(), *DAMAGED_ZIPS[case]))
    with pytest.raises(CheckpointError, match="damaged.pth: damaged or malformed checkpoint"):
        load_checkpoint(path)


def test_a_damaged_compressed_member_is_a_damaged_checkpoint(tmp_path):
    """Found by a ten-minute fuzz run: zlib's own error escaped. A deflated data.pkl whose first
    byte now announces a stored block with lengths that disagree."""
    path = tmp_path / "damaged.pth"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}." * 64)
    data = path.read_bytes()
    name = b"archive/data.pkl"
    start = data.index(name) + len(name)  # the local header's extra field is empty
    path.write_bytes(data[:start] + b"\x00" + data[start + 1:])
    with pytest.raises(CheckpointError, match="damaged.pth: damaged or malformed checkpoint"):
        load_checkpoint(path)


def test_a_zip_that_claims_several_disks_is_a_damaged_checkpoint(tmp_path):
    """Found by a ten-minute fuzz run: zipfile.is_zipfile itself raised BadZipFile, before any
    check of ours; convert tells it is a damaged checkpoint too."""
    from manypose.convert import model_file_from_checkpoint

    path = write_checkpoint(tmp_path / "disks.pth", 0, (4,), (1,))
    data = path.read_bytes()
    end = data.rindex(END_OF_DIRECTORY)
    zip64_locator = b"PK\x06\x07" + (0).to_bytes(4, "little") + (0).to_bytes(8, "little") + (2).to_bytes(4, "little")
    path.write_bytes(data[:end] + zip64_locator + data[end:])
    for read in (load_checkpoint, model_file_from_checkpoint):
        with pytest.raises(CheckpointError, match="disks.pth: damaged or malformed checkpoint"):
            read(path)
