"""The declared model contract: checked at registration, read by models.contract, one call path
(models.apply); a new model = its file + its config (a toy model trains, evaluates, upscales and loads);
super_resolve reuses its compiled upscaler."""

from __future__ import annotations

from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_tiny_folder, tiny_config

import jaxsr
from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.inference import Upscaler, cached_upscaler
from jaxsr.weights import init_params


class TinyY(nn.Module):
    """The toy model of the "adding a model" test: two 3×3 convs predicting the bicubic residual of Y.
    Input/output: ILR NHWC float32 in [0, 1], ``channels`` channels."""

    features: int = 4
    channels: int = 1
    upsampling: ClassVar[str] = "pre"
    scale_mode: ClassVar[str] = "any"
    scale_params: ClassVar[tuple] = ()

    def receptive_radius(self) -> int:
        return 2

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Conv(self.features, (3, 3), padding="SAME")(x))
        return x + nn.Conv(self.channels, (3, 3), padding="SAME")(h)


@pytest.fixture
def tiny_y():
    models.register("tiny_y", TinyY)
    yield "tiny_y"
    models._REGISTRY.pop("tiny_y")


def test_registration_rejects_a_model_without_the_contract():
    class Bare(nn.Module):
        width: int = 3

        @nn.compact
        def __call__(self, x):
            return x

    with pytest.raises(TypeError, match="does not declare the model contract") as e:
        models.register("bare", Bare)
    for missing in ("upsampling", "scale_mode", "scale_params", "channels field", "receptive_radius"):
        assert missing in str(e.value)
    assert "bare" not in models.names()

    class FixedWithoutScale(TinyY):
        upsampling: ClassVar[str] = "post"
        scale_mode: ClassVar[str] = "fixed"

    with pytest.raises(TypeError, match="a scale field"):
        models.register("fixed_no_scale", FixedWithoutScale)
    with pytest.raises(TypeError, match="has no field depth"):
        models.register("tiny_bad_default", TinyY, depth=3)
    assert not {"fixed_no_scale", "tiny_bad_default"} & set(models.names())


def test_every_registered_model_declares_the_contract():
    for name in models.names():
        spec = models.contract(name)
        assert spec.upsampling in ("pre", "post") and spec.scale_mode in ("any", "fixed", "call")
        assert spec.receptive_radius >= 0 and spec.channels in (1, 3)
    edsr = models.contract(models.build("edsr_baseline", 3, num_blocks=1, features=4))
    assert (edsr.scale_mode, edsr.scales, edsr.factor(3)) == ("fixed", (3,), 3)
    assert edsr.is_scale_specific(("upsampler", "Conv_0", "kernel")) and not edsr.is_scale_specific(("head",))
    mdsr = models.contract("mdsr_baseline")
    assert (mdsr.scale_mode, mdsr.scales) == ("call", (2, 3, 4))
    assert mdsr.is_scale_specific("up_3") and not mdsr.is_scale_specific("pre_3")
    vdsr = models.contract("vdsr")
    assert (vdsr.upsampling, vdsr.scale_mode, vdsr.channels, vdsr.scales, vdsr.factor(4)) == ("pre", "any", 1, None, 1)


def test_apply_at_a_scale_and_the_mdsr_trap_is_a_clear_error():
    mdsr = models.get("mdsr_baseline", num_blocks=1, features=4)
    x = jnp.zeros((1, 6, 6, 3), jnp.float32)
    only_x2 = mdsr.init(jax.random.PRNGKey(0), x, 2)["params"]  # one branch: the trap
    assert models.apply(mdsr, only_x2, x, 2).shape == (1, 12, 12, 3)
    with pytest.raises(ValueError, match="no x3 branch.*initialise without a scale"):
        models.apply(mdsr, only_x2, x, 3)
    with pytest.raises(ValueError, match="not x5"):
        models.apply(mdsr, init_params(mdsr), x, 5)
    with pytest.raises(ValueError, match="pass scale"):
        models.apply(mdsr, init_params(mdsr), x)
    with pytest.raises(ValueError, match="no x3 branch"):
        Upscaler(mdsr, only_x2, 3).upscale(np.zeros((6, 6, 3)))
    edsr = models.build("edsr_baseline", 2, num_blocks=1, features=4)
    with pytest.raises(ValueError, match="built for x2, asked for x3"):
        models.apply(edsr, init_params(edsr), x, 3)
    vdsr = models.get("vdsr", depth=2, features=4)
    p = init_params(vdsr)
    y = jnp.ones((1, 6, 6, 1), jnp.float32)
    np.testing.assert_array_equal(models.apply(vdsr, p, y, 3), vdsr.apply({"params": p}, y))


def test_super_resolve_in_a_loop_compiles_once_per_shape():
    model = models.get("vdsr", depth=2, features=4)
    params = init_params(model)
    images = [np.random.default_rng(i).uniform(size=(10, 12)).astype(np.float32) for i in range(3)]
    outs = [jaxsr.super_resolve(im, model, params, 2, tile=0, precision="float32") for im in images]
    up = cached_upscaler(model, params, 2, False, tile=None)
    assert up.compilations == 1 and len(up._compiled) == 1
    np.testing.assert_allclose(outs[2], Upscaler(model, params, 2).upscale(images[2]), atol=1e-6)
    jaxsr.super_resolve(np.zeros((8, 8), np.float32), model, params, 2, tile=0, precision="float32")  # one more
    assert up.compilations == 2
    other = jax.tree_util.tree_map(lambda a: a + 0.0, params)  # new params: a new upscaler
    assert cached_upscaler(model, other, 2, False, tile=None) is not up


def test_a_new_model_is_its_file_plus_its_config(tmp_path, tiny_y):
    """TinyY, registered above, trains, evaluates, upscales and loads with no edit to the package."""
    from jaxsr.data.sources import eval_datasets
    from jaxsr.evaluation import evaluate
    from jaxsr.loading import upscaler_factory
    from jaxsr.training import train_and_evaluate

    folder = make_tiny_folder(tmp_path / "Tiny")
    config = tiny_config(folder, **{"model.name": tiny_y, "model.kwargs": {"features": 4, "channels": 1}})
    work = tmp_path / "run"
    results = train_and_evaluate(config, str(work))
    trained = [m["psnr"] for by_scale in results.values() for m in by_scale.values()]
    assert len(trained) == 2 and all(np.isfinite(trained))

    factory, label = upscaler_factory(tiny_y, weights=str(work))
    assert label == "TINY_Y"
    again = evaluate(factory, eval_datasets(config.eval), [2, 3], progress=False)
    assert [m["psnr"] for by_scale in again.values() for m in by_scale.values()] == pytest.approx(trained)

    model, params = jaxsr.load(tiny_y, str(work))
    assert isinstance(model, TinyY) and set(params) == {"Conv_0", "Conv_1"}
    image = np.random.default_rng(0).integers(0, 256, (20, 18, 3), dtype=np.uint8)
    whole = jaxsr.super_resolve(image, model, params, 3, tile=0)
    tiled = Upscaler(model, params, 3, tile=16, tile_batch=2).upscale(image / 255.0)
    assert whole.shape == (60, 54, 3)
    np.testing.assert_allclose(tiled, jaxsr.super_resolve(image / 255.0, model, params, 3, tile=0), atol=1e-5)
    with pytest.raises(JaxsrError, match="the run trained 'tiny_y', not 'vdsr'"):
        jaxsr.load("vdsr", str(work))


def test_init_from_copies_all_but_the_declared_scale_params(tmp_path):
    from jaxsr.loading import init_from
    from jaxsr.weights import save_params

    x2, x3 = (models.build("edsr_baseline", s, num_blocks=1, features=4) for s in (2, 3))
    trained = init_params(x2, seed=1)
    save_params(tmp_path / "x2.msgpack", trained)
    fresh = init_params(x3, seed=0)
    out = init_from(fresh, str(tmp_path / "x2.msgpack"), x3)
    np.testing.assert_array_equal(out["head"]["kernel"], trained["head"]["kernel"])
    np.testing.assert_array_equal(out["upsampler"]["Conv_0"]["kernel"], fresh["upsampler"]["Conv_0"]["kernel"])
    vdsr = models.get("vdsr", depth=2, features=4)
    with pytest.raises(JaxsrError, match="must be the same architecture"):
        init_from(init_params(vdsr), str(tmp_path / "x2.msgpack"), vdsr)
