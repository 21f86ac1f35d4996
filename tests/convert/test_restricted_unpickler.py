"""The restricted unpickler refuses every global that could run code, whatever the route: a
call, an attribute fetched from a harmless object, a partial application or torch's own hooks.
Each pickle, if it ran, would create a marker file; none may."""
import pickle
import zipfile

import pytest

from manypose.convert import CheckpointError, UnsafeCheckpointError
from manypose.convert.torch_pickle import load_checkpoint


def _op(value) -> bytes:
    return pickle.dumps(value, protocol=2)[2:-1]


def call(module: str, name: str, *args) -> bytes:
    """Opcodes that call module.name(*args)."""
    return f"c{module}\n{name}\n".encode() + b"(" + b"".join(_op(a) for a in args) + b"tR"


def checkpoint(tmp_path, payload: bytes):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + payload + b".")
    return path


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "ran"


DANGEROUS = [
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "compile"), ("builtins", "__import__"),
    ("builtins", "open"), ("builtins", "breakpoint"), ("__builtin__", "eval"), ("os", "system"),
    ("posix", "system"), ("nt", "system"), ("subprocess", "call"), ("subprocess", "Popen"),
    ("sys", "exit"), ("importlib", "import_module"), ("functools", "partial"), ("operator", "attrgetter"),
    ("torch", "load"), ("torch._utils", "_load_from_bytes"), ("torch.serialization", "load"),
    ("shutil", "rmtree"), ("pickle", "loads"), ("runpy", "run_path"), ("code", "interact"),
]


@pytest.mark.parametrize("module,name", DANGEROUS, ids=lambda v: str(v))
def test_dangerous_globals_are_refused(tmp_path, marker, module, name):
    command = f"open({str(marker)!r}, 'w').write('x')"
    with pytest.raises(UnsafeCheckpointError, match=f"{module}.{name}"):
        load_checkpoint(checkpoint(tmp_path, call(module, name, command)))
    assert not marker.exists()


def test_a_partial_of_a_dangerous_function_is_refused(tmp_path, marker):
    payload = (b"cfunctools\npartial\n(cos\nsystem\n" + _op(f"touch {marker}") + b"tR)R")
    with pytest.raises(UnsafeCheckpointError, match="functools.partial"):
        load_checkpoint(checkpoint(tmp_path, payload))
    assert not marker.exists()


def test_getattr_gives_nothing_to_call(tmp_path, marker):
    """builtins.getattr is answered by an inert stand-in (checkpoints store method references):
    fetching `system` from anything yields None, and calling None fails without running code."""
    fetched = call("builtins", "getattr", "os", "system")
    assert load_checkpoint(checkpoint(tmp_path, fetched)) is None
    with pytest.raises(Exception):
        load_checkpoint(checkpoint(tmp_path, fetched + b"(" + _op(f"touch {marker}") + b"tR"))
    assert not marker.exists()


def test_inert_classes_keep_their_state_and_run_nothing(tmp_path, marker):
    """Classes of a module tree become records; their constructor arguments are kept, not run."""
    record = load_checkpoint(checkpoint(tmp_path, call("torch.nn.modules.conv", "Conv2d", f"touch {marker}")))
    assert record.qualified_name == "torch.nn.modules.conv.Conv2d" and record.constructor_args == (f"touch {marker}",)
    assert not marker.exists()


def test_encoded_bytes_are_latin1_only(tmp_path):
    """Protocol 2 pickles bytes as `_codecs.encode(text, "latin1")` (numpy arrays in OpenPifPaf's
    head metadata); that call is answered for latin-1 alone."""
    assert load_checkpoint(checkpoint(tmp_path, call("_codecs", "encode", "\xff\x01", "latin1"))) == b"\xff\x01"
    with pytest.raises(CheckpointError, match="encoded bytes"):
        load_checkpoint(checkpoint(tmp_path, call("_codecs", "encode", "abc", "rot13")))
