"""Vmapped sweeps: V variants in one jitted step equal V separate runs; works on a 4-device mesh."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO, make_tiny_folder, tiny_config
from jaxsr import models
from jaxsr.data.epochs import epoch_patches, steps_per_epoch
from jaxsr.data.sampling import build_patch_table
from jaxsr.data.sources import folder_images
from jaxsr.train.optim import make_optimizer
from jaxsr.base.parallel import make_mesh, replicate
from jaxsr.train.sweep import Variant, init_state, make_sweep_runner, mask_variants, unstack, variant_model
from jaxsr.train.feeding import make_runner
from jaxsr.train.run_spec import feed
from jaxsr.train.train_step import TrainState
from jaxsr.weights.params import init_params

STEPS = 3


def _setup(tmp_path, variants):
    folder = make_tiny_folder(tmp_path / "train")
    config = tiny_config(folder, **{"data.sampler": "device", "optim.decay_every_steps": 2})
    images = [im.image for im in folder_images([str(folder)])]
    model = models.get("vdsr", depth=3, features=8, residual=True, channels=1)
    tables = {v.data_key: build_patch_table(images, v.scales, 12, 1, "pre") for v in variants}
    return config, model, tables


def _separate(config, model, variant, table, mesh):
    config = config.copy_and_resolve_references()
    config.optim.learning_rate, config.seed = variant.learning_rate, variant.seed
    net = variant_model(model, variant)
    tx, schedule = make_optimizer(config.optim)
    params = init_params(net, variant.seed)
    state = replicate(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                 rng=jax.random.key_data(jax.random.PRNGKey(variant.seed + 1))), mesh)
    run = make_runner({None: table}, net, tx, schedule, feed(config), 0, mesh)
    losses = []
    for t in range(STEPS):
        state, m = run(state, t)
        losses.append(float(m["loss"]))
    return state, losses


def _check_equal(tmp_path, variants, mesh, mode="vmap"):
    config, model, tables = _setup(tmp_path, variants)
    run = make_sweep_runner(model, variants, tables, mesh, config.optim, config.loss, config.batch_size, mode)
    state = replicate(init_state(model, config.optim, variants), mesh)
    losses = []
    for _ in range(STEPS):
        state, m = run(state)
        losses.append(np.asarray(m["loss"]))
    assert np.asarray(state.step).tolist() == [STEPS] * len(variants)
    for i, v in enumerate(variants):
        alone, alone_losses = _separate(config, model, v, tables[v.data_key], mesh)
        np.testing.assert_allclose(np.asarray(losses)[:, i], alone_losses, rtol=1e-5)
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5),
                               unstack(state.params, i), alone.params)
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5),
                               unstack(state.opt_state, i), alone.opt_state)
    return state


def test_two_variant_sweep_equals_separate_runs(tmp_path):
    """Shared data (one batch broadcast), different lr and residual flag: each equals its own run."""
    variants = [Variant("res_lr0.01", 0.01, True, 0, (2, 3)), Variant("plain_lr0.001", 0.001, False, 0, (2, 3))]
    state = _check_equal(tmp_path, variants, make_mesh())
    a, b = unstack(state.params, 0), unstack(state.params, 1)
    assert not np.allclose(a["conv_0"]["kernel"], b["conv_0"]["kernel"])  # they did train differently


@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_sweep_over_training_scales_and_seeds_equals_separate_runs(tmp_path, mode):
    """Different data per variant (stacked batches): scale sets {2} and {3} with different seeds."""
    variants = [Variant("x2", 0.01, True, 0, (2,)), Variant("x3", 0.01, False, 5, (3,))]
    _check_equal(tmp_path, variants, make_mesh(), mode)


def test_residual_flag_is_the_models_residual_connection(rng):
    """f(x) + 1·x and f(x) + 0·x equal VDSR(residual=True/False) bit for bit."""
    from jaxsr.train.sweep import _ResidualFlag

    model = models.get("vdsr", depth=3, features=8, residual=True, channels=1)
    params = init_params(model, 0)
    x = jnp.asarray(rng.uniform(size=(2, 9, 9, 1)), jnp.float32)
    base = model.clone(residual=False)
    for flag in (True, False):
        want = model.clone(residual=flag).apply({"params": params}, x)
        got = _ResidualFlag(base, jnp.float32(flag)).apply({"params": params}, x)
        assert np.array_equal(np.asarray(want), np.asarray(got))


def test_epoch_is_non_overlapping_patches_over_batch(tmp_path):
    folder = make_tiny_folder(tmp_path / "train", count=2)  # 48×40 and 40×44 images
    images = [im.image for im in folder_images([str(folder)])]
    table = build_patch_table(images, (2, 3), 12, 1, "pre")
    # x2: 48×40 → 4·3, 40×44 → 3·3; x3: 48×39 → 4·3, 39×42 → 3·3  →  42 patches
    assert epoch_patches(table) == 42
    assert steps_per_epoch([table], 8) == 6 and steps_per_epoch([table], 64) == 1


@pytest.mark.skipif(os.environ.get("JAXSR_IN_SUBPROCESS") == "1", reason="runs inside the subprocess")
def test_sweep_on_four_fake_devices_equals_one_device(tmp_path):
    """The same sweep on a 4-device mesh (batch split over ``data``) gives the 1-device params."""
    code = (
        "import sys, numpy as np, jax; sys.path.insert(0, 'tests');"
        "from pathlib import Path; import test_sweep as t;"
        "from jaxsr.base.parallel import make_mesh; from jaxsr.train.sweep import Variant;"
        "assert jax.device_count() == 4;"
        "v = [Variant('a', 0.01, True, 0, (2,)), Variant('b', 0.001, False, 1, (3,))];"
        f"t._check_equal(Path({str(tmp_path)!r}), v, make_mesh());"
        f"t._check_equal(Path({str(tmp_path)!r}) / 'loop', v, make_mesh(), 'loop')"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAXSR_IN_SUBPROCESS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_mask_variants_sets_only_the_masked_variants():
    tree = {"w": np.arange(6, dtype=np.float32).reshape(3, 2), "count": np.array([5, 6, 7], np.int32)}
    out = jax.device_get(mask_variants(tree, [True, False, True], np.nan))
    np.testing.assert_array_equal(out["w"], [[0, 1], [np.nan, np.nan], [4, 5]])
    np.testing.assert_array_equal(out["count"], [5, 0, 7])
    np.testing.assert_array_equal(tree["w"][1], [2, 3])  # the input is not modified
