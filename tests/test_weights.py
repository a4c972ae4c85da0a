"""MatConvNet import, msgpack round trip, fit checks, and the authors' weights on Set5 (with ../shared)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.io
from scipy.signal import correlate2d

from conftest import shared_path
from jaxsr import models
from jaxsr.cli.convert import main as convert_main
from jaxsr.weights.matfiles import read_matconvnet_vdsr
from jaxsr.base.errors import JaxsrError
from jaxsr.weights.params import check_params, init_params, load_params, load_weights, save_params


def write_matconvnet(path, params, depth):
    """Write params the way the authors' file stores them (cells, trailing singleton dropped)."""
    weights = np.empty((1, depth), dtype=object)
    biases = np.empty((1, depth), dtype=object)
    for i in range(depth):
        k = np.asarray(params[f"conv_{i}"]["kernel"])
        weights[0, i] = k[..., 0] if k.shape[-1] == 1 else k
        biases[0, i] = np.asarray(params[f"conv_{i}"]["bias"])[:, None]
    scipy.io.savemat(path, {"model": {"weight": weights, "bias": biases}})


def test_matconvnet_round_trip(tmp_path):
    model = models.VDSR(depth=4, features=8)
    params = init_params(model, seed=3)
    write_matconvnet(tmp_path / "m.mat", params, 4)
    got, kwargs = read_matconvnet_vdsr(tmp_path / "m.mat")
    assert kwargs == {"depth": 4, "features": 8, "channels": 1}
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, jax.device_get(params))
    assert convert_main([str(tmp_path / "m.mat"), str(tmp_path / "m.msgpack")]) == 0
    jax.tree_util.tree_map(np.testing.assert_array_equal, load_params(tmp_path / "m.msgpack"), got)


def test_kernel_layout_is_matconvnet_correlation():
    # vl_nnconv correlates W(row, col, in, out) with the input; flax Conv must do the same.
    k = np.arange(9, dtype=np.float32).reshape(3, 3)  # asymmetric: a transpose or flip would show
    x = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    conv = models.VDSR(depth=2, features=1, residual=False)
    params = {"conv_0": {"kernel": k[:, :, None, None], "bias": np.zeros(1, np.float32)},
              "conv_1": {"kernel": np.pad(np.ones((1, 1, 1, 1), np.float32), ((1, 1), (1, 1), (0, 0), (0, 0))),
                         "bias": np.zeros(1, np.float32)}}
    y = conv.apply({"params": params}, jnp.asarray(x)[None, ..., None])[0, ..., 0]
    want = np.maximum(correlate2d(x, k, mode="same"), 0)
    np.testing.assert_allclose(np.asarray(y), want, atol=1e-5)


def test_save_load_and_fit_errors(tmp_path):
    model = models.VDSR(depth=3, features=8)
    params = init_params(model)
    save_params(tmp_path / "p.msgpack", params)
    jax.tree_util.tree_map(np.testing.assert_array_equal, load_weights(tmp_path / "p.msgpack", model),
                           jax.device_get(params))
    with pytest.raises(JaxsrError, match="does not fit VDSR: conv_0/(bias|kernel) is"):
        load_weights(tmp_path / "p.msgpack", models.VDSR(depth=3, features=16))
    with pytest.raises(JaxsrError, match="missing"):
        check_params(models.VDSR(depth=4, features=8), params)
    (tmp_path / "bad.msgpack").write_bytes(b"\x00garbage")
    with pytest.raises(JaxsrError, match="not a jaxsr msgpack"):
        load_weights(tmp_path / "bad.msgpack", model)
    (tmp_path / "bad.mat").write_text("not a mat file")
    with pytest.raises(JaxsrError, match="bad.mat"):
        load_weights(tmp_path / "bad.mat", model)
    with pytest.raises(JaxsrError, match="unknown weights format"):
        (tmp_path / "w.pkl").write_bytes(b"x")
        load_weights(tmp_path / "w.pkl", model)


def test_authors_weights_reproduce_set5_reference():
    weights = shared_path("weights", "VDSR_Official.mat")
    data = shared_path("data", "test")
    from jaxsr.data.sources import folder_datasets
    from jaxsr.eval.evaluation import evaluate
    from jaxsr.eval.inference import Upscaler

    model = models.get("vdsr")
    params = load_weights(weights, model)
    res = evaluate(lambda s: Upscaler(model, params, s), folder_datasets(data, ["Set5"]), [2, 3, 4],
                   progress=False, protocol="float")["Set5"]
    # Reference figures of ../shared/data/README.md (independent MATLAB-exact pipeline, float protocol).
    for s, bic, vdsr in [("2", 33.69, 37.59), ("3", 30.41, 33.68), ("4", 28.43, 31.36)]:
        assert res[s]["bicubic_psnr"] == pytest.approx(bic, abs=0.006)
        assert res[s]["psnr"] == pytest.approx(vdsr, abs=0.006)
    assert res["2"]["ssim"] == pytest.approx(0.9596, abs=6e-5)
    assert res["4"]["bicubic_ssim"] == pytest.approx(0.8114, abs=6e-5)
