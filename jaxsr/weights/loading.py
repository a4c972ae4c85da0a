"""The one path from a params source to params and to an :class:`~jaxsr.eval.inference.Upscaler`.

A params source, for a registered model name, is one of: None (the weights jaxsr ships for it, the zoo's
default: ``jaxsr.weights.zoo.default``; none needed for parameter-free models), the name of a zoo entry
(``"vdsr_official"``, ``python -m jaxsr.zoo``; an existing path of that name wins), a ``.msgpack`` file, the VDSR
or SRCNN authors' ``.mat`` (which also sets the network it holds, e.g. SRCNN 9-5-5 with replicated
borders), an EDSR-PyTorch ``.pt``/``.pth``, a training run folder (its newest verified checkpoint, with the
run's own model settings), or any file path with ``{scale}`` (one file per scale: EDSR, the SRCNN authors'
models). :class:`ParamsSource` resolves it; ``jaxsr.load``, ``evaluate.py``/``jaxsr-paper``
(:func:`upscaler_factory`), ``jaxsr-upscale`` and training's ``init_from`` (:func:`source_params`) all go
through it. Files are read once per source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import jax

from jaxsr import models
from jaxsr.weights import zoo
from jaxsr.weights.checkpoint import read_run_config, restore_params
from jaxsr.base.errors import JaxsrError
from jaxsr.eval.inference import Upscaler
from jaxsr.weights.params import check_finite, check_params, read_weights

__all__ = ["ParamsSource", "load", "upscaler_factory", "run_model", "source_params", "init_from",
           "build_for_weights"]

_NO_WEIGHTS = "no weights for {name!r} ship with jaxsr: pass weights= (jaxsr zoo lists published ones)"


def build_for_weights(name: str, scale: int, file_kwargs: dict, source: str, **kwargs):
    """Build model ``name`` for the network a weights file describes (an authors' ``.mat``: SRCNN filter
    sizes and replicated borders, VDSR depth); ``kwargs`` override. JaxsrError where the file contradicts
    the model (e.g. a 9-1-5 file for ``srcnn_955``, an SRCNN file for ``vdsr``)."""
    fixed = models.defaults(name)
    _check_stored_kwargs(name, file_kwargs, source)
    for key, value in file_kwargs.items():
        if key in fixed and fixed[key] != value and key not in kwargs:
            raise JaxsrError(f"{source} holds a model with {key}={value}, but {name!r} has {key}={fixed[key]}")
    try:
        return models.build(name, scale, **{**file_kwargs, **kwargs})
    except JaxsrError as e:
        if not file_kwargs:
            raise
        raise JaxsrError(f"{source} does not hold a {name!r} model ({e})") from None


def _check_stored_kwargs(name: str, kwargs: dict, source: str) -> None:
    """Model arguments read from a file (a weights file's stored kwargs, a run's config.json) checked against
    the model's fields, types and declared ranges before anything is built: a file saying ``depth: 10**7``
    is one error, not an hour of building."""
    from jaxsr.models.contract import check_kwargs

    try:
        cls = type(models.get(name))
    except ValueError as e:
        raise JaxsrError(str(e)) from None
    try:
        check_kwargs(cls, kwargs)
    except ValueError as e:
        raise JaxsrError(f"{source}: its stored model arguments do not describe a {name!r} model ({e})") from None


def run_model(workdir, scale: int | None = None, **overrides):
    """(model, params) of a run's newest verified checkpoint, the model built from the run's own config.

    ``scale`` (default: the first trained scale) matters for fixed-scale models (EDSR), which exist only at
    the scale they were trained for; ``overrides`` replace model constructor args.
    """
    config = read_run_config(workdir)
    name, trained = config.model.name, int(config.data.scales[0])
    stored = dict(config.model.kwargs)
    if name in models.names() and models.contract(name).scale_mode == "fixed":
        stored["scale"] = trained
    _check_stored_kwargs(name, stored, f"{workdir}/config.json")
    model = models.build(name, trained if scale is None else scale, **{**dict(config.model.kwargs), **overrides})
    spec = models.contract(model)
    if spec.scale_mode == "fixed" and trained not in spec.scales:
        raise JaxsrError(f"{workdir}: the run trained {name} for x{trained}, not x{spec.scales[0]}")
    return model, restore_params(workdir, model)


class ParamsSource:
    """A params source (see the module docstring) for the registered model ``name``; ``kwargs`` override
    the model's constructor arguments. Nothing is read until :meth:`at` (unknown names fail at once)."""

    def __init__(self, name: str, weights=None, **kwargs):
        self.name, self.weights, self.kwargs = name, weights, kwargs
        self.entry = zoo.resolve(name, weights)  # the zoo entry meant (weights None: the shipped default)
        self.run = self.entry is None and weights is not None and Path(str(weights)).is_dir()
        if self.run:
            trained = read_run_config(weights).model.name
            if trained != name:
                raise JaxsrError(f"{weights}: the run trained {trained!r}, not {name!r}")
        else:
            models.build(name, 2, **kwargs)  # unknown names and arguments fail before any file is read
        self.fixed = models.contract(name).scale_mode == "fixed"
        self._read: dict = {}  # path or (run, scale) → what was read

    def _path(self, scale: int):
        if self.entry is not None:
            return self.entry.path(scale)
        if self.weights is None:
            return None
        return str(self.weights).format(scale=scale) if "{scale}" in str(self.weights) else self.weights

    def at(self, scale: int | None = None):
        """``(model, params)`` at ``scale`` (needed for fixed-scale models outside a run, where it defaults
        to the trained scale), params checked to fit the model; JaxsrError for missing or unfitting weights."""
        if self.run:
            key = ("run", scale if self.fixed else None)  # other models share one set of params
            if key not in self._read:
                self._read[key] = run_model(self.weights, scale, **self.kwargs)
            return self._read[key]
        if scale is None and self.fixed:
            raise JaxsrError(f"model {self.name!r} is built for one scale: pass scale=")
        at, path = scale or 2, self._path(scale or 2)
        if path is None:  # fine for parameter-free models (bicubic), an error otherwise
            model = models.build(self.name, at, **self.kwargs)
            try:
                return model, check_params(model, {})
            except JaxsrError:
                raise JaxsrError(_NO_WEIGHTS.format(name=self.name)) from None
        if path not in self._read:  # a PyTorch checkpoint is read onto the model (EDSR: one file per scale)
            self._read[path] = read_weights(path, models.build(self.name, at, **self.kwargs))
        params, file_kwargs = self._read[path]
        model = build_for_weights(self.name, at, file_kwargs, str(path), **self.kwargs)
        return model, check_params(model, params, source=str(path))

    def upscaler(self, scale: int, ensemble: bool = False, **options) -> Upscaler:
        """An :class:`Upscaler` at ``scale``; ``options`` are Upscaler's (``tile``, ``tile_batch``)."""
        up = Upscaler(*self.at(scale), scale, ensemble, **options)
        path = self.weights if self.run else self._path(scale)
        if path is not None:
            up.source = str(path)  # named if its output is not finite
        return up


def load(name: str, weights=None, scale: int | None = None, **kwargs):
    """``(model, params)`` for a registered model, ready for :func:`jaxsr.super_resolve`.

    Args:
      name: registered model name (``jaxsr.models.names()``).
      weights: a params source (module docstring): a zoo entry's name (``"vdsr_official"``), a ``.msgpack``,
        an authors' ``.mat``, an EDSR-PyTorch ``.pt``, a training run folder, or None for the weights
        shipped with jaxsr for ``name`` (the zoo's default: ``jaxsr.weights.zoo.default(name)``).
      scale: for fixed-scale models (EDSR), the scale they were trained for; for weights with one model
        per scale (the SRCNN authors', a ``{scale}`` pattern), which one (default 2).
      kwargs: model constructor overrides (e.g. ``depth=8``).
    Raises:
      JaxsrError: unknown name, missing or unfitting weights.
    """
    return ParamsSource(name, weights, **kwargs).at(scale)


def upscaler_factory(model_name: str, weights: str | None = None, workdir: str | None = None,
                     ensemble: bool = False) -> tuple[Callable[[int], Upscaler], str]:
    """(scale → Upscaler, table label) for ``model_name`` with params from ``weights`` (a params source,
    module docstring) or from the run folder ``workdir`` (whose own model is used, whatever the name)."""
    if workdir is not None:
        model_name, weights = read_run_config(workdir).model.name, workdir
    source = ParamsSource(model_name, weights)
    label = model_name.upper() + ("+" if ensemble else "")

    def factory(scale: int) -> Upscaler:
        try:
            return source.upscaler(scale, ensemble)
        except JaxsrError as e:
            if weights is None and source.entry is None and not source.run:
                raise JaxsrError(f"model {model_name!r} needs --weights: none ship with jaxsr "
                                 "(jaxsr zoo lists published ones)") from None
            raise e

    return factory, label


def source_params(source, model) -> dict:
    """The raw params pytree of a params source for ``model``'s architecture (training's ``init_from``):
    a run folder's newest verified checkpoint (its own model), or a params file read onto ``model``; not
    checked against ``model`` (the caller copies what fits)."""
    if Path(str(source)).is_dir():
        return run_model(source)[1]
    return read_weights(source, model)[0]


def init_from(params, source_workdir: str, model):
    """Fresh ``params`` with every entry but the model's scale-specific ones (its contract's
    ``scale_params``: EDSR's upsampler) copied from a params source (``jaxsr.weights.loading``), typically another
    run's newest verified checkpoint (EDSR x3/x4 start from a trained x2 model). Shapes must agree."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    spec = models.contract(model)
    loaded = jax.device_get(source_params(source_workdir, model))
    check_finite(loaded, f"init_from: {source_workdir}")
    source = flatten_dict(loaded)
    target = flatten_dict(jax.device_get(params))
    for key, value in target.items():
        if spec.is_scale_specific(key):
            continue
        if key not in source or source[key].shape != value.shape:
            raise JaxsrError(f"init_from: {source_workdir} has no parameter {'/'.join(key)} of shape "
                             f"{value.shape}; it must be the same architecture")
        target[key] = source[key]
    return unflatten_dict(target)
