"""bfloat16 inference (``precision``): what "auto" picks, what bfloat16 computes in which dtype, that it stays
close to float32, that evaluation stays float32, and ``jaxsr-upscale --precision``."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxsr import models
from jaxsr.eval import inference
from jaxsr.base import xla_cpu
from jaxsr.eval.inference import Upscaler, resolve_precision, super_resolve
from jaxsr.cli.upscale import main as upscale_main
from jaxsr.weights.params import init_params


def test_resolve_precision(monkeypatch):
    vdsr, srcnn = models.get("vdsr", depth=3, features=4), models.get("srcnn")
    assert resolve_precision("float32", vdsr) == "float32" and resolve_precision("bfloat16", srcnn) == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("float16", vdsr)
    monkeypatch.setattr(xla_cpu, "bf16_is_fast", lambda backend=None: True)
    assert resolve_precision("auto", vdsr, 2) == "bfloat16"
    assert resolve_precision("auto", srcnn, 2) == "float32"  # bfloat16 quality measured for VDSR only
    for scale in (3, 4):  # where bfloat16 was measured to change the outputs more than negligibly
        assert resolve_precision("auto", vdsr, scale) == "float32"
    monkeypatch.setattr(xla_cpu, "bf16_is_fast", lambda backend=None: False)
    assert resolve_precision("auto", vdsr, 2) == "float32"


def test_bf16_is_fast_needs_amx_and_onednn(monkeypatch):
    monkeypatch.setattr(xla_cpu, "cpu_has_amx", lambda cpuinfo="/proc/cpuinfo": True)
    monkeypatch.setattr(xla_cpu, "_jaxlib_version", lambda: "0.12.0.1")
    assert xla_cpu.bf16_is_fast("cpu") and not xla_cpu.bf16_is_fast("gpu")
    monkeypatch.setenv(xla_cpu.OPT_OUT, "0")
    assert not xla_cpu.bf16_is_fast("cpu")
    monkeypatch.delenv(xla_cpu.OPT_OUT)
    monkeypatch.setattr(xla_cpu, "_jaxlib_version", lambda: "0.10.2")  # no oneDNN convolutions: bf16 is slow
    assert not xla_cpu.bf16_is_fast("cpu")
    monkeypatch.setattr(xla_cpu, "_jaxlib_version", lambda: "0.12.0.1")
    monkeypatch.setattr(xla_cpu, "cpu_has_amx", lambda cpuinfo="/proc/cpuinfo": False)
    assert not xla_cpu.bf16_is_fast("cpu")


def test_vdsr_bf16_keeps_first_and_last_layers_float32():
    model = models.VDSR(depth=4, features=8, dtype=jnp.bfloat16)
    params = init_params(models.VDSR(depth=4, features=8), 0)
    out, state = model.apply({"params": params}, jnp.ones((1, 9, 9, 1)), capture_intermediates=True)
    dtypes = [state["intermediates"][f"conv_{i}"]["__call__"][0].dtype for i in range(4)]
    assert dtypes == [jnp.float32, jnp.bfloat16, jnp.bfloat16, jnp.float32] and out.dtype == jnp.float32


def test_bf16_upscaler_is_close_to_float32_and_params_stay():
    model = models.get("vdsr", depth=5, features=8)
    params = init_params(model, seed=3)
    image = np.random.default_rng(1).random((23, 31, 3))
    ups = {p: Upscaler(model, params, 2, precision=p) for p in ("float32", "bfloat16")}
    out = {p: up.upscale(image) for p, up in ups.items()}
    assert ups["bfloat16"].precision == "bfloat16" and ups["bfloat16"].model is model
    assert out["bfloat16"].shape == out["float32"].shape
    diff = np.abs(out["bfloat16"] - out["float32"]).max()
    assert 0 < diff < 0.02
    tiled = Upscaler(model, params, 2, tile=8, tile_batch=3, precision="bfloat16").upscale(image)
    assert np.abs(tiled - out["bfloat16"]).max() < 0.02  # tiles are bf16 too; each shape may round its own way
    # a model without a compute dtype (bicubic) computes in float32 whatever is asked
    bic = models.get("bicubic")
    np.testing.assert_array_equal(Upscaler(bic, {}, 2, precision="bfloat16").upscale(image),
                                  Upscaler(bic, {}, 2).upscale(image))


def test_super_resolve_precision_and_its_cache(monkeypatch):
    model = models.get("vdsr", depth=3, features=4)
    params = init_params(model, seed=1)
    image = (np.random.default_rng(0).random((12, 10, 3)) * 255).astype(np.uint8)
    f32 = super_resolve(image, model, params, 2, precision="float32")
    monkeypatch.setattr(xla_cpu, "bf16_is_fast", lambda backend=None: False)
    np.testing.assert_array_equal(super_resolve(image, model, params, 2), f32)  # auto: float32 here
    monkeypatch.setattr(xla_cpu, "bf16_is_fast", lambda backend=None: True)
    bf16 = super_resolve(image, model, params, 2)  # auto: bfloat16 (whatever the CPU: patched)
    assert np.abs(bf16.astype(int) - f32).max() <= 5
    assert inference.cached_upscaler(model, params, 2, precision="auto").precision == "bfloat16"
    assert inference.cached_upscaler(model, params, 2).precision == "float32"  # the Python API default


def test_evaluation_stays_float32(monkeypatch, tmp_path):
    """Evaluation (evaluate.py, the paper tables, training's validation) builds its Upscalers with the
    default, float32, even where "auto" would pick bfloat16."""
    from jaxsr.weights.loading import upscaler_factory
    from jaxsr.weights.params import save_params

    monkeypatch.setattr(xla_cpu, "bf16_is_fast", lambda backend=None: True)
    save_params(tmp_path / "w.msgpack", init_params(models.get("vdsr"), seed=0))
    factory, _ = upscaler_factory("vdsr", weights=str(tmp_path / "w.msgpack"))
    assert factory(2).precision == "float32"
    assert Upscaler(models.get("vdsr", depth=3, features=4), {}, 2).precision == "float32"
    assert resolve_precision("auto", models.get("vdsr"), 2) == "bfloat16"


def test_upscale_cli_precision(tmp_path):
    from PIL import Image

    from jaxsr.weights.params import save_params

    Image.fromarray((np.random.default_rng(0).random((10, 12, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    save_params(tmp_path / "w.msgpack", init_params(models.get("vdsr"), seed=0))
    out = {}
    for precision in ("float32", "bfloat16", "auto"):
        assert upscale_main([str(tmp_path / "a.png"), "--output_dir", str(tmp_path / precision), "--scale", "2",
                             "--weights", str(tmp_path / "w.msgpack"), "--precision", precision,
                             "--no_progress"]) == 0
        out[precision] = np.asarray(Image.open(tmp_path / precision / "a_x2.png"), int)
    assert out["float32"].shape == (20, 24, 3) and np.abs(out["bfloat16"] - out["float32"]).max() <= 8
    auto = inference.resolve_precision("auto", models.get("vdsr"), 2)
    np.testing.assert_array_equal(out["auto"], out[auto])
    with pytest.raises(SystemExit) as e:
        upscale_main([str(tmp_path / "a.png"), "--output_dir", str(tmp_path / "o"), "--scale", "2",
                      "--precision", "float16"])
    assert e.value.code == 2
