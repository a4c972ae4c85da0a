"""A training config resolved, once, into what a run needs: :class:`RunSpec`.

:func:`resolve` builds the models (trained in the compute dtype, scored in float32), reads the training
images and prepares their patch tables, fills in the steps (the paper's epoch, the total, the learning-rate
decay period) and gathers the validation sets and settings. The modules below take these values, not the
config: ``feeding.make_runner`` a :class:`~jaxsr.train.feeding.Feed`, the loop its :class:`Steps`, the validation
a :class:`Validation`. The pieces serve the other runs on the same machinery too (the experiments'
sweeps, the config check's shape-only build): :func:`build_model` (the one place a compute dtype becomes
the model's), :func:`resolve_optim`, :func:`eval_scales`.
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxsr import models
from jaxsr.data.epochs import steps_per_epoch
from jaxsr.data.sources import eval_datasets, training_images
from jaxsr.train.feeding import Feed, training_tables
from jaxsr.eval.metrics import check_metrics
from jaxsr.train.optim import clip_theta

__all__ = ["RunSpec", "Steps", "Validation", "resolve", "build_model", "resolve_steps", "resolve_optim",
           "eval_scales", "feed"]


@dataclass(frozen=True)
class Steps:
    """When the loop does what: ``total`` steps of ``per_epoch`` per epoch; a log line every ``log_every``,
    a checkpoint every ``checkpoint_every``, a validation every ``eval_every`` (0: none) and after each
    step in ``eval_at`` (``eval.epochs``)."""

    total: int
    per_epoch: int
    log_every: int
    checkpoint_every: int
    eval_every: int
    eval_at: frozenset


@dataclass(frozen=True)
class Validation:
    """What validation scores: ``model`` (float32) on ``datasets`` during training and ``final_datasets``
    at the end, at ``scales``, under ``protocol``, with ``metrics``."""

    model: nn.Module
    datasets: dict
    final_datasets: dict
    scales: tuple
    protocol: str
    metrics: tuple


@dataclass(frozen=True)
class RunSpec:
    """What a training run needs, resolved from its config once (:func:`resolve`)."""

    config: ml_collections.ConfigDict  # resolved (steps and decay period filled in): the run's config.json
    model: nn.Module  # trained, in the compute dtype
    tables: dict  # {scale: PatchTable} (one scale per batch) or {None: PatchTable} (scales mixed)
    feed: Feed
    steps: Steps
    validation: Validation


def build_model(name: str, scale: int, kwargs: dict, compute_dtype: str = "float32") -> nn.Module:
    """The registered model ``name`` for ``scale`` with ``kwargs``, computing in ``compute_dtype``
    (activations and matmuls; its params stay float32). JaxsrError for unknown names or arguments."""
    dtype = {} if compute_dtype == "float32" else {"dtype": jnp.dtype(compute_dtype)}
    return models.build(name, scale, **kwargs, **dtype)


def resolve_optim(optim: ml_collections.ConfigDict, per_epoch: int) -> ml_collections.ConfigDict:
    """A copy of an ``optim`` section with ``decay_every_steps`` filled in from ``decay_every_epochs``."""
    optim = ml_collections.ConfigDict(optim.to_dict())
    if optim.decay_every_steps < 1:
        optim.decay_every_steps = int(optim.decay_every_epochs * per_epoch)
    return optim


def resolve_steps(config: ml_collections.ConfigDict, tables: list) -> ml_collections.ConfigDict:
    """A copy of ``config`` with steps_per_epoch, total_steps and optim.decay_every_steps filled in.

    The paper's epoch: ``jaxsr.data.epochs.steps_per_epoch`` (non-overlapping patches of all items / batch).
    """
    config = ml_collections.ConfigDict(config.to_dict())
    if config.steps_per_epoch < 1:
        config.steps_per_epoch = steps_per_epoch(tables, config.batch_size)
    if config.total_steps < 0:
        config.total_steps = int(config.num_epochs * config.steps_per_epoch)
    config.optim = resolve_optim(config.optim, config.steps_per_epoch)
    return config


def eval_scales(config) -> list[int]:
    """The scales a run is validated at: ``eval.scales``, except that a fixed-scale model (EDSR) exists and
    can only be evaluated at the scale it was trained for (``data.scales``)."""
    if models.contract(config.model.name).scale_mode == "fixed":
        return [int(s) for s in config.data.scales]
    return [int(s) for s in config.eval.scales]


def feed(config) -> Feed:
    """How the train step of ``config`` is fed (seed, batch, loss, clipping θ, sampler)."""
    return Feed(seed=config.seed, batch_size=config.batch_size, loss=config.loss,
                clip_theta=clip_theta(config.optim), sampler=config.data.sampler,
                compute_dtype=str(config.compute_dtype))


def resolve(config: ml_collections.ConfigDict, workdir: str, process0: bool = True) -> RunSpec:
    """The :class:`RunSpec` of a checked config (``jaxsr.train.config_check.check_config``) for the run folder
    ``workdir`` (the patch tables are cached in ``<workdir>/cache`` unless ``data.cache_dir``)."""
    name, kwargs, scales = config.model.name, dict(config.model.kwargs), tuple(config.data.scales)
    eval_model = build_model(name, scales[0], kwargs)  # float32, for metrics
    model = build_model(name, scales[0], kwargs, config.compute_dtype)
    images, lrs = training_images(config.data)
    tables = training_tables(images, lrs, scales, config.data.patch_size, models.contract(model),
                             config.data.cache_dir or f"{workdir}/cache", process0)
    config = resolve_steps(config, list(tables.values()))
    per_epoch = config.steps_per_epoch
    steps = Steps(total=config.total_steps, per_epoch=per_epoch, log_every=config.log_every_steps,
                  checkpoint_every=config.checkpoint_every_steps, eval_every=config.eval.every_steps,
                  eval_at=frozenset(int(round(e * per_epoch)) for e in config.eval.epochs))
    validation = Validation(eval_model, eval_datasets(config.eval), eval_datasets(config.eval, final=True),
                            tuple(eval_scales(config)), config.eval.protocol, check_metrics(config.eval.metrics))
    return RunSpec(config, model, tables, feed(config), steps, validation)
