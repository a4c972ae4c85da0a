"""Orbax checkpoints of training runs, and loading a run's params for evaluation.

A checkpoint holds two items: ``params`` (all that evaluation needs) and ``train`` (step, optimizer
state, RNG). The input position is not stored: the patch stream is a pure function of (seed, step), so
(params, opt_state, rng, step) continue a run exactly. The run's resolved config is ``<workdir>/config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxsr.errors import JaxsrError

__all__ = ["Checkpointer", "read_run_config", "write_run_config", "restore_params", "restore_for_eval"]


class Checkpointer:
    """``CheckpointManager`` over ``<workdir>/checkpoints`` keeping ``keep`` checkpoints (async saves)."""

    def __init__(self, workdir, keep: int = 3):
        path = Path(workdir).absolute() / "checkpoints"
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
        self.manager = ocp.CheckpointManager(path, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, params, train) -> None:
        """Save (asynchronously) the params and the rest of the train state at ``step``."""
        self.manager.save(int(step), args=ocp.args.Composite(
            params=ocp.args.StandardSave(params), train=ocp.args.StandardSave(train)), force=True)

    def restore(self, params_like, train_like, step: int | None = None):
        """(params, train) of ``step`` (default latest), shaped and sharded like the given templates."""
        step = self.latest_step() if step is None else step
        out = self.manager.restore(step, args=ocp.args.Composite(
            params=ocp.args.StandardRestore(params_like), train=ocp.args.StandardRestore(train_like)))
        return out["params"], out["train"]

    def restore_params(self, params_like, step: int | None = None):
        step = self.latest_step() if step is None else step
        out = self.manager.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(params_like)))
        return out["params"]

    def close(self) -> None:
        """Wait for pending saves and release the manager (idempotent)."""
        if self.manager is not None:
            self.manager.wait_until_finished()
            self.manager.close()
            self.manager = None


def write_run_config(workdir, config: ml_collections.ConfigDict) -> None:
    from jaxsr.io import atomic_write_bytes

    Path(workdir).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(workdir) / "config.json", (config.to_json(indent=2) + "\n").encode())


def read_run_config(workdir) -> ml_collections.ConfigDict:
    """The resolved config a training run saved in ``<workdir>/config.json``."""
    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise JaxsrError(f"{workdir}: not a training run folder (no config.json)")
    return ml_collections.ConfigDict(json.loads(path.read_text()))


def restore_params(workdir, model, step: int | None = None):
    """The params of ``model`` from the latest (or ``step``) checkpoint of a run."""
    from jaxsr.weights import init_params

    ckpt = Checkpointer(workdir)
    try:
        if ckpt.latest_step() is None:
            raise JaxsrError(f"{workdir}: the run has no checkpoint yet")
        local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])  # whatever devices saved it
        like = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=local),
                                      jax.eval_shape(lambda: init_params(model)))
        return ckpt.restore_params(like, step)
    finally:
        ckpt.close()


def restore_for_eval(workdir, ensemble: bool = False):
    """(scale → Upscaler, label) for a run's latest checkpoint with the run's own model config."""
    from jaxsr.inference import Upscaler
    from jaxsr.loading import build_model, run_eval_scales

    config = read_run_config(workdir)
    kwargs = dict(config.model.kwargs)
    name = config.model.name
    cache = {}

    def factory(scale: int):
        model = build_model(name, scale, **kwargs)
        if model.upsampling == "post" and getattr(model, "scale", scale) not in run_eval_scales(config):
            raise JaxsrError(f"{workdir}: the run trained {name} for x{run_eval_scales(config)[0]}, not x{scale}")
        key = getattr(model, "scale", None)
        if key not in cache:
            cache[key] = restore_params(workdir, model)
        return Upscaler(model, cache[key], scale, ensemble)

    return factory, name.upper() + ("+" if ensemble else "")
