"""The tf.data input pipeline (host). TensorFlow is imported here only, lazily, with its GPUs hidden.

Batches are the ones :class:`jaxsr.data.sampling.DeviceSampler` draws on the device, bit for bit: both
evaluate :func:`jaxsr.data.sampling.sample_batch`, here as a vectorised ``map`` over batch indices,
prefetched and computed in parallel (deterministically). Each JAX process produces only its own rows of
every global batch (rows ``p·B/P … (p+1)·B/P − 1``), ready for ``jax.make_array_from_process_local_data``.
Resuming at step t starts the dataset at batch t: the stream is a pure function of (seed, element).
"""

from __future__ import annotations

import numpy as np

from jaxsr.data.sampling import PatchTable, batch_scale_index, dihedral_grids, sample_batch

__all__ = ["import_tf", "make_dataset", "TfOps"]


def import_tf():
    """Import TensorFlow for input processing only: no GPU memory, quiet logs (no start-up INFO/WARNING
    lines: C++ log level 2, and oneDNN's notice is avoided by not using oneDNN, which this pipeline's
    gathers and integer hashing do not need). Settings already in the environment are kept."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import tensorflow as tf
    except ImportError:
        from jaxsr.base.errors import JaxsrError

        raise JaxsrError("data.sampler='tfdata' needs TensorFlow: pip install 'jaxsr[tfdata]', "
                         "or use --config.data.sampler=device") from None
    tf.config.set_visible_devices([], "GPU")
    return tf


class TfOps:
    """The backend shim for :func:`sample_batch` on TensorFlow."""

    def __init__(self, tf):
        self.tf = tf
        self.xor, self.shr, self.floor = tf.bitwise.bitwise_xor, tf.bitwise.right_shift, tf.math.floor
        self.take = lambda a, idx: tf.gather(a, idx, axis=0)
        self.flat = lambda x: tf.reshape(x, [-1])
        self.u32 = lambda x: (tf.cast(x, tf.uint32) if tf.is_tensor(x)
                              else tf.constant(np.uint32(np.asarray(x, np.int64) & 0xFFFFFFFF)))
        self.i32 = lambda x: tf.cast(x, tf.int32)
        self.f32 = lambda x: tf.cast(x, tf.float32)
        self.arange = lambda n: tf.range(n, dtype=tf.int32)
        self.minimum = tf.minimum
        self.argsort = lambda x: tf.argsort(x, axis=-1, stable=True, direction="ASCENDING")


def make_dataset(table: PatchTable, seed: int, global_batch: int, start_step: int = 0,
                 process_index: int = 0, process_count: int = 1, scale_slot: tuple[int, int] | None = None):
    """An infinite ``tf.data.Dataset`` of this process's share of each global batch, from ``start_step``.

    ``scale_slot=(i, n)``: only the steps whose batch scale index (``batch_scale_index``, n scales) is i,
    for multi-scale models that train one scale per batch with one table per scale.

    Elements: {"input": (b, p, p, C), "target": (b, p·f, p·f, C) float32, "scale": (b,) int32},
    b = global_batch / process_count.
    """
    tf = import_tf()
    if global_batch % process_count:
        raise ValueError(f"global batch {global_batch} is not divisible by {process_count} processes")
    local = global_batch // process_count
    ops = TfOps(tf)
    arrays = {k: tf.constant(v) for k, v in table.arrays().items()}
    in_r, in_c = dihedral_grids(table.patch_size)
    tg_r, tg_c = dihedral_grids(table.target_size)
    grids = {k: tf.constant(v) for k, v in {"in_rows": in_r, "in_cols": in_c,
                                            "tg_rows": tg_r, "tg_cols": tg_c}.items()}
    seed, items = int(seed) & 0xFFFFFFFF, table.num_items

    def batch(step):
        first = tf.cast(step, tf.uint32) * np.uint32(global_batch) + np.uint32(process_index * local)
        return sample_batch(ops, arrays, grids, seed, first, local, items)

    options = tf.data.Options()
    options.deterministic = True
    steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
    if scale_slot is not None:
        slot, n = scale_slot
        steps = steps.filter(lambda t: batch_scale_index(ops, seed, tf.cast(t, tf.uint32), n) == slot)
    return (steps
            .map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE).with_options(options))
