"""Saving and loading model parameters in safe formats, and checking that they fit a model.

Formats: ``.msgpack`` (flax.serialization, no pickle) for single files, the VDSR and SRCNN authors'
``.mat`` files (read only; they also describe their network), EDSR-PyTorch's ``.pt`` (read only;
``jaxsr.weights.torch_import`` reads them without torch or pickle code), and orbax checkpoints of training runs
(see ``jaxsr.weights.checkpoint``). ``jaxsr.weights.loading`` turns any params source into params and an ``Upscaler``.
"""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization
from flax.traverse_util import flatten_dict

from jaxsr import models
from jaxsr.base.errors import JaxsrError
from jaxsr.base.io import atomic_write_bytes
from jaxsr.weights.matfiles import read_mat
from jaxsr.weights.torch_import import load_torch_params

__all__ = ["save_params", "load_params", "read_params", "read_weights", "load_weights", "check_params", "check_finite",
           "init_params"]


_KWARGS = "__jaxsr_model_kwargs__"  # reserved top-level key: the network a file holds (e.g. SRCNN's filters)


def save_params(path, params, model_kwargs: dict | None = None, overwrite: bool = True) -> None:
    """Write a params pytree to ``path`` as msgpack (numpy arrays), atomically; ``model_kwargs`` (e.g. an
    SRCNN authors' model: ``filters``, ``border``) are stored with them, so the file describes its network
    as the ``.mat`` it came from does. ``overwrite=False`` never replaces a file (``FileExistsError``, even
    one that appeared since a check: ``jaxsr.base.io.atomic_write_bytes``)."""
    host = jax.tree_util.tree_map(np.asarray, jax.device_get(params))
    if model_kwargs:
        host = {**host, _KWARGS: {k: list(v) if isinstance(v, tuple) else v for k, v in model_kwargs.items()}}
    atomic_write_bytes(path, serialization.msgpack_serialize(host), overwrite=overwrite)


def read_params(path) -> tuple[dict, dict]:
    """(params, model kwargs) of a file written by :func:`save_params` (kwargs ``{}`` if none stored)."""
    path = Path(path)
    if not path.is_file():
        raise JaxsrError(f"{path}: no such file")
    try:
        tree = serialization.msgpack_restore(path.read_bytes())
    except Exception as e:  # msgpack raises many kinds for corrupt input
        raise JaxsrError(f"{path}: not a jaxsr msgpack params file ({type(e).__name__})") from None
    if not isinstance(tree, dict):
        raise JaxsrError(f"{path}: not a jaxsr msgpack params file (no parameter dict)")
    kwargs = tree.pop(_KWARGS, {}) or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise JaxsrError(f"{path}: its stored model arguments are not a dict of names")
    return tree, {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def load_params(path) -> dict:
    """Read a params pytree written by :func:`save_params`."""
    return read_params(path)[0]


def init_params(model: nn.Module, seed: int = 0) -> dict:
    """Freshly initialised params of ``model`` (a 16×16 input with its channels: params do not depend on
    the image size; a call-time-scale model (MDSR) gets the branches of all its scales)."""
    x = jnp.zeros((1, 16, 16, models.contract(model).channels), jnp.float32)
    return model.init(jax.random.PRNGKey(seed), x).get("params", {})


def check_finite(params, source: str = "params") -> None:
    """JaxsrError naming the first tensor of ``params`` with a NaN or infinite value (broken weights score
    nothing and upscale to nothing: refused where they are loaded)."""
    for key, value in flatten_dict(params).items() if hasattr(params, "items") and params else ():
        a = np.asarray(value)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            bad = int(a.size - np.isfinite(a).sum())
            raise JaxsrError(f"{source}: tensor {'/'.join(map(str, key))} has {bad:,} non-finite value(s) (NaN or "
                             f"inf) of {a.size:,}: broken weights, refused")


def check_params(model: nn.Module, params, source: str = "params") -> dict:
    """Raise JaxsrError unless ``params`` has exactly the structure and shapes ``model`` expects and every
    value is finite (:func:`check_finite`)."""
    expected = jax.eval_shape(lambda: init_params(model))
    want = {"/".join(k): v.shape for k, v in flatten_dict(expected).items()}
    got = {"/".join(k): np.shape(v) for k, v in flatten_dict(params).items()} if params else {}
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise JaxsrError(f"{source} does not fit {type(model).__name__}: {detail}")
    for k in want:
        if tuple(want[k]) != tuple(got[k]):
            raise JaxsrError(f"{source} does not fit {type(model).__name__}: {k} is {tuple(got[k])}, "
                             f"the model needs {tuple(want[k])}")
    check_finite(params, source)
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)


def read_weights(path, model: nn.Module | None = None) -> tuple[dict, dict]:
    """(params, model kwargs) from ``.msgpack`` (kwargs ``{}``), an authors' ``.mat`` (kwargs describe the
    network in the file, e.g. SRCNN's ``filters`` and ``border="replicate"``) or an EDSR-PyTorch
    ``.pt``/``.pth`` (mapped onto ``model``, which it needs; kwargs ``{}``); not yet checked."""
    path = Path(path)
    if not path.exists():
        raise JaxsrError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return read_mat(path)[1:]
    if suffix in (".pt", ".pth"):
        if model is None:
            raise JaxsrError(f"{path}: a PyTorch checkpoint needs the model it is for (pass --model)")
        return load_torch_params(path, model), {}
    if suffix == ".msgpack":
        return read_params(path)
    raise JaxsrError(f"{path}: unknown weights format (expected .msgpack, .mat or .pt)")


def load_weights(path, model: nn.Module) -> dict:
    """Load params for ``model`` from ``.msgpack``, an authors' ``.mat`` or an EDSR-PyTorch ``.pt``/``.pth``,
    checked to fit."""
    return check_params(model, read_weights(path, model)[0], source=str(path))
