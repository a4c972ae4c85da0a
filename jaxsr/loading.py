"""Build ready-to-run upscalers from a model name and a weights file or a training run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.inference import Upscaler
from jaxsr.weights import check_params, load_weights

__all__ = ["upscaler_factory", "build_model", "load", "run_eval_scales", "shipped_weights"]


def build_model(name: str, scale: int, **kwargs):
    """``models.get`` with ``scale`` passed to post-upsampling models; JaxsrError for unknown names."""
    try:
        if models.upsampling(name) == "post" and not models.multi_scale(name):
            kwargs = {**kwargs, "scale": scale}
        return models.get(name, **kwargs)
    except ValueError as e:
        raise JaxsrError(str(e)) from None


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

    Pre-upsampling models load ``weights`` once for all scales; post-upsampling models are built per
    scale and ``{scale}`` in ``weights`` is replaced by the scale. Parameter-free models (bicubic) need no
    weights; without ``weights`` the model's shipped weights are used (:func:`shipped_weights`), if any.
    ``weights`` naming a training run folder means ``workdir=weights`` (the run must have trained
    ``model_name``).
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

    def params_for(model, scale: int):
        path = weights.format(scale=scale) if weights else None
        if path not in cache:
            if path is None and shipped_weights(model_name) is None:
                cache[path] = check_params(model, {}, source=f"model {model_name!r} without --weights")
            else:
                cache[path] = load_weights(path or shipped_weights(model_name), model)
        return cache[path]

    def factory(scale: int) -> Upscaler:
        model = build_model(model_name, scale)
        try:
            params = params_for(model, scale)
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
      weights: a params file (``.msgpack``, the VDSR authors' MatConvNet ``.mat``, an EDSR-PyTorch ``.pt``),
        a training run folder (its latest checkpoint; the run's own model settings are used), or None for
        the weights shipped with jaxsr (``jaxsr/pretrained/<name>.msgpack``).
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
    model = build_model(name, scale or 2, **kwargs)
    if weights is None:
        weights = shipped_weights(name)
        if weights is None:  # fine for parameter-free models (bicubic), an error otherwise
            try:
                return model, check_params(model, {})
            except JaxsrError:
                raise JaxsrError(f"no weights for {name!r} are shipped with jaxsr yet: pass weights=") from None
    return model, load_weights(weights, model)


def shipped_weights(name: str) -> Path | None:
    """``jaxsr/pretrained/<name>.msgpack``, the weights jaxsr ships for a model, or None (none yet)."""
    path = Path(__file__).parent / "pretrained" / f"{name}.msgpack"
    return path if path.is_file() else None
