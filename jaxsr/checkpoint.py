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

__all__ = ["Checkpointer", "read_run_config", "write_run_config", "restore_params", "run_model",
           "restore_for_eval"]


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


def run_model(workdir, scale: int | None = None, **overrides):
    """(model, params) of a run's latest checkpoint, the model built from the run's own config.

    ``scale`` (default: the first trained scale) matters for single-scale post-upsampling models (EDSR),
    which exist only at the scale they were trained for; ``overrides`` replace model constructor args.
    """
    from jaxsr.loading import build_model

    config = read_run_config(workdir)
    name, trained = config.model.name, int(config.data.scales[0])
    model = build_model(name, trained if scale is None else scale, **{**dict(config.model.kwargs), **overrides})
    if hasattr(model, "scale") and model.scale != trained:
        raise JaxsrError(f"{workdir}: the run trained {name} for x{trained}, not x{model.scale}")
    return model, restore_params(workdir, model)


def restore_for_eval(workdir, ensemble: bool = False):
    """(scale → Upscaler, label) for a run's latest checkpoint with the run's own model config."""
    from jaxsr import models
    from jaxsr.inference import Upscaler

    name = read_run_config(workdir).model.name
    per_scale = models.upsampling(name) == "post" and not models.multi_scale(name)
    cache = {}

    def factory(scale: int):
        key = scale if per_scale else None  # other models share one set of params for every scale
        if key not in cache:
            cache[key] = run_model(workdir, scale)
        return Upscaler(*cache[key], scale, ensemble)

    return factory, name.upper() + ("+" if ensemble else "")
