"""Build ready-to-run upscalers from a model name and a weights file (or, later, a training workdir)."""

from __future__ import annotations

from typing import Callable

from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.inference import Upscaler
from jaxsr.weights import check_params, load_weights

__all__ = ["upscaler_factory", "build_model"]


def build_model(name: str, scale: int, **kwargs):
    """``models.get`` with ``scale`` passed to post-upsampling models; JaxsrError for unknown names."""
    try:
        if models.upsampling(name) == "post" and not models.multi_scale(name):
            kwargs = {**kwargs, "scale": scale}
        return models.get(name, **kwargs)
    except ValueError as e:
        raise JaxsrError(str(e)) from None


def upscaler_factory(model_name: str, weights: str | None = None, workdir: str | None = None,
                     ensemble: bool = False) -> tuple[Callable[[int], Upscaler], str]:
    """(scale → Upscaler, table label) for ``model_name`` with params from ``weights``.

    Pre-upsampling models load ``weights`` once for all scales; post-upsampling models are built per
    scale and ``{scale}`` in ``weights`` is replaced by the scale. Parameter-free models (bicubic) need no
    weights.
    """
    if workdir is not None:
        from jaxsr.checkpoint import restore_for_eval

        return restore_for_eval(workdir, ensemble)
    build_model(model_name, 2)  # unknown names fail here, before any data is read
    label = model_name.upper() + ("+" if ensemble else "")
    cache: dict = {}

    def params_for(model, scale: int):
        path = weights.format(scale=scale) if weights else None
        if path not in cache:
            if path is None:
                cache[path] = check_params(model, {}, source=f"model {model_name!r} without --weights")
            else:
                cache[path] = load_weights(path, model)
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
