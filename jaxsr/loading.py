"""Build ready-to-run upscalers from a model name and a weights file or a training run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.inference import Upscaler
from jaxsr.weights import check_params, read_weights

__all__ = ["upscaler_factory", "build_model", "load", "run_eval_scales", "build_for_weights", "shipped_weights"]


def build_model(name: str, scale: int, **kwargs):
    """``models.get`` with ``scale`` passed to post-upsampling models; JaxsrError for unknown names."""
    try:
        if models.upsampling(name) == "post" and not models.multi_scale(name):
            kwargs = {**kwargs, "scale": scale}
        return models.get(name, **kwargs)
    except ValueError as e:
        raise JaxsrError(str(e)) from None


def build_for_weights(name: str, scale: int, file_kwargs: dict, source: str, **kwargs):
    """Build model ``name`` for the network a weights file describes (an authors' ``.mat``: SRCNN filter
    sizes and replicated borders, VDSR depth); ``kwargs`` override. JaxsrError where the file contradicts
    the model (e.g. a 9-1-5 file for ``srcnn_955``, an SRCNN file for ``vdsr``)."""
    fixed = models.defaults(name)
    for key, value in file_kwargs.items():
        if key in fixed and fixed[key] != value and key not in kwargs:
            raise JaxsrError(f"{source} holds a model with {key}={value}, but {name!r} has {key}={fixed[key]}")
    try:
        return build_model(name, scale, **{**file_kwargs, **kwargs})
    except JaxsrError as e:
        if not file_kwargs:
            raise
        raise JaxsrError(f"{source} does not hold a {name!r} model ({e})") from None


def run_eval_scales(config) -> list[int]:
    """The scales a training run is evaluated at: ``eval.scales``, except that a single-scale
    post-upsampling model (EDSR) can only be evaluated at the scale it was trained for."""
    name = config.model.name
    if models.upsampling(name) == "post" and not models.multi_scale(name):
        return [int(s) for s in config.data.scales]
    return [int(s) for s in config.eval.scales]


def upscaler_factory(model_name: str, weights: str | None = None, workdir: str | None = None,
                     ensemble: bool = False) -> tuple[Callable[[int], Upscaler], str]:
    """(scale → Upscaler, table label) for ``model_name`` with params from ``weights``.

    ``{scale}`` in ``weights`` is replaced by each scale (one file per scale: EDSR, the SRCNN authors'
    models); each file is read once. An authors' ``.mat`` also sets the network it holds (SRCNN's filter
    sizes and replicated borders). Parameter-free models (bicubic) need no weights; without ``weights`` the
    model's shipped weights are used (:func:`shipped_weights`), if any. ``weights`` naming a training run
    folder means ``workdir=weights`` (the run must have trained ``model_name``).
    """
    if workdir is None and weights is not None and Path(weights).is_dir():
        _check_run_model(weights, model_name)  # --weights runs/my_run: as jaxsr.load and jaxsr-upscale
        workdir = weights
    if workdir is not None:
        from jaxsr.checkpoint import restore_for_eval

        return restore_for_eval(workdir, ensemble)
    build_model(model_name, 2)  # unknown names fail here, before any data is read
    label = model_name.upper() + ("+" if ensemble else "")
    cache: dict = {}

    def factory(scale: int) -> Upscaler:
        path = weights.format(scale=scale) if weights else shipped_weights(model_name)
        try:
            if path not in cache:  # a PyTorch checkpoint is read onto the model (EDSR: one file per scale)
                cache[path] = read_weights(path, build_model(model_name, scale)) if path else ({}, {})
            params, file_kwargs = cache[path]
            source = str(path) if path else f"model {model_name!r} without --weights"
            model = build_for_weights(model_name, scale, file_kwargs, source)
            params = check_params(model, params, source=source)
        except JaxsrError as e:
            if weights is None:
                raise JaxsrError(f"model {model_name!r} needs --weights") from None
            raise e
        return Upscaler(model, params, scale, ensemble)

    return factory, label


def _check_run_model(workdir, name: str) -> None:
    from jaxsr.checkpoint import read_run_config

    trained = read_run_config(workdir).model.name
    if trained != name:
        raise JaxsrError(f"{workdir}: the run trained {trained!r}, not {name!r}")


def load(name: str, weights=None, scale: int | None = None, **kwargs):
    """``(model, params)`` for a registered model, ready for :func:`jaxsr.super_resolve`.

    Args:
      name: registered model name (``jaxsr.models.names()``).
      weights: a params file (``.msgpack``, the VDSR or SRCNN authors' ``.mat``, which also sets the network
        it holds, e.g. SRCNN 9-5-5 with replicated borders, or an EDSR-PyTorch ``.pt``), a training run
        folder (its latest checkpoint; the run's own model settings are used), or None for the weights
        shipped with jaxsr (``jaxsr/pretrained/<name>.msgpack``).
      scale: for single-scale post-upsampling models (EDSR), the scale they were trained for.
      kwargs: model constructor overrides (e.g. ``depth=8``).
    Raises:
      JaxsrError: unknown name, missing or unfitting weights.
    """
    if weights is not None and Path(weights).is_dir():
        from jaxsr.checkpoint import run_model

        _check_run_model(weights, name)
        return run_model(weights, scale, **kwargs)
    if scale is None and models.upsampling(name) == "post" and not models.multi_scale(name):
        raise JaxsrError(f"model {name!r} is built for one scale: pass scale=")
    build_model(name, scale or 2, **kwargs)  # unknown names and arguments fail before any file is read
    if weights is None:
        weights = shipped_weights(name)
        if weights is None:  # fine for parameter-free models (bicubic), an error otherwise
            model = build_model(name, scale or 2, **kwargs)
            try:
                return model, check_params(model, {})
            except JaxsrError:
                raise JaxsrError(f"no weights for {name!r} are shipped with jaxsr yet: pass weights=") from None
    params, file_kwargs = read_weights(weights, build_model(name, scale or 2, **kwargs))
    model = build_for_weights(name, scale or 2, file_kwargs, str(weights), **kwargs)
    return model, check_params(model, params, source=str(weights))


def shipped_weights(name: str) -> Path | None:
    """``jaxsr/pretrained/<name>.msgpack``, the weights jaxsr ships for a model, or None (none yet)."""
    path = Path(__file__).parent / "pretrained" / f"{name}.msgpack"
    return path if path.is_file() else None
