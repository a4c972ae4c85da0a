"""EDSR/MDSR: parameter counts, shapes, pixel shuffle order, self-ensemble, training and x2 → x3 init."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import make_tiny_folder, tiny_config
from jaxsr import models
from jaxsr.weights.checkpoint import read_run_config, restore_params
from jaxsr.eval.inference import Upscaler, dihedral, inverse_dihedral, self_ensemble
from jaxsr.train.training import train_and_evaluate
from jaxsr.weights.params import init_params


def count(model):
    x = jnp.zeros((1, 8, 8, 3))
    p = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x))["params"]
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(p))


@pytest.mark.parametrize("name,scale,want", [
    ("edsr_baseline", 2, 1_369_859), ("edsr_baseline", 3, 1_554_499), ("edsr_baseline", 4, 1_517_571),
    ("edsr", 2, 40_729_603), ("edsr", 4, 43_089_923), ("mdsr_baseline", None, 3_227_203), ("mdsr", None, 7_953_987),
])
def test_parameter_counts_equal_the_paper(name, scale, want):
    model = models.get(name, scale=scale) if scale else models.get(name)
    assert count(model) == want


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_forward_shapes(scale):
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 7, 9, 3))
    edsr = models.get("edsr_baseline", scale=scale, num_blocks=1, features=8)
    assert edsr.apply({"params": init_params(edsr)}, x).shape == (2, 7 * scale, 9 * scale, 3)
    mdsr = models.get("mdsr_baseline", num_blocks=1, features=8)
    assert mdsr.apply({"params": init_params(mdsr)}, x, scale).shape == (2, 7 * scale, 9 * scale, 3)


def test_mdsr_switches_scales_with_shared_body():
    mdsr = models.get("mdsr_baseline", num_blocks=2, features=8)
    p = init_params(mdsr)
    assert {"pre_2", "pre_3", "pre_4", "up_2", "up_3", "up_4", "body_0", "body_1", "head", "tail"} <= set(p)
    x = jax.random.uniform(jax.random.PRNGKey(1), (1, 6, 6, 3))
    y2 = mdsr.apply({"params": p}, x, 2)
    changed = jax.tree_util.tree_map(lambda a: a, p)
    changed["up_3"] = jax.tree_util.tree_map(lambda a: a + 1.0, p["up_3"])  # another scale's branch
    np.testing.assert_array_equal(mdsr.apply({"params": changed}, x, 2), y2)
    changed["body_0"] = jax.tree_util.tree_map(lambda a: a + 0.1, p["body_0"])  # the shared body
    assert not np.allclose(mdsr.apply({"params": changed}, x, 2), y2)
    with pytest.raises(ValueError, match="not x5"):
        mdsr.apply({"params": p}, x, 5)


def test_pixel_shuffle_channel_order():
    # Channel c·r² + i·r + j at (h, w) → channel c at (h·r + i, w·r + j) (PyTorch's PixelShuffle).
    r, c = 2, 2
    x = np.arange(1 * 2 * 3 * c * r * r, dtype=np.float32).reshape(1, 2, 3, c * r * r)
    y = np.asarray(models.pixel_shuffle(jnp.asarray(x), r))
    assert y.shape == (1, 4, 6, c)
    for h in range(2):
        for w in range(3):
            for ch in range(c):
                for i in range(r):
                    for j in range(r):
                        assert y[0, h * r + i, w * r + j, ch] == x[0, h, w, ch * r * r + i * r + j]
    np.testing.assert_array_equal(y[0, :2, :2, 0], [[0, 1], [2, 3]])  # the first pixel's four sub-pixels


def test_self_ensemble_inverts_transforms_and_is_identity_for_symmetric_models():
    x = jax.random.uniform(jax.random.PRNGKey(2), (1, 9, 13, 1))
    for k in range(8):
        np.testing.assert_array_equal(inverse_dihedral(dihedral(x, k), k), x)
    assert len({np.asarray(dihedral(x[:, :9, :9], k)).tobytes() for k in range(8)}) == 8  # all distinct
    model = models.VDSR(depth=3, features=4)
    p = init_params(model, seed=4)
    for layer in p:  # make every 3×3 kernel invariant under rotations and flips: the model then commutes
        k = np.asarray(p[layer]["kernel"])
        k = sum(np.rot90(k, t, axes=(0, 1)) for t in range(4)) / 4
        p[layer]["kernel"] = jnp.asarray((k + k[:, ::-1]) / 2)
    f = lambda t: model.apply({"params": p}, t)  # noqa: E731
    np.testing.assert_allclose(self_ensemble(f)(x), f(x), atol=1e-5)
    lr = np.random.default_rng(0).random((7, 10, 1))
    plain, ensembled = (Upscaler(models.get("bicubic"), {}, 2, ensemble=e) for e in (False, True))
    np.testing.assert_allclose(ensembled.upscale_channels(lr), plain.upscale_channels(lr), atol=1e-6)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("edsr") / "Tiny")


def edsr_config(folder, name, scales, **more):
    return tiny_config(folder, **{"model.name": name, "model.kwargs": {"num_blocks": 1, "features": 8},
                                  "data.scales": scales, "data.patch_size": 6, "loss": "l1",
                                  "eval.scales": (2, 3, 4), **more})


def test_edsr_trains_and_x3_starts_from_x2(folder, tmp_path):
    res = train_and_evaluate(edsr_config(folder, "edsr_baseline", (2,)), str(tmp_path / "x2"))
    assert set(res["Tiny"]) == {"2"}  # a single-scale model is evaluated at its scale
    train_and_evaluate(edsr_config(folder, "edsr_baseline", (3,), total_steps=0,
                                   init_from=str(tmp_path / "x2")), str(tmp_path / "x3"))
    x2 = jax.device_get(restore_params(tmp_path / "x2", models.build("edsr_baseline", 2, num_blocks=1, features=8)))
    x3 = jax.device_get(restore_params(tmp_path / "x3", models.build("edsr_baseline", 3, num_blocks=1, features=8)))
    for key in x2:
        if key == "upsampler":
            assert x3[key]["Conv_0"]["kernel"].shape[-1] == 8 * 9 != x2[key]["Conv_0"]["kernel"].shape[-1]
        else:
            jax.tree_util.tree_map(np.testing.assert_array_equal, x3[key], x2[key])
    assert read_run_config(tmp_path / "x3").init_from == str(tmp_path / "x2")


def test_mdsr_trains_all_scales_in_one_run(folder, tmp_path):
    import json

    config = edsr_config(folder, "mdsr_baseline", (2, 3, 4), total_steps=6, **{"eval.every_steps": 3})
    res = train_and_evaluate(config, str(tmp_path / "mdsr"))
    assert set(res["Tiny"]) == {"2", "3", "4"}
    logs = [json.loads(l) for l in (tmp_path / "mdsr" / "metrics.jsonl").read_text().splitlines()]
    assert {"val/Tiny/x2/psnr", "val/Tiny/x3/psnr", "val/Tiny/x4/psnr"} <= set(logs[-1])
    assert any("val/Tiny/x4/psnr" in l and l["step"] == 3 for l in logs)  # periodic validation too


def test_mdsr_tfdata_equals_device_sampler(folder, tmp_path):
    pytest.importorskip("tensorflow")
    runs = {}
    for sampler in ("device", "tfdata"):
        config = edsr_config(folder, "mdsr_baseline", (2, 3, 4), total_steps=5, **{"data.sampler": sampler})
        train_and_evaluate(config, str(tmp_path / sampler))
        runs[sampler] = jax.device_get(restore_params(tmp_path / sampler,
                                                      models.get("mdsr_baseline", num_blocks=1, features=8)))
    # Same batches (one scale each, chosen by (seed, step)); the two compiled programs may round differently.
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8),
                           runs["device"], runs["tfdata"])


def test_per_scale_tfdata_stream_matches_device_batches():
    pytest.importorskip("tensorflow")
    from jaxsr.data.sampling import DeviceSampler, build_patch_table, scale_for_step
    from jaxsr.data.tfdata import make_dataset

    rng = np.random.default_rng(0)
    ims = [rng.random((40, 44, 3)), rng.random((36, 48, 3))]
    scales = (2, 3, 4)
    for slot, s in enumerate(scales):
        table = build_patch_table(ims, (s,), 5, 3, "post")
        steps = [t for t in range(2, 30) if scale_for_step(9, t, scales) == s][:3]
        got = list(make_dataset(table, 9, 4, start_step=2, scale_slot=(slot, 3)).take(3).as_numpy_iterator())
        dev = DeviceSampler(table, 9, 4)
        for t, batch in zip(steps, got):
            np.testing.assert_array_equal(batch["target"], np.asarray(dev.sample(t)["target"]))
            assert batch["target"].shape == (4, 5 * s, 5 * s, 3)


def test_evaluate_workdir_of_an_edsr_run(folder, tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    train_and_evaluate(edsr_config(folder, "edsr_baseline", (3,), total_steps=2), str(tmp_path / "x3"))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    r = subprocess.run([sys.executable, "evaluate.py", f"--workdir={tmp_path / 'x3'}", "--no_progress"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| Tiny | x3 |" in r.stdout and "| Tiny | x2 |" not in r.stdout
    r = subprocess.run([sys.executable, "evaluate.py", f"--workdir={tmp_path / 'x3'}", "--scales=2",
                        "--no_progress"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].endswith("for x3, not x2")
