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
