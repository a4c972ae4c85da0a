"""Import EDSR-PyTorch checkpoints (EDSR, MDSR) into jaxsr params, without torch and without running pickle
code.

A ``torch.save``'d state dict is a pickle that names a few globals (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``, ...) plus raw storage bytes. Both formats are read:

* zip (torch >= 1.6): ``<name>/data.pkl``, storages in ``<name>/data/<key>``, ``<name>/byteorder``;
* legacy: pickles of the magic number, protocol version and system info, the state dict, the list of
  storage keys, then per storage an int64 element count and its bytes.

The unpickler maps exactly those globals to functions that build numpy arrays and refuses every other
global with one line (``<file>: refuses pickle global 'os.system'``), so nothing in the file is executed.

Key layout (EDSR-PyTorch ``src/model/edsr.py``, ``mdsr.py``, ``common.py``): ``head.0``; residual block i
``body.i.body.0`` / ``body.i.body.2`` (index 1 is the ReLU); ``body.<num_blocks>`` the conv closing the
body; EDSR's upsampler ``tail.0.<2k>`` (conv of stage k; odd indices are pixel shuffles) and last conv
``tail.1``; MDSR's ``pre_process.<i>.<j>.body.{0,2}`` and ``upsample.<i>.<2k>`` for its i-th scale, and
``tail.0``. ``sub_mean`` / ``add_mean`` are the constant DIV2K mean shift: checked, not imported. PyTorch
conv weights (out, in, kh, kw) become Flax kernels (kh, kw, in, out); both are cross-correlations.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jaxsr import models
from jaxsr.base.errors import JaxsrError

__all__ = ["read_torch_state_dict", "torch_to_params", "load_torch_params"]

_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
           "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
           "ByteStorage": "u1", "BoolStorage": "?"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
# Limits checked before anything is inflated or read (a small file must not become gigabytes in memory): a
# state dict's pickle is small (EDSR: ~40 KB, MDSR: ~100 KB); storages hold at most MAX_BYTES, and what a
# compressed zip entry declares is at most MAX_RATIO times its compressed size (torch.save stores
# entries uncompressed; float weights barely compress).
MAX_PICKLE_BYTES = 8 << 20
MAX_BYTES = 1 << 30
MAX_RATIO = 64


class _Sealed:
    """Objects the unpickler builds; a pickle may not set their state (BUILD)."""

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"unexpected state for a {type(self).__name__.strip('_')}")


class _StorageType(_Sealed):
    """What ``torch.FloatStorage`` etc. unpickle to: the element type (``bf16`` arrays are widened later)."""

    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_DTYPES[name])


class _Storage(_Sealed):
    """A storage named in the pickle; ``data`` (1-D numpy array) is filled in from the file."""

    def __init__(self, kind: _StorageType, key: str, numel: int):
        self.kind, self.key, self.numel, self.data = kind, key, int(numel), None


class _Tensor(_Sealed):
    """A tensor rebuilt from (storage, offset, size, stride), turned into a numpy array once data is read."""

    def __init__(self, storage, offset, size, stride, *_):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor without a storage")
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(n) for n in size), tuple(int(n) for n in stride)

    def numpy(self) -> np.ndarray:
        data, size, stride = self.storage.data, self.size, self.stride
        if len(size) != len(stride) or min(size + stride, default=0) < 0 or self.offset < 0:
            raise ValueError(f"bad size {size} / stride {stride}")
        last = self.offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else self.offset - 1
        if last >= data.size:  # as_strided must never read outside the storage
            raise ValueError(f"size {size} / stride {stride} reach past a storage of {data.size} elements")
        if int(np.prod(size, dtype=np.float64)) > data.size:  # expanded (stride 0) views: not in state dicts
            raise ValueError(f"size {size} holds more elements than its storage ({data.size})")
        item = data.itemsize
        out = np.lib.stride_tricks.as_strided(data[self.offset:], size, [s * item for s in stride]).copy()
        if self.storage.kind.name == "BFloat16Storage":  # bfloat16 = the high half of a float32
            out = (out.astype(np.uint32) << 16).view(np.float32)
        return out


class _StateDict(collections.OrderedDict):
    """What ``collections.OrderedDict`` unpickles to. ``torch.save`` sets one attribute on a state dict,
    ``_metadata`` (module versions; ignored here); a pickle may set no other (BUILD), so an entry such as
    ``items`` can never shadow the dict's own methods."""

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and not state[1]:
            state = state[0]
        if not (state is None or isinstance(state, dict) and set(state) <= {"_metadata"}):
            names = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
            raise pickle.UnpicklingError(f"unexpected state for a state dict ({names})")


def _parameter(data, *_):
    """``torch._utils._rebuild_parameter(data, requires_grad, hooks)``: a Parameter is its data here."""
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that knows only the globals of a torch state dict and refuses any other."""

    _ALLOWED = {("collections", "OrderedDict"): _StateDict,
                ("torch._utils", "_rebuild_tensor_v2"): _Tensor,
                ("torch._utils", "_rebuild_tensor"): _Tensor,
                ("torch._utils", "_rebuild_parameter"): _parameter}

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy: (..., numel, view_metadata)
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:60]}")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (torch < 0.4 files) are not supported")
        key = str(pid[2])
        if key not in self.storages:
            self.storages[key] = _Storage(pid[1], key, pid[4])
        return self.storages[key]


class _Refused(Exception):
    pass


def _unpickle(path: Path, data: bytes | io.BufferedIOBase, storages: dict):
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return _RestrictedUnpickler(stream, storages).load()
    except _Refused as e:
        raise JaxsrError(f"{path}: refuses pickle global '{e}'") from None
    except JaxsrError:
        raise
    except Exception as e:  # truncated or malformed pickles raise many kinds
        raise JaxsrError(f"{path}: not a PyTorch state dict ({type(e).__name__}: {e})") from None


def _inflatable(path: Path, info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse, before inflating it, a zip entry that declares more than ``limit`` bytes or far more than
    its compressed size (a zip bomb)."""
    if info.file_size > limit:
        raise JaxsrError(f"{path}: {info.filename} declares {info.file_size:,} bytes, over the limit of "
                         f"{limit:,}; not read")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_RATIO * info.compress_size + (1 << 16):
        raise JaxsrError(f"{path}: {info.filename} declares {info.file_size:,} bytes from {info.compress_size:,} "
                         "compressed (a zip bomb?); not read")


def _check_storages(path: Path, storages: dict, max_elements: int | None) -> None:
    """The storages the pickle declares, against the limits, before any is read."""
    total = sum(s.numel * s.kind.dtype.itemsize for s in storages.values())
    elements = sum(s.numel for s in storages.values())
    if max_elements is not None and elements > max_elements:
        raise JaxsrError(f"{path}: its tensors declare {elements:,} values, more than the model's {max_elements:,} "
                         "parameters (another or a damaged model); not read")
    if total > MAX_BYTES:
        raise JaxsrError(f"{path}: its tensors declare {total:,} bytes, over the limit of {MAX_BYTES:,}; not read")


def _read_zip(path: Path, archive: zipfile.ZipFile, max_elements: int | None = None):
    names = archive.namelist()
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") <= 1]
    if len(pkl) != 1:
        raise JaxsrError(f"{path}: a zip file without one '<name>/data.pkl' (not a torch.save file)")
    prefix = pkl[0][: -len("data.pkl")]
    _inflatable(path, archive.getinfo(pkl[0]), MAX_PICKLE_BYTES)  # a state dict's pickle is small
    storages: dict = {}
    state = _unpickle(path, archive.read(pkl[0]), storages)
    order = "little"
    if prefix + "byteorder" in names:
        _inflatable(path, archive.getinfo(prefix + "byteorder"), 64)
        order = archive.read(prefix + "byteorder").decode(errors="replace").strip()
    for s in storages.values():
        entry = f"{prefix}data/{s.key}"
        if entry not in names:
            raise JaxsrError(f"{path}: storage {s.key} is missing")
        if archive.getinfo(entry).file_size != s.numel * s.kind.dtype.itemsize:  # read nothing oversized
            raise JaxsrError(f"{path}: storage {s.key} has {archive.getinfo(entry).file_size} bytes, "
                             f"expected {s.numel * s.kind.dtype.itemsize}")
    _check_storages(path, storages, max_elements)
    for s in storages.values():
        _inflatable(path, archive.getinfo(f"{prefix}data/{s.key}"), MAX_BYTES)
    for s in storages.values():
        s.data = _storage_array(path, archive.read(f"{prefix}data/{s.key}"), s, order)
    return state


def _read_legacy(path: Path, f, max_elements: int | None = None):
    storages: dict = {}
    header = [_unpickle(path, f, storages) for _ in range(3)]
    if header[0] != _LEGACY_MAGIC or header[1] != _LEGACY_PROTOCOL or not isinstance(header[2], dict):
        raise JaxsrError(f"{path}: not a PyTorch checkpoint (no torch.save header)")
    order = "little" if header[2].get("little_endian", True) else "big"
    state = _unpickle(path, f, storages)
    keys = _unpickle(path, f, {})
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise JaxsrError(f"{path}: storage list does not match the tensors")
    _check_storages(path, storages, max_elements)
    size = path.stat().st_size
    for key in map(str, keys):
        s = storages[key]
        count = int.from_bytes(f.read(8), order)
        if count != s.numel or count * s.kind.dtype.itemsize > size - f.tell():
            raise JaxsrError(f"{path}: storage {key} holds {count} elements, the tensors expect {s.numel} "
                             "(truncated file?)")
        s.data = _storage_array(path, f.read(count * s.kind.dtype.itemsize), s, order)
    return state


def _storage_array(path: Path, raw: bytes, s: _Storage, order: str) -> np.ndarray:
    dtype = s.kind.dtype.newbyteorder("<" if order == "little" else ">")
    if len(raw) != s.numel * dtype.itemsize:
        raise JaxsrError(f"{path}: storage {s.key} has {len(raw)} bytes, expected {s.numel * dtype.itemsize} "
                         "(truncated file?)")
    return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))


def read_torch_state_dict(path, max_elements: int | None = None) -> dict[str, np.ndarray]:
    """``{name: array}`` of a state dict written by ``torch.save`` (zip or legacy format), read without torch.

    Arrays keep the saved dtype (bfloat16 becomes float32). Raises JaxsrError (one line) for a missing,
    truncated or malformed file, any pickle global other than a state dict's, or a value that is not a tensor;
    and, before anything is inflated or read, for storages declaring more than ``MAX_BYTES`` (or, with
    ``max_elements``, more values than that), a compressed entry declaring more than ``MAX_RATIO`` times
    its size, or a pickle over ``MAX_PICKLE_BYTES``.
    """
    path = Path(path)
    if not path.is_file():
        raise JaxsrError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                state = _read_zip(path, archive, max_elements)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
            raise JaxsrError(f"{path}: damaged zip file ({e})") from None
    else:
        with open(path, "rb") as f:
            state = _read_legacy(path, f, max_elements)
    if not isinstance(state, dict):
        raise JaxsrError(f"{path}: holds a {type(state).__name__}, not a state dict")
    out = {}
    for name, value in state.items():
        if not isinstance(value, _Tensor):
            raise JaxsrError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor")
        try:
            out[str(name)] = value.numpy()
        except Exception as e:  # a tensor object the pickle built oddly (e.g. by NEWOBJ without arguments)
            raise JaxsrError(f"{path}: tensor {name!r}: {e}") from None
    return out


def _edsr_names(model) -> dict[str, str]:
    """EDSR-PyTorch module path → jaxsr params path (``/``-joined) for an EDSR or MDSR model."""
    from jaxsr.models import EDSR, MDSR

    def block(torch_prefix, jax_prefix):
        return {f"{torch_prefix}.body.0": f"{jax_prefix}/Conv_0", f"{torch_prefix}.body.2": f"{jax_prefix}/Conv_1"}

    def upsampler(torch_prefix, jax_prefix, scale):
        stages = 1 if scale in (2, 3) else scale.bit_length() - 1
        return {f"{torch_prefix}.{2 * k}": f"{jax_prefix}/Conv_{k}" for k in range(stages)}

    if not isinstance(model, (EDSR, MDSR)):
        raise JaxsrError(f"PyTorch checkpoints map onto EDSR and MDSR models only, not {type(model).__name__}")
    names = {"head.0": "head", f"body.{model.num_blocks}": "body_end"}
    if isinstance(model, EDSR):
        for i in range(model.num_blocks):
            names.update(block(f"body.{i}", f"block_{i}"))
        names.update(upsampler("tail.0", "upsampler", model.scale))
        names["tail.1"] = "tail"
    else:
        for i in range(model.num_blocks):
            names.update(block(f"body.{i}", f"body_{i}"))
        for i, s in enumerate(model.scales):
            for j in range(2):
                names.update(block(f"pre_process.{i}.{j}", f"pre_{s}/layers_{j}"))
            names.update(upsampler(f"upsample.{i}", f"up_{s}", s))
        names["tail.0"] = "tail"
    return names


def _check_mean_shift(state: dict, model, source: str) -> None:
    """``sub_mean``/``add_mean`` must be the identity 1×1 conv with bias ∓rgb_range·DIV2K mean, as jaxsr's."""
    from jaxsr.models.edsr import DIV2K_MEAN

    for name, sign in (("sub_mean", -1.0), ("add_mean", 1.0)):
        if f"{name}.weight" not in state:
            continue
        w = state[f"{name}.weight"].reshape(3, 3)
        b = state.get(f"{name}.bias", np.zeros(3)).ravel()
        want = sign * model.rgb_range * np.asarray(DIV2K_MEAN)
        if not (np.allclose(w, np.eye(3), atol=1e-6) and np.allclose(b, want, atol=1e-3)):
            raise JaxsrError(f"{source}: {name} is not the DIV2K mean shift at rgb_range {model.rgb_range:g} "
                             f"(bias {np.round(b, 3).tolist()}, jaxsr's {np.round(want, 3).tolist()})")


def _edsr_scale(state: dict) -> int | None:
    """The scale of an EDSR checkpoint's upsampler: two x2 stages → x4, else √(out / in channels)."""
    first = state.get("tail.0.0.weight")
    if first is None or np.ndim(first) != 4:
        return None
    if "tail.0.2.weight" in state:
        return 2 ** sum(f"tail.0.{2 * k}.weight" in state for k in range(8))
    ratio = first.shape[0] // max(first.shape[1], 1)
    return {4: 2, 9: 3}.get(ratio)


def torch_to_params(state: dict, model, source: str = "checkpoint") -> dict:
    """jaxsr params for ``model`` (EDSR or MDSR) from an EDSR-PyTorch state dict (name → numpy array).

    Every conv of the model must be present and every tensor of the checkpoint used (except the mean
    shift, checked to be jaxsr's); a ``module.`` prefix (``nn.DataParallel``) is dropped.
    """
    names = _edsr_names(model)  # refuses models other than EDSR and MDSR
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    _check_mean_shift(state, model, source)
    blocks = sum(f"body.{i}.body.0.weight" in state for i in range(len(state)))
    if blocks and blocks != model.num_blocks:
        raise JaxsrError(f"{source} has {blocks} residual blocks, this {type(model).__name__} "
                         f"{model.num_blocks} (edsr_baseline and mdsr_baseline have 16, edsr 32, mdsr 80)")
    trained = _edsr_scale(state)
    spec = models.contract(model)
    if trained and spec.scale_mode == "fixed" and trained not in spec.scales:
        raise JaxsrError(f"{source} holds an x{trained} model, not x{spec.scales[0]} (pass --scale {trained})")
    params: dict = {}
    used = {k for k in state if k.split(".")[0] in ("sub_mean", "add_mean")}
    for torch_name, jax_name in names.items():
        for suffix, leaf in (("weight", "kernel"), ("bias", "bias")):
            key = f"{torch_name}.{suffix}"
            if key not in state:
                raise JaxsrError(f"{source} does not fit {type(model).__name__}: no tensor {key!r}")
            value = np.asarray(state[key], np.float32)
            if leaf == "kernel":
                if value.ndim != 4:
                    raise JaxsrError(f"{source}: {key} has shape {value.shape}, expected a 4-D conv weight")
                value = value.transpose(2, 3, 1, 0)  # (out, in, kh, kw) → (kh, kw, in, out)
            node = params
            for part in jax_name.split("/"):
                node = node.setdefault(part, {})
            node[leaf] = value
            used.add(key)
    extra = sorted(set(state) - used)
    if extra:
        raise JaxsrError(f"{source} does not fit {type(model).__name__}: unexpected {extra[:3]}")
    return params


def load_torch_params(path, model) -> dict:
    """Params for ``model`` from an EDSR-PyTorch ``.pt`` file (unchecked shapes: see ``weights.check_params``).
    A file declaring more values than the model has parameters (plus its mean shifts) is refused unread."""
    import jax
    import jax.numpy as jnp

    x = jnp.zeros((1, 16, 16, models.contract(model).channels), jnp.float32)
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x))
    count = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(shapes))
    state = read_torch_state_dict(path, max_elements=count + 1024)  # + sub_mean/add_mean (24 values)
    try:
        return torch_to_params(state, model, source=str(path))
    except (ValueError, TypeError, IndexError) as e:  # tensors of odd shapes (e.g. a mean shift of 5 values)
        raise JaxsrError(f"{path}: not an EDSR-PyTorch state dict ({type(e).__name__}: {e})") from None
