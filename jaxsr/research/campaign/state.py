"""A campaign's resumable training state in one file that git can hold: ``state.msgpack``.

The file is msgpack (``flax.serialization``, no pickle): ``{"format", "meta", "params", "train"}`` where
``params`` and ``train`` (step, optimizer state, RNG key data) map each leaf's key path
(``jax.tree_util.keystr``) to a numpy array, and ``meta`` is a JSON text: the step, the data stream's
position (the patch stream is a pure function of (seed, element), ``jaxsr.data.sampling``: the next
element is ``step × batch_size``), the SHA-256 digests of params and train state
(``jaxsr.weights.checkpoint.digest``), the campaign's config digest and environment.

:class:`StateFile` has the interface of ``jaxsr.weights.checkpoint.Checkpointer`` that the training loop uses
(``steps/save/confirm/discard_unconfirmed/restore/wait/close``), so the one loop (``jaxsr.train.training``) keeps
campaigns too. A saved state becomes the file only once confirmed (the loss its params produce is known
finite); it is written through a temporary file, flushed to disk and renamed, so the file is always
either the previous good state or the new one. A file that cannot be read, does not fit the model and
optimizer, or whose data disagree with its digests raises ``JaxsrError`` naming it, never a fresh start.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np
from flax import serialization

from jaxsr.weights.checkpoint import digest
from jaxsr.base.errors import JaxsrError
from jaxsr.base.io import atomic_write_bytes
from jaxsr.base.parallel import local_copy

__all__ = ["FORMAT", "StateFile", "read_meta"]

FORMAT = "jaxsr-campaign-state/1"


def _by_path(tree) -> dict:
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _read(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise JaxsrError(f"{path}: cannot read the campaign state ({e.strerror})") from None
    try:
        data = serialization.msgpack_restore(raw)
        meta = json.loads(data["meta"])
        ok = data.get("format") == FORMAT and isinstance(meta, dict)
    except Exception as e:  # msgpack raises many kinds on truncated or flipped bytes
        raise JaxsrError(f"{path}: damaged campaign state (unreadable: {type(e).__name__}); restore it from "
                         "git (git checkout -- the file) or from a copy") from None
    if not ok:
        raise JaxsrError(f"{path}: not a jaxsr campaign state ({FORMAT})")
    return {**data, "meta": meta}


def read_meta(path) -> dict | None:
    """The ``meta`` of a state file (None if there is none yet); JaxsrError if it is damaged."""
    path = Path(path)
    return _read(path)["meta"] if path.exists() else None


class StateFile:
    """The loop's checkpoint store for one campaign state file. ``meta`` (JSON-able) is written into every
    state; restoring checks its ``config_sha256`` against the file's. ``batch_size`` gives the data
    stream's position."""

    def __init__(self, path, meta: dict, batch_size: int, steps_per_epoch: int | None = None):
        self.path, self.meta, self.batch_size = Path(path), dict(meta), int(batch_size)
        self.steps_per_epoch = steps_per_epoch
        self._pending: dict[int, dict] = {}

    def steps(self) -> list[int]:
        meta = read_meta(self.path)
        return [] if meta is None else [int(meta["step"])]

    def save(self, step: int, params, train) -> None:
        """Keep a host copy of the state at ``step`` (the step donates its buffers); written on confirm."""
        params, train = local_copy(params), local_copy(train)
        (p, p_ok), (t, t_ok) = digest(params), digest(train)
        self._pending[int(step)] = {"params": params, "train": train, "finite": p_ok and t_ok,
                                    "digests": {"params": p, "train": t}}

    def wait(self) -> None:
        pass

    def confirm(self, step: int) -> bool:
        """Write the state saved at ``step`` (its loss was finite) as the file; False if it is not finite."""
        info = self._pending.pop(int(step))
        if not info["finite"]:
            return False
        if jax.process_index() == 0:
            meta = {**self.meta, "step": int(step),
                    "epoch": step / self.steps_per_epoch if self.steps_per_epoch else None,
                    "stream": {"next_element": int(step) * self.batch_size, "batch_size": self.batch_size},
                    "digests": info["digests"],
                    "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            data = {"format": FORMAT, "meta": json.dumps(meta, sort_keys=True),
                    "params": _by_path(info["params"]), "train": _by_path(info["train"])}
            try:
                atomic_write_bytes(self.path, serialization.msgpack_serialize(data), durable=True)
            except OSError as e:
                raise JaxsrError(f"cannot write the campaign state {self.path}: {e.strerror}") from None
        return True

    def discard_unconfirmed(self) -> None:
        self._pending.clear()

    def restore(self, params_like, train_like=None, delete_bad: bool = False):
        """``(step, params, train)`` from the file, placed like the templates; None if there is no file.
        JaxsrError naming the file if it is damaged, does not fit, or belongs to another config."""
        if not self.path.exists():
            return None
        data = _read(self.path)
        meta, where = data["meta"], str(self.path)
        if meta.get("config_sha256") != self.meta.get("config_sha256"):
            raise JaxsrError(f"{where}: the state was trained with another config than this campaign's "
                             "campaign.json")
        trees = []
        for key, like in (("params", params_like), ("train", train_like)):
            if like is None:
                trees.append(None)
                continue
            stored = data.get(key)
            leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
            if not isinstance(stored, dict) or set(stored) != {jax.tree_util.keystr(p) for p, _ in leaves}:
                raise JaxsrError(f"{where}: the state's {key} do not fit this campaign's model and optimizer")
            host = []
            for p, leaf in leaves:
                a = stored[jax.tree_util.keystr(p)]
                if not isinstance(a, np.ndarray) or a.shape != leaf.shape or a.dtype != leaf.dtype:
                    raise JaxsrError(f"{where}: {key}{jax.tree_util.keystr(p)} does not fit this campaign "
                                     f"(stored {getattr(a, 'shape', '?')} {getattr(a, 'dtype', '?')}, "
                                     f"expected {leaf.shape} {leaf.dtype})")
                host.append(a)
            tree = jax.tree_util.tree_unflatten(treedef, host)
            if digest(tree)[0] != meta.get("digests", {}).get(key):
                raise JaxsrError(f"{where}: damaged campaign state ({key} do not match the digest written "
                                 "when it was saved); restore it from git or from a copy")
            trees.append(jax.tree_util.tree_map(lambda a, l: jax.device_put(a, l.sharding), tree, like))
        return int(meta["step"]), trees[0], trees[1]

    def close(self) -> None:
        self._pending.clear()
