"""Saving and loading model parameters in safe formats, and checking that they fit a model.

Formats: ``.msgpack`` (flax.serialization, no pickle) for single files, the VDSR authors' MatConvNet
``.mat`` and EDSR-PyTorch's ``.pt`` (read only; ``jaxsr.torch_import`` reads them without torch or pickle
code), and orbax checkpoints of training runs (see ``jaxsr.checkpoint``).
"""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization
from flax.traverse_util import flatten_dict

from jaxsr.errors import JaxsrError
from jaxsr.io import atomic_write_bytes

__all__ = ["save_params", "load_params", "load_weights", "check_params", "init_params"]


def save_params(path, params) -> None:
    """Write a params pytree to ``path`` as msgpack (numpy arrays), atomically."""
    host = jax.tree_util.tree_map(np.asarray, jax.device_get(params))
    atomic_write_bytes(path, serialization.msgpack_serialize(host))


def load_params(path) -> dict:
    """Read a params pytree written by :func:`save_params`."""
    path = Path(path)
    if not path.is_file():
        raise JaxsrError(f"{path}: no such file")
    try:
        return serialization.msgpack_restore(path.read_bytes())
    except Exception as e:  # msgpack raises many kinds for corrupt input
        raise JaxsrError(f"{path}: not a jaxsr msgpack params file ({type(e).__name__})") from None


def init_params(model: nn.Module, seed: int = 0) -> dict:
    """Freshly initialised params of ``model`` (a 16×16 input with its channels: params do not depend on
    the image size)."""
    x = jnp.zeros((1, 16, 16, getattr(model, "channels", 3)), jnp.float32)
    return model.init(jax.random.PRNGKey(seed), x).get("params", {})


def check_params(model: nn.Module, params, source: str = "params") -> dict:
    """Raise JaxsrError unless ``params`` has exactly the structure and shapes ``model`` expects."""
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
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)


def load_weights(path, model: nn.Module) -> dict:
    """Load params for ``model`` from ``.msgpack``, a MatConvNet ``.mat`` or an EDSR-PyTorch ``.pt``/``.pth``,
    checked to fit."""
    path = Path(path)
    if not path.exists():
        raise JaxsrError(f"{path}: no such file")
    if path.suffix.lower() == ".mat":
        from jaxsr.convert import read_matconvnet_vdsr

        params, _ = read_matconvnet_vdsr(path)
    elif path.suffix.lower() in (".pt", ".pth"):
        from jaxsr.torch_import import load_torch_params

        params = load_torch_params(path, model)
    elif path.suffix.lower() == ".msgpack":
        params = load_params(path)
    else:
        raise JaxsrError(f"{path}: unknown weights format (expected .msgpack, .mat or .pt)")
    return check_params(model, params, source=str(path))
