"""Verified orbax checkpoints of training runs, and restoring a run's params (``jaxsr.weights.loading`` builds the
run's model around them).

A checkpoint holds two items: ``params`` (all that evaluation needs) and ``train`` (step, optimizer
state, RNG). The input position is not stored: the patch stream is a pure function of (seed, step), so
(params, opt_state, rng, step) continue a run exactly. The run's resolved config is ``<workdir>/config.json``.

A checkpoint counts only once it is **verified**: the training loop calls :meth:`Checkpointer.confirm`
after orbax finished writing it *and* the loss its params produce was found finite; that writes
``<step>/jaxsr_digest.json`` (SHA-256 of the params and of the train state). Every restore (resume,
``evaluate.py --workdir``, ``jaxsr.load(run_dir)``) goes newest first through :meth:`Checkpointer.restore`,
which skips a checkpoint without a digest, one orbax cannot read, or one whose data no longer matches its
digest (a truncated file, flipped bytes) with one ``note:`` line naming it.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jaxsr.base.errors import JaxsrError
from jaxsr.base.parallel import local_copy
from jaxsr.weights.params import init_params

__all__ = ["Checkpointer", "digest", "verified_steps", "run_folder_lock", "read_run_config",
           "write_run_config", "restore_params"]

DIGEST = "jaxsr_digest.json"


def error_line(e: BaseException) -> str:
    """The first line of an error's text (an OS error's strerror; tensorstore's wording of one), at most 200
    characters."""
    text = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)).strip()
    code = re.search(r"\[os_error_code='(\d+)'\]", text)  # tensorstore's wording of an OS error (a full disk)
    if code:
        return os.strerror(int(code.group(1)))
    text = text.split(" See full TensorStore details")[0]
    return text.splitlines()[0][:200] if text else type(e).__name__


def digest(tree) -> tuple[str, bool]:
    """(SHA-256 over every leaf's dtype, shape and bytes, whether every float leaf is finite)."""
    h, finite = hashlib.sha256(), True
    for leaf in jax.tree_util.tree_leaves(local_copy(tree)):
        a = np.ascontiguousarray(leaf)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
        finite = finite and (a.dtype.kind != "f" or bool(np.isfinite(a).all()))
    return h.hexdigest(), finite


class _OrbaxErrors(logging.Filter):
    """orbax logs a failed background save (a full disk) with a traceback from each of its threads, then
    raises it from ``wait_until_finished``, which :class:`Checkpointer` turns into one ``error:`` line: the
    logs are dropped."""

    def filter(self, record) -> bool:
        if record.levelno < logging.ERROR:
            return True
        if f"{os.sep}orbax{os.sep}" in str(record.pathname):
            return False
        # asyncio, when it collects an orbax write task that failed: "Task exception was never retrieved"
        return not (record.name == "asyncio" and f"{os.sep}orbax{os.sep}" in record.getMessage())


def _quiet_orbax() -> None:
    for logger in (logging.getLogger("absl"), logging.getLogger("asyncio")):
        if not any(isinstance(f, _OrbaxErrors) for f in logger.filters):
            logger.addFilter(_OrbaxErrors())
    if not getattr(sys.unraisablehook, "_jaxsr", False):  # tensorstore calling back into orbax's closed loop
        previous = sys.unraisablehook

        def hook(unraisable):
            e = unraisable.exc_value
            if not (isinstance(e, RuntimeError) and str(e) == "Event loop is closed"):
                previous(unraisable)

        hook._jaxsr = True
        sys.unraisablehook = hook


class Checkpointer:
    """``CheckpointManager`` over ``<workdir>/checkpoints`` (async saves) that keeps ``keep`` verified
    checkpoints. ``create=False`` opens a run read-only (evaluation)."""

    def __init__(self, workdir, keep: int = 3, create: bool = True):
        self.path = Path(workdir).absolute() / "checkpoints"
        self.keep = keep
        self._unconfirmed: dict[int, dict] = {}
        self.manager = None
        if not create and not self.path.is_dir():
            return
        _quiet_orbax()
        options = ocp.CheckpointManagerOptions(max_to_keep=None, create=create)
        self.manager = ocp.CheckpointManager(self.path, options=options)

    def steps(self) -> list[int]:
        """Every checkpoint step on disk (verified or not), ascending."""
        return sorted(self.manager.all_steps()) if self.manager is not None else []

    def save(self, step: int, params, train) -> None:
        """Start saving (asynchronously) the params and the rest of the train state at ``step``; it is
        not a good checkpoint until :meth:`confirm`."""
        (p, p_ok), (t, _) = digest(params), digest(train)
        self._unconfirmed[int(step)] = {"params": p, "train": t, "finite": p_ok}
        try:
            self.manager.save(int(step), args=ocp.args.Composite(
                params=ocp.args.StandardSave(params), train=ocp.args.StandardSave(train)), force=True)
        except Exception as e:
            raise JaxsrError(f"cannot save checkpoint {step} in {self.path}: {error_line(e)}") from None

    def wait(self) -> None:
        """Wait for pending saves; JaxsrError (e.g. disk full) if one failed."""
        try:
            self.manager.wait_until_finished()
        except Exception as e:
            steps = ", ".join(map(str, self._unconfirmed)) or "?"
            raise JaxsrError(f"cannot save checkpoint {steps} in {self.path}: {error_line(e)}") from None

    def confirm(self, step: int) -> bool:
        """Mark ``step`` good (its loss was finite): wait for its files, write its digest, drop older
        unverified checkpoints and verified ones beyond ``keep``. False if its params are not finite."""
        self.wait()
        info = self._unconfirmed.pop(int(step))
        if not info["finite"]:
            return False
        if jax.process_index() == 0:
            from jaxsr.base.io import atomic_write_bytes

            atomic_write_bytes(self.path / str(step) / DIGEST,
                               json.dumps({"params": info["params"], "train": info["train"]}).encode())
        verified = [s for s in self.steps() if (self.path / str(s) / DIGEST).is_file() or s == step]
        stale = [s for s in self.steps() if s < step and s not in verified] + verified[:-self.keep]
        for s in stale:
            self.manager.delete(s)
        return True

    def discard_unconfirmed(self) -> None:
        """Delete every checkpoint saved but not confirmed (after a non-finite loss)."""
        self.wait()
        for s in list(self._unconfirmed):
            if s in self.steps():
                self.manager.delete(s)
        self._unconfirmed.clear()

    def restore(self, params_like, train_like=None, delete_bad: bool = False):
        """``(step, params, train)`` of the newest intact verified checkpoint, shaped and sharded like the
        templates (``train`` is None without ``train_like``); None if the run has no checkpoint.

        Skipped checkpoints get one ``note:`` line each (and are deleted with ``delete_bad``, so training
        writes them again); JaxsrError if there are checkpoints but none is intact.
        """
        skipped = []
        for step in reversed(self.steps()):
            reason, out = self._try_restore(step, params_like, train_like)
            if reason is None:
                for s in skipped if delete_bad else ():
                    self.manager.delete(s)
                return step, out["params"], out.get("train")
            skipped.append(step)
            if jax.process_index() == 0:
                print(f"note: skipped checkpoint {self.path / str(step)}: {reason}", file=sys.stderr, flush=True)
        if skipped:
            raise JaxsrError(f"{self.path}: no intact checkpoint (steps {', '.join(map(str, skipped[::-1]))} "
                             "are damaged or unverified)")
        return None

    def _try_restore(self, step, params_like, train_like):
        try:
            expected = json.loads((self.path / str(step) / DIGEST).read_text())
        except (OSError, ValueError):
            return "not verified (no digest: the run stopped before it was known to be good)", None
        items = {"params": params_like} if train_like is None else {"params": params_like, "train": train_like}
        hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
        try:  # a failed read leaves orbax coroutines that complain when collected: silence them here
            out = self.manager.restore(step, args=ocp.args.Composite(
                **{k: ocp.args.StandardRestore(v) for k, v in items.items()}))
        except Exception as e:  # orbax/tensorstore raise many kinds for missing or truncated files
            out, failure = None, f"damaged (unreadable: {error_line(e)})"
        finally:
            gc.collect()
            sys.unraisablehook = hook
        if out is None:
            return failure, None
        for key in items:
            if digest(out[key])[0] != expected.get(key):
                return f"damaged ({key} do not match the digest written when it was saved)", None
        return None, out

    def close(self) -> None:
        """Wait for pending saves and release the manager (idempotent); a failed save is the JaxsrError of
        :meth:`wait`, not the traceback orbax raises again while closing."""
        if self.manager is not None:
            try:
                self.wait()
            finally:
                manager, self.manager = self.manager, None
                try:
                    manager.close()
                except Exception:  # noqa: BLE001 — the failed save, reported by wait() (now or before)
                    pass


def verified_steps(workdir) -> list[int]:
    """The steps of ``<workdir>/checkpoints`` whose digest is written (the good checkpoints), ascending; reads
    the folder only (no orbax)."""
    folder = Path(workdir) / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / DIGEST).is_file())


@contextlib.contextmanager
def run_folder_lock(workdir, flag: str = "--workdir"):
    """Own a run folder (created if missing) while training in it: ``jaxsr.base.io.folder_lock`` (one process at a
    time; a second gets one ``error:`` line naming the holder; a killed holder's lock is released by the
    kernel). Taken by process 0 only (the processes of one multi-host run share the folder); URLs
    (``gs://``) are not locked."""
    from jaxsr.base.io import folder_lock

    path = Path(workdir)
    if "://" in str(workdir) or jax.process_index() != 0:
        yield
        return
    if path.exists() and not path.is_dir():
        raise JaxsrError(f"{flag} {workdir}: not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise JaxsrError(f"{flag} {workdir}: cannot write there ({error_line(e)})") from None
    with folder_lock(path, flag):
        yield


def write_run_config(workdir, config: ml_collections.ConfigDict) -> None:
    from jaxsr.base.io import atomic_write_bytes

    Path(workdir).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(workdir) / "config.json", (config.to_json(indent=2) + "\n").encode())


def read_run_config(workdir) -> ml_collections.ConfigDict:
    """The resolved config a training run saved in ``<workdir>/config.json``."""
    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise JaxsrError(f"{workdir}: not a training run folder (no config.json)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise JaxsrError(f"{path}: not a readable JSON config ({error_line(e)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict) or "name" not in data["model"]:
        raise JaxsrError(f"{path}: not a jaxsr run config (no model.name)")
    return ml_collections.ConfigDict(data)


def restore_params(workdir, model):
    """The params of ``model`` from the newest intact checkpoint of a run (``jaxsr.weights.loading.run_model`` builds
    the run's own model and calls this)."""
    ckpt = Checkpointer(workdir, create=False)
    try:
        local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])  # whatever devices saved it
        like = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=local),
                                      jax.eval_shape(lambda: init_params(model)))
        restored = ckpt.restore(like)
        if restored is None:
            raise JaxsrError(f"{workdir}: the run has no checkpoint yet")
        return restored[1]
    finally:
        ckpt.close()
