"""The declared model contract: checked at registration, read by models.contract, one call path
(models.apply); a new model = its file + its config (a toy model trains, evaluates, upscales and loads);
super_resolve reuses its compiled upscaler; and the contract test over every registered model: shapes at
every declared scale, a truthful receptive radius, tiled equal to untiled, init_from leaving out exactly the
scale-specific params."""

from __future__ import annotations

import functools
import os
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_tiny_folder, tiny_config

import jaxsr
from jaxsr import models
from jaxsr.base.errors import JaxsrError
from jaxsr.eval.inference import Upscaler, cached_upscaler
from jaxsr.base.plugins import import_modules
from jaxsr.weights.params import init_params


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
    models.registry._REGISTRY.pop("tiny_y")


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
    from jaxsr.eval.evaluation import evaluate
    from jaxsr.weights.loading import upscaler_factory
    from jaxsr.train.training import train_and_evaluate

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
    from jaxsr.weights.loading import init_from
    from jaxsr.weights.params import save_params

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


# The contract test: every registered model, at every scale it declares, with its ``tiny`` arguments. A
# plug-in model gets it too: JAXSR_IMPORT=my_pkg.sr_models python -m pytest tests/test_model_contract.py
import_modules(os.environ.get("JAXSR_IMPORT", ""), "JAXSR_IMPORT")
ANY_SCALES = (2, 3, 4)  # the scales checked for models that run at any scale or are built for one


def tiny(name: str, scale: int):
    """Model ``name`` for ``scale`` with its class's ``tiny`` arguments (small widths: a fast check)."""
    return models.build(name, scale, **getattr(type(models.get(name)), "tiny", {}))


def declared_scales(name: str) -> tuple:
    spec = models.contract(name)
    return spec.scales if spec.scale_mode == "call" else ANY_SCALES


SHAPE_CASES = [(name, s) for name in models.names() for s in declared_scales(name)]
# The model of a pre-upsampling any-scale model is the same at every scale: its radius is checked once.
CASES = [(n, s) for n, s in SHAPE_CASES if models.contract(n).scale_mode != "any" or s == ANY_SCALES[0]]


@functools.lru_cache(maxsize=None)
def tiny_run(name: str, scale: int):
    """(model, params, jitted apply) of :func:`tiny`."""
    model = tiny(name, scale)
    return model, init_params(model, seed=1), jax.jit(lambda p, x: models.apply(model, p, x, scale))


def lr_input(model, side: int, seed: int = 0, batch: int = 1) -> np.ndarray:
    """A random model input (batch, side, side + 3, C) in [0, 1]."""
    channels = models.contract(model).channels
    return np.random.default_rng(seed).uniform(size=(batch, side, side + 3, channels)).astype(np.float32)


def check_receptive_radius(model, params, scale: int, apply=None) -> None:
    """A pixel just outside the declared radius leaves the output of the centre pixel unchanged, one just
    inside changes it (AssertionError naming which way the declaration is wrong)."""
    apply = apply or (lambda p, x: models.apply(model, p, x, scale))
    spec = models.contract(model)
    r, f = spec.receptive_radius, spec.factor(scale)
    x = lr_input(model, 2 * r + 7)
    c = x.shape[1] // 2
    batch = np.concatenate([x, x, x])
    batch[1, c, c + r + 1] += 8.0  # just outside (a large change: clear through every layer)
    batch[2, c, c + r] += 8.0  # just inside
    out = np.asarray(apply(params, batch))[:, c * f:(c + 1) * f, c * f:(c + 1) * f]
    outside, inside = np.abs(out[1] - out[0]).max(), np.abs(out[2] - out[0]).max()
    assert outside == 0, f"{spec.kind}: a pixel {r + 1} away changes the output: its receptive radius is " \
                         f"larger than the declared {r} (tiles would be wrong)"
    assert inside > 0, f"{spec.kind}: a pixel {r} away leaves the output unchanged: its receptive radius is " \
                       f"smaller than the declared {r}"


def check_tiled_equals_untiled(model, params, scale: int) -> None:
    spec = models.contract(model)
    tile = 4
    side = tile + 2 * spec.receptive_radius + 7  # model-input pixels: several tiles with their context
    lr = np.random.default_rng(1).uniform(size=(-(-side // (scale if spec.upsampling == "pre" else 1)),) * 2
                                          + (spec.channels,))
    whole = Upscaler(model, params, scale).upscale_channels(lr)
    tiled = Upscaler(model, params, scale, tile=tile, tile_batch=8)
    np.testing.assert_allclose(tiled.upscale_channels(lr), whole, atol=1e-5,
                               err_msg=f"{spec.kind}: tiled output differs from untiled")


@pytest.mark.parametrize("name,scale", SHAPE_CASES)
def test_shapes_at_every_declared_scale(name, scale):
    model, params, apply = tiny_run(name, scale)
    spec = models.contract(model)
    side = 2 * spec.receptive_radius + 7  # the radius check's input: compiled once for both
    out = apply(params, lr_input(model, side, batch=3))
    f = spec.factor(scale)
    assert out.shape == (3, side * f, (side + 3) * f, spec.channels) and out.dtype == jnp.float32


@pytest.mark.parametrize("name,scale", CASES)
def test_receptive_radius_is_truthful(name, scale):
    check_receptive_radius(*tiny_run(name, scale)[:2], scale, apply=tiny_run(name, scale)[2])


@pytest.mark.parametrize("name,scale", CASES)
def test_tiled_equals_untiled(name, scale):
    check_tiled_equals_untiled(*tiny_run(name, scale)[:2], scale)


@pytest.mark.parametrize("name", models.names())
def test_init_from_leaves_out_exactly_the_scale_specific_params(name, tmp_path):
    from flax.traverse_util import flatten_dict

    from jaxsr.weights.loading import init_from
    from jaxsr.weights.params import save_params

    spec = models.contract(tiny(name, 2))
    source = tiny_run(name, 2)[1]
    save_params(tmp_path / "x2.msgpack", source)
    shapes = {}
    for s in ANY_SCALES if spec.scale_mode == "fixed" else (2,):
        target = tiny(name, s)
        fresh = init_params(target, seed=0)
        out, src, new = (flatten_dict(jax.device_get(t)) for t in (init_from(fresh, str(tmp_path / "x2.msgpack"),
                                                                              target), source, fresh))
        assert out.keys() == new.keys()
        for key, value in out.items():
            np.testing.assert_array_equal(value, new[key] if spec.is_scale_specific(key) else src[key],
                                          err_msg="/".join(key))
        shapes[s] = {key: value.shape for key, value in new.items()}
    for prefix in spec.scale_params:  # a declared prefix names parameters
        assert any(key[0].startswith(prefix) for key in shapes[2]), f"{name}: no parameter starts with {prefix!r}"
    if spec.scale_mode == "fixed":  # exactly the parameters whose presence or shape depends on the scale
        keys = set().union(*shapes.values())
        varying = {k for k in keys if len({shapes[s].get(k) for s in shapes}) > 1}
        assert varying == {k for k in keys if spec.is_scale_specific(k)}, name


class _Liar(TinyY):
    """TinyY (true radius 2) declaring another radius."""

    declared: ClassVar[int] = 1

    def receptive_radius(self) -> int:
        return self.declared


class _TooLarge(_Liar):
    declared: ClassVar[int] = 3


@pytest.mark.parametrize("liar,check", [(_Liar, check_receptive_radius), (_Liar, check_tiled_equals_untiled),
                                        (_TooLarge, check_receptive_radius)])
def test_the_contract_test_catches_a_false_receptive_radius(liar, check):
    model = liar()
    check(TinyY(), init_params(TinyY(), seed=1), 2)  # the truthful model passes
    with pytest.raises(AssertionError, match="receptive radius|tiled output differs"):
        check(model, init_params(model, seed=1), 2)
