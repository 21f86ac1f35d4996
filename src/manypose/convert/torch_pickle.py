"""Read a PyTorch zip checkpoint with numpy only, never running pickled code.

A restricted unpickler resolves only a short list of harmless globals. Classes of the module
tree (ultralytics.*, openpifpaf.*, torchvision.*, torch.nn.*, KAPAO's models.yolo and
models.common) become inert `PickledObject`s that keep their attributes;
tensors become numpy arrays read straight from the archive's storage records. Any other global
(os.system, builtins.eval, ...) stops the load with `UnsafeCheckpointError`.
"""
from __future__ import annotations

import collections
import io
import math
import pickle
import posixpath
import zipfile
import zlib
from pathlib import Path

import numpy as np


class CheckpointError(ValueError):
    """The file is not a checkpoint this reader understands."""


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint asks to run code that a weights file has no need for."""


STORAGE_DTYPES = {
    "HalfStorage": np.float16, "FloatStorage": np.float32, "DoubleStorage": np.float64,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}

# modules whose classes may appear in a checkpoint's module tree or metadata; they are never
# imported, only recorded by name
INERT_MODULE_PREFIXES = ("ultralytics.", "openpifpaf.", "torchvision.", "torch.nn.", "pathlib", "numpy", "types",
                         "argparse")
# KAPAO's (YOLOv5's) module tree: its modules are top-level packages of its repository
INERT_MODULES = ("models.yolo", "models.common")


class PickledObject:
    """Stand-in for an instance of a class that is not imported: holds the pickled state."""

    qualified_name = "?"

    def __init__(self, *args, **kwargs):
        self.constructor_args = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) form
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["state"] = state

    def __repr__(self):
        return f"<pickled {self.qualified_name}>"


def _inert_class(module: str, name: str) -> type:
    return type(name, (PickledObject,), {"qualified_name": f"{module}.{name}"})


def _inert_getattr(obj, name, *default):
    return None  # e.g. Detect.forward stored as a method reference: not needed


def _latin1_bytes(text, encoding="latin1"):
    """Protocol 2 pickles bytes (a numpy array's data, say) as latin-1 text and `_codecs.encode`."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"unexpected encoded bytes record ({encoding!r})")
    return text.encode("latin1")


class _StorageRef:
    def __init__(self, dtype, key: str):
        self.dtype, self.key = dtype, key


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.root = archive, root
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "dict", "list", "tuple"):
            return {"set": set, "frozenset": frozenset, "dict": dict, "list": list, "tuple": tuple}[name]
        if module in ("builtins", "__builtin__") and name == "getattr":
            return _inert_getattr
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self._rebuild_tensor
        if module == "torch._utils" and name.startswith("_rebuild_parameter"):
            return lambda data, *rest: data
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if module == "torch" and name == "Size":
            return tuple
        if module == "torch" and name in ("device", "dtype") or module.startswith(INERT_MODULE_PREFIXES) \
                or module in INERT_MODULES:
            return _inert_class(module, name)
        raise UnsafeCheckpointError(
            f"refusing to load: the checkpoint references {module}.{name}, which a weights file "
            "never needs (it may run arbitrary code)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unknown persistent record {pid!r}")
        _, dtype, key, _location, _numel = pid
        return _StorageRef(dtype, str(key))

    def _storage_array(self, ref: _StorageRef) -> np.ndarray:
        if ref.key not in self.storages:
            try:
                raw = self.archive.read(posixpath.join(self.root, "data", ref.key))
            except KeyError:
                raise CheckpointError(f"tensor data record {ref.key} is missing from the archive") from None
            self.storages[ref.key] = _decode_storage(raw, ref.dtype)
        return self.storages[ref.key]

    def _rebuild_tensor(self, storage, offset, size, stride, *unused):
        if not isinstance(storage, _StorageRef):
            raise CheckpointError("malformed tensor record")
        flat = self._storage_array(storage)
        offset, size, stride = _checked_view(storage.key, flat.size, offset, size, stride)
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[s * flat.itemsize for s in stride])
        return np.array(view)


def _checked_view(key: str, storage_size: int, offset, size, stride):
    """(offset, size, stride) of a tensor record, checked to describe a view that lies wholly
    inside its storage: non-negative integers, one stride per dimension, no more elements than
    the storage holds, the last element within it. A crafted record could otherwise make numpy
    read memory outside the storage, or allocate without bound."""
    def integers(values):
        if not isinstance(values, (tuple, list)) or not all(_is_count(v) for v in values):
            raise CheckpointError(f"tensor in record {key}: sizes and strides must be non-negative integers, "
                                  f"not {values!r}")
        return tuple(int(v) for v in values)

    if not _is_count(offset):
        raise CheckpointError(f"tensor in record {key}: bad storage offset {offset!r}")
    size, stride = integers(size), integers(stride)
    if len(size) != len(stride):
        raise CheckpointError(f"tensor in record {key}: {len(size)} sizes but {len(stride)} strides")
    elements = math.prod(size)
    if elements == 0:
        return int(offset), size, stride
    last = offset + sum((extent - 1) * step for extent, step in zip(size, stride))
    if elements > storage_size or last >= storage_size:
        raise CheckpointError(f"tensor in record {key}: shape {size} with strides {stride} from offset "
                              f"{offset} does not fit its storage of {storage_size} elements")
    return int(offset), size, stride


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _decode_storage(raw: bytes, dtype) -> np.ndarray:
    if dtype == "bfloat16":  # numpy has no bfloat16: widen to float32 by shifting the bits
        if len(raw) % 2:
            raise CheckpointError("tensor data record is truncated")
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32)
    dtype = np.dtype(dtype).newbyteorder("<")
    if len(raw) % dtype.itemsize:
        raise CheckpointError("tensor data record is truncated")
    return np.frombuffer(raw, dtype=dtype)


def is_zip_archive(path) -> bool:
    """Whether the file is a zip archive; one whose directory is damaged past reading (it claims
    to span several disks) counts, so that loading it says it is damaged."""
    try:
        return zipfile.is_zipfile(path)
    except zipfile.BadZipFile:
        return True


def load_checkpoint(path) -> object:
    """The unpickled content of a torch zip checkpoint, with tensors as numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if not is_zip_archive(path):
        raise CheckpointError(
            f"{path}: not a PyTorch zip checkpoint (legacy or foreign format, or a damaged file)")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pickles:
                raise CheckpointError("zip archive without data.pkl, not a PyTorch checkpoint")
            root = pickles[0].rpartition("/")[0]
            return _RestrictedUnpickler(archive.read(pickles[0]), archive, root).load()
    except CheckpointError as error:
        raise type(error)(f"{path}: {error}") from None
    # RuntimeError: zip features the module lacks (other compressions, encryption); OSError: offsets that
    # lie; zlib.error: a compressed member whose data is damaged
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError, RuntimeError, OSError, zlib.error) as error:
        raise CheckpointError(f"{path}: damaged or malformed checkpoint ({error})") from None


def module_tensors(module: object, prefix: str = "") -> dict[str, np.ndarray]:
    """Flatten a pickled nn.Module tree into a state dict (parameters and persistent buffers)."""
    tensors = {}
    state = vars(module) if isinstance(module, PickledObject) else {}
    transient = set(state.get("_non_persistent_buffers_set") or ()) | {"num_batches_tracked"}
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, np.ndarray) and name not in transient:
                tensors[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            tensors.update(module_tensors(child, f"{prefix}{name}."))
    return tensors
