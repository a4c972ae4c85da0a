"""Model zoo: parameter counts, shapes, residual behaviour, registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsr import models
from jaxsr.weights.params import init_params


def n_params(params):
    return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))


def count(model):
    x = jax.ShapeDtypeStruct((1, 16, 16, model.channels), jnp.float32)
    return n_params(jax.eval_shape(model.init, jax.random.PRNGKey(0), x)["params"])


@pytest.mark.parametrize("name,kwargs,want", [
    ("vdsr", {}, 665_921),
    ("vdsr", {"channels": 3}, 668_227),
    ("srcnn", {}, 8_129),
    ("srcnn_955", {}, 57_281),
])
def test_parameter_counts(name, kwargs, want):
    assert count(models.get(name, **kwargs)) == want


def test_vdsr_is_residual_and_keeps_shape():
    model = models.VDSR(depth=3, features=8)
    x = jax.random.uniform(jax.random.PRNGKey(1), (2, 13, 11, 1))
    params = init_params(model)
    y = model.apply({"params": params}, x)
    assert y.shape == x.shape and y.dtype == jnp.float32
    zero = jax.tree_util.tree_map(jnp.zeros_like, params)
    np.testing.assert_array_equal(model.apply({"params": zero}, x), x)  # zero residual → ILR
    direct = models.VDSR(depth=3, features=8, residual=False)
    np.testing.assert_allclose(direct.apply({"params": params}, x), y - x, atol=1e-6)


def test_vdsr_he_init_variance():
    params = init_params(models.VDSR())
    k = np.asarray(params["conv_5"]["kernel"])
    assert k.std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.05)
    assert not np.any(params["conv_5"]["bias"])


def test_srcnn_and_bicubic_shapes():
    x = jnp.ones((1, 20, 24, 1)) * 0.5
    srcnn = models.get("srcnn")
    assert srcnn.apply({"params": init_params(srcnn)}, x).shape == x.shape
    bic = models.get("bicubic")
    assert init_params(bic) == {}
    np.testing.assert_array_equal(bic.apply({"params": {}}, x), x)


def test_registry():
    assert {"vdsr", "srcnn", "srcnn_955", "bicubic"} <= set(models.names())
    assert models.upsampling("vdsr") == "pre"
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        models.get("nope")
    with pytest.raises(ValueError, match="bad arguments"):
        models.get("vdsr", width=3)


def test_import_jaxsr_does_not_need_tensorflow():
    import subprocess
    import sys

    code = ("import sys, jaxsr, jaxsr.eval.evaluation, jaxsr.eval.inference, jaxsr.train.training, jaxsr.cli.upscale, jaxsr.models; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
