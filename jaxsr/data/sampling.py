"""Training patches: a prepared table of HR/LR/ILR images and one stateless sampling rule.

Preparation (host, numpy, once): every HR image is converted to the model's channels (Y or RGB),
mod-cropped per scale, degraded with MATLAB-exact ``imresize(HR, 1/s)`` and, for pre-upsampling models,
re-upsampled to the ILR. All arrays go into flat float32 pixel buffers with per-item offsets (an item is
one (image, scale) pair), so images of any size share one buffer without padding.

Sampling: element ``e`` of the infinite patch stream is a pure function of ``(seed, e)``:
* items are visited in a fresh random order every pass (an "item epoch" visits each (image, scale) once);
* the crop's top-left corner is uniform over the valid positions, the dihedral transform (8 rotations and
  flips) uniform over the 8;
* randomness comes from a counter-based 32-bit hash (Wellons' lowbias32), written once over a tiny
  backend shim, so the tf.data pipeline and the device-resident sampler draw **bit-identical** batches,
  and resuming at step t needs nothing but t.
The dihedral transform is applied by permuting the patch's index grid before the gather, so a batch is a
single gather from the pixel buffers.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from jaxsr.base.errors import JaxsrError
from jaxsr.base.io import atomic_write_bytes
from jaxsr.ops.color import to_y
from jaxsr.ops.crop import modcrop
from jaxsr.ops.resize import imresize

__all__ = ["PatchTable", "build_patch_table", "sample_batch", "JnpOps", "NpOps", "DeviceSampler",
           "dihedral_grids", "batch_scale_index", "scale_for_step"]

_M1, _M2 = 0x7FEB352D, 0x846CA68B  # lowbias32 multipliers
_PERM_STREAM = 0x9E3779B9
_SCALE_STREAM = 0x85EBCA6B


@dataclass(frozen=True)
class PatchTable:
    """Flat pixel buffers and per-item metadata (numpy); see the module docstring.

    inputs: (n_in_pixels, C) float32, the model inputs (ILR or LR) of every item, row-major per item.
    targets: (n_hr_pixels, C) float32, the full HR image of every source image, row-major.
    in_offset, in_width, tg_offset, tg_width, max_y, max_x, factor, scale: (items,) int32, where max_y/max_x
      are the largest valid top-left corner of an input patch and ``factor`` is target/input pixel ratio.
    patch_size: input patch side (ILR side = HR side for pre-upsampling; LR side for post-upsampling).
    """

    inputs: np.ndarray
    targets: np.ndarray
    in_offset: np.ndarray
    in_width: np.ndarray
    tg_offset: np.ndarray
    tg_width: np.ndarray
    max_y: np.ndarray
    max_x: np.ndarray
    factor: np.ndarray
    scale: np.ndarray
    patch_size: int

    @property
    def num_items(self) -> int:
        return len(self.scale)

    @property
    def target_size(self) -> int:
        return self.patch_size * int(self.factor[0])

    @property
    def channels(self) -> int:
        return self.inputs.shape[1]

    def arrays(self) -> dict:
        """The arrays by name (what the samplers need)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "patch_size"}

    def save(self, path) -> None:
        """Write the table as an uncompressed .npz, atomically."""
        import io

        buf = io.BytesIO()
        np.savez(buf, patch_size=self.patch_size, **self.arrays())
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "PatchTable":
        with np.load(path) as z:
            return cls(**{k: z[k] for k in z.files if k != "patch_size"}, patch_size=int(z["patch_size"]))


def _as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:
        return to_y(image)[..., None]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    return image


def build_patch_table(images: Sequence[np.ndarray], scales: Sequence[int], patch_size: int, channels: int,
                      upsampling: str, names: Sequence[str] | None = None, lrs: dict | None = None,
                      cache_dir=None, on_small=None) -> PatchTable:
    """Prepare training data once: HR (H, W) or (H, W, 3) float images in [0, 1] → a PatchTable.

    Args:
      scales: integer scales mixed in training; each (image, scale) pair is one item.
      patch_size: input patch side (see PatchTable).
      channels: 1 (Y) or 3 (RGB).
      upsampling: "pre" (inputs are the bicubic ILR, same grid as HR) or "post" (inputs are LR).
      lrs: optional ``{scale: [LR image per HR image]}`` to use instead of ``imresize(HR, 1/s)`` (e.g.
        DIV2K's official bicubic LR); each must be the mod-cropped HR's size divided by the scale.
      cache_dir: if given, the table is stored there under a content hash and re-used.
      on_small: ``callable(message)``: (image, scale) items smaller than a patch are left out and reported
        to it; None (default) makes them an error.
    Raises:
      JaxsrError: an image is smaller than one patch (with ``on_small=None``), or every one is (names
        ``data.patch_size``).
    """
    names = list(names) if names is not None else [f"image {i}" for i in range(len(images))]
    cache_file = None
    if cache_dir is not None:
        key = hashlib.sha1(repr((sorted(scales), patch_size, channels, upsampling)).encode())
        for im in list(images) + [lr for s in sorted(lrs or {}) for lr in lrs[s]]:
            key.update(np.ascontiguousarray(im).tobytes())
            key.update(repr(im.shape).encode())
        cache_file = Path(cache_dir) / f"patches-{key.hexdigest()[:16]}.npz"
        if cache_file.is_file():
            cached = _load_cached(cache_file, patch_size, channels)
            if cached is not None:
                if jax.process_index() == 0:
                    print(f"note: training patches from the cache {cache_file} "
                          f"({cache_file.stat().st_size / 1e6:.1f} MB)", file=sys.stderr, flush=True)
                return cached
    start = time.perf_counter()
    inputs, targets, meta = [], [], []
    n_in = n_tg = 0
    tty = sys.stderr.isatty()  # a live bar on a terminal, a status line every 10 s in a log file
    bar = tqdm(total=len(names), desc="preparing training patches", unit="img", file=sys.stderr, leave=False,
               mininterval=0.5 if tty else 10, disable=jax.process_index() != 0)
    for i, (name, image) in enumerate(zip(names, images)):
        bar.update(1)
        hr_full = _as_channels(np.asarray(image, np.float64), channels)
        h_full, w_full = hr_full.shape[:2]
        for s in scales:
            hr = modcrop(hr_full, s)
            if lrs is None:
                lr = imresize(hr, 1 / s)
            else:
                lr = _as_channels(np.asarray(lrs[s][i], np.float64), channels)
                if lr.shape[:2] != (hr.shape[0] // s, hr.shape[1] // s):
                    raise JaxsrError(f"{name}: LR at x{s} is {lr.shape[:2]}, expected HR {hr.shape[:2]} / {s}")
            x = imresize(lr, s) if upsampling == "pre" else lr
            factor = 1 if upsampling == "pre" else s
            max_y, max_x = x.shape[0] - patch_size, x.shape[1] - patch_size
            if max_y < 0 or max_x < 0:
                message = (f"data.patch_size={patch_size} is larger than {name} at x{s} "
                           f"(model input {x.shape[0]}x{x.shape[1]})")
                if on_small is None:
                    raise JaxsrError(message)
                on_small(message)
                continue
            meta.append((n_in, x.shape[1], n_tg, w_full, max_y, max_x, factor, s))
            inputs.append(x.reshape(-1, channels).astype(np.float32))
            n_in += x.shape[0] * x.shape[1]
        targets.append(hr_full.reshape(-1, channels).astype(np.float32))
        n_tg += h_full * w_full
    bar.close()
    if not meta:
        raise JaxsrError(f"data.patch_size={patch_size} is larger than every training image")
    cols = np.asarray(meta, np.int64).T
    if n_in >= 2**31 or n_tg >= 2**31:
        raise JaxsrError(f"training data too large for int32 indexing ({n_in} input pixels)")
    table = PatchTable(np.concatenate(inputs), np.concatenate(targets),
                       *(c.astype(np.int32) for c in cols), patch_size=patch_size)
    prepared = (f"prepared the training patches of {len(names)} images at x{','.join(map(str, scales))} in "
                f"{time.perf_counter() - start:.1f} s")
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            table.save(cache_file)
        except OSError as e:  # a full disk, a cache folder that is a file
            raise JaxsrError(f"cannot cache the training patches in {cache_file.parent} (data.cache_dir): "
                             f"{e.strerror or e}") from None
        prepared += f", cached in {cache_file} ({cache_file.stat().st_size / 1e6:.1f} MB)"
    if jax.process_index() == 0:
        print(f"note: {prepared}", file=sys.stderr, flush=True)
    return table


def _load_cached(path: Path, patch_size: int, channels: int) -> PatchTable | None:
    """The table cached in ``path``, or None (with a ``note:``, after removing the file) when it cannot be
    read whole (a truncated or damaged file: the zip's CRCs, missing arrays, inconsistent offsets): rebuilt."""
    try:
        table = PatchTable.load(path)
        n = table.num_items
        sizes = [len(getattr(table, f)) for f in ("in_offset", "in_width", "tg_offset", "tg_width", "max_y",
                                                  "max_x", "factor")]
        last_in = int(table.in_offset[-1]) if n else -1
        ok = (n > 0 and sizes == [n] * len(sizes) and table.patch_size == patch_size
              and table.inputs.ndim == table.targets.ndim == 2 and table.channels == channels
              and table.inputs.dtype == table.targets.dtype == np.float32 and last_in < len(table.inputs))
        if not ok:
            raise ValueError("its arrays do not make a patch table")
        return table
    except Exception as e:  # zipfile.BadZipFile, EOFError, KeyError, ValueError, OSError, ...
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}" if str(e) else type(e).__name__
    if jax.process_index() == 0:
        print(f"note: the cached training patches {path} are damaged ({reason}); rebuilding them",
              file=sys.stderr, flush=True)
        try:
            path.unlink()
        except OSError:
            pass
    return None


def dihedral_grids(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) int32 arrays of shape (8, size, size): transform k of a patch P is
    ``P[rows[k], cols[k]]``, the same transform as ``jaxsr.eval.inference.dihedral(·, k)``."""
    r, c = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    def tf(a, k):
        a = np.rot90(a, k % 4)
        return a[:, ::-1] if k >= 4 else a
    return (np.stack([tf(r, k) for k in range(8)]).astype(np.int32),
            np.stack([tf(c, k) for k in range(8)]).astype(np.int32))


class JnpOps:
    """The backend shim for :func:`sample_batch` on jax.numpy (works under jit)."""

    xor, shr, floor = staticmethod(jnp.bitwise_xor), staticmethod(jnp.right_shift), staticmethod(jnp.floor)
    take = staticmethod(lambda a, idx: jnp.take(a, idx, axis=0))
    flat = staticmethod(lambda x: jnp.reshape(x, (-1,)))
    u32 = staticmethod(lambda x: jnp.uint32(x & 0xFFFFFFFF) if isinstance(x, int)
                       else jnp.asarray(x).astype(jnp.uint32))
    i32 = staticmethod(lambda x: jnp.asarray(x).astype(jnp.int32))
    f32 = staticmethod(lambda x: jnp.asarray(x).astype(jnp.float32))
    arange = staticmethod(lambda n: jnp.arange(n, dtype=jnp.int32))
    minimum = staticmethod(jnp.minimum)
    argsort = staticmethod(lambda x: jnp.argsort(x, axis=-1, stable=True).astype(jnp.int32))  # int32 keys


class NpOps:
    """The backend shim on numpy (host), for per-step decisions such as :func:`scale_for_step`."""

    xor, shr, floor, minimum = np.bitwise_xor, np.right_shift, np.floor, np.minimum
    u32 = staticmethod(lambda x: np.atleast_1d(np.asarray(x, np.int64) & 0xFFFFFFFF).astype(np.uint32))
    i32 = staticmethod(lambda x: np.asarray(x).astype(np.int32))
    f32 = staticmethod(lambda x: np.asarray(x).astype(np.float32))


def batch_scale_index(ops, seed: int, step, num_scales: int):
    """Which of ``num_scales`` scales training step ``step`` draws its whole batch from (multi-scale
    post-upsampling models, e.g. MDSR): uniform, a pure function of (seed, step)."""
    return _uniform_int(ops, _hash(ops, (int(seed) & 0xFFFFFFFF) ^ _SCALE_STREAM, step, 3),
                        ops.i32(np.int32(num_scales)))


def scale_for_step(seed: int, step: int, scales) -> int:
    """The scale of training step ``step`` (host-side :func:`batch_scale_index`)."""
    return int(scales[int(batch_scale_index(NpOps, seed, step, len(scales))[0])])


def _lowbias32(ops, x):
    x = ops.xor(x, ops.shr(x, ops.u32(16)))
    x = x * ops.u32(_M1)
    x = ops.xor(x, ops.shr(x, ops.u32(15)))
    x = x * ops.u32(_M2)
    return ops.xor(x, ops.shr(x, ops.u32(16)))


def _hash(ops, seed, a, b):
    """uint32 hash of (seed, a, b); a and b broadcast."""
    return _lowbias32(ops, _lowbias32(ops, _lowbias32(ops, ops.u32(seed)) + ops.u32(a)) + ops.u32(b))


def _uniform_int(ops, h, n):
    """floor(U · n) with U ∈ [0, 1) from the top 24 bits of h; n int32 array (≥ 1)."""
    u = ops.f32(ops.shr(h, ops.u32(8))) * np.float32(2.0**-24)
    return ops.minimum(ops.i32(ops.floor(u * ops.f32(n))), ops.i32(n) - 1)


def sample_batch(ops, t: dict, grids: dict, seed: int, first, count: int, num_items: int) -> dict:
    """Patches for stream elements ``first … first + count − 1`` (see the module docstring).

    Args:
      ops: backend shim (:class:`JnpOps` or the tf.data one).
      t: the table's arrays as backend tensors (``PatchTable.arrays()``).
      grids: {"in_rows", "in_cols", "tg_rows", "tg_cols"}: :func:`dihedral_grids` of input/target size.
      first: uint32-able scalar; ``count``, ``num_items``: Python ints.
    Returns:
      {"input": (count, p, p, C), "target": (count, p·f, p·f, C) float32, "scale": (count,) int32}.
    """
    e = ops.u32(first) + ops.u32(ops.arange(count))
    epoch, pos = e // ops.u32(num_items), e % ops.u32(num_items)
    epochs_spanned = count // num_items + 2  # a batch touches at most this many item epochs
    first_epoch = ops.u32(first) // ops.u32(num_items)
    ep = first_epoch + ops.u32(ops.arange(epochs_spanned))
    keys = _hash(ops, seed ^ _PERM_STREAM, ep[:, None], ops.arange(num_items)[None, :])
    orders = ops.argsort(ops.i32(ops.shr(keys, ops.u32(1))))  # (epochs_spanned, items), stable on ties
    rows = ops.i32(epoch - first_epoch) * num_items + ops.i32(pos)
    item = ops.take(ops.flat(orders), rows)
    take = lambda name: ops.take(t[name], item)  # noqa: E731
    y = _uniform_int(ops, _hash(ops, seed, e, 0), take("max_y") + 1)
    x = _uniform_int(ops, _hash(ops, seed, e, 1), take("max_x") + 1)
    k = _uniform_int(ops, _hash(ops, seed, e, 2), ops.i32(np.full((count,), 8, np.int32)))
    f = take("factor")

    def gather(buffer, offset, width, y0, x0, r_grid, c_grid):
        r, c = ops.take(r_grid, k), ops.take(c_grid, k)  # (count, P, P)
        idx = offset[:, None, None] + (y0[:, None, None] + r) * width[:, None, None] + x0[:, None, None] + c
        return ops.take(buffer, idx)

    inp = gather(t["inputs"], take("in_offset"), take("in_width"), y, x, grids["in_rows"], grids["in_cols"])
    tgt = gather(t["targets"], take("tg_offset"), take("tg_width"), y * f, x * f,
                 grids["tg_rows"], grids["tg_cols"])
    return {"input": inp, "target": tgt, "scale": take("scale")}


class DeviceSampler:
    """Device-resident sampling: the table lives in accelerator memory and batches are drawn inside jit.

    ``sample(step)`` returns the same batch as the tf.data pipeline for that step (bit-identical).
    Args:
      table: the prepared PatchTable; seed: data seed; batch_size: global batch; place: puts a pytree of
      numpy arrays on the devices (default: the default device; ``parallel.replicate`` for a mesh).
    """

    def __init__(self, table: PatchTable, seed: int, batch_size: int, place=None):
        place = place or (lambda tree: jax.tree_util.tree_map(jnp.asarray, tree))
        self.arrays = place(table.arrays())
        in_r, in_c = dihedral_grids(table.patch_size)
        tg_r, tg_c = dihedral_grids(table.target_size)
        self.grids = place({"in_rows": in_r, "in_cols": in_c, "tg_rows": tg_r, "tg_cols": tg_c})
        self.seed, self.batch_size, self.num_items = int(seed) & 0xFFFFFFFF, int(batch_size), table.num_items

    def sample(self, step, arrays=None, grids=None) -> dict:
        """Batch for training step ``step`` (a traced int32 is fine): elements step·B … step·B + B − 1."""
        first = jnp.asarray(step).astype(jnp.uint32) * jnp.uint32(self.batch_size)
        return sample_batch(JnpOps, arrays or self.arrays, grids or self.grids, self.seed, first,
                            self.batch_size, self.num_items)
