"""SRCNN with its authors' MATLAB models: kernel layout and replicated borders against a direct loop over
the authors' SRCNN.m; loading and conversion; and, with ../shared, VDSR Table 3's Set5 x2 row."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.io

import jaxsr
from conftest import REPO, shared_path
from jaxsr import models
from jaxsr.weights.matfiles import read_srcnn_mat
from jaxsr.base.errors import JaxsrError


def fake_srcnn_mat(path, rng, k=(5, 3, 3), n=(4, 3)):
    """A small SRCNN model file in the authors' layout (float64, k*k kernels in column-major order)."""
    scipy.io.savemat(path, {
        "weights_conv1": rng.normal(0, 0.3, (k[0] ** 2, n[0])), "biases_conv1": rng.normal(0, 0.1, (n[0], 1)),
        "weights_conv2": rng.normal(0, 0.3, (n[0], k[1] ** 2, n[1])), "biases_conv2": rng.normal(0, 0.1, (n[1], 1)),
        "weights_conv3": rng.normal(0, 0.3, (n[1], k[2] ** 2)), "biases_conv3": rng.normal(0, 0.1, (1, 1))})
    return path


def imfilter(x, kernel, border):
    """MATLAB ``imfilter(x, kernel, 'same', border)`` for odd square kernels: a correlation, by loops."""
    k = kernel.shape[0]
    r = (k - 1) // 2
    padded = np.pad(x, r, mode="edge" if border == "replicate" else "constant")
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = np.sum(padded[i:i + k, j:j + k] * kernel)
    return out


def srcnn_m(mat, im, border="replicate"):
    """The authors' SRCNN.m, transcribed: every kernel is MATLAB's reshape(w(:, ...), k, k)."""
    w1, w2, w3 = mat["weights_conv1"], mat["weights_conv2"], mat["weights_conv3"]
    b1, b2, b3 = mat["biases_conv1"].ravel(), mat["biases_conv2"].ravel(), mat["biases_conv3"].ravel()
    k1, k2, k3 = (int(round(np.sqrt(n))) for n in (w1.shape[0], w2.shape[1], w3.shape[1]))
    reshape = lambda v, k: v.reshape(k, k, order="F")  # noqa: E731
    c1 = [np.maximum(imfilter(im, reshape(w1[:, i], k1), border) + b1[i], 0) for i in range(w1.shape[1])]
    c2 = [np.maximum(sum(imfilter(c1[j], reshape(w2[j, :, i], k2), border) for j in range(len(c1))) + b2[i], 0)
          for i in range(w2.shape[2])]
    return sum(imfilter(c2[i], reshape(w3[i, :], k3), border) for i in range(len(c2))) + b3[0]


@pytest.mark.parametrize("border", ["replicate", "zero"])
def test_srcnn_matches_the_authors_loop(tmp_path, rng, border):
    path = fake_srcnn_mat(tmp_path / "m.mat", rng)
    params, kwargs = read_srcnn_mat(path)
    assert kwargs == {"filters": (5, 3, 3), "features": (4, 3), "channels": 1, "border": "replicate"}
    model = models.SRCNN(**{**kwargs, "border": border})
    im = rng.random((13, 11))
    got = np.asarray(model.apply({"params": params}, im[None, ..., None].astype(np.float32)))[0, ..., 0]
    want = srcnn_m(scipy.io.loadmat(path), im, border)
    np.testing.assert_allclose(got, want, atol=2e-5)
    other = "zero" if border == "replicate" else "replicate"
    assert np.abs(srcnn_m(scipy.io.loadmat(path), im, other) - want).max() > 1e-3  # borders matter


def test_load_convert_and_one_by_one_middle_layer(tmp_path, rng):
    path = fake_srcnn_mat(tmp_path / "m.mat", rng, k=(3, 1, 3))
    model, params = jaxsr.load("srcnn", weights=str(path))
    assert (model.filters, model.border) == ((3, 1, 3), "replicate")
    im = rng.random((9, 10))
    out = np.asarray(model.apply({"params": params}, im[None, ..., None].astype(np.float32)))[0, ..., 0]
    np.testing.assert_allclose(out, srcnn_m(scipy.io.loadmat(path), im), atol=2e-5)
    with pytest.raises(JaxsrError, match="'srcnn_955' has filters=\\(9, 5, 5\\)"):
        jaxsr.load("srcnn_955", weights=str(path))
    r = subprocess.run([sys.executable, "-m", "jaxsr.convert", str(path), str(tmp_path / "m.msgpack")],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "SRCNN" in r.stdout and "'border': 'replicate'" in r.stdout
    m2, p2 = jaxsr.load("srcnn", weights=str(tmp_path / "m.msgpack"))  # the .msgpack keeps the network too
    assert (m2.filters, m2.features, m2.border) == ((3, 1, 3), (4, 3), "replicate")
    out2 = np.asarray(m2.apply({"params": p2}, im[None, ..., None].astype(np.float32)))[0, ..., 0]
    np.testing.assert_array_equal(out, out2)
    before = (tmp_path / "m.msgpack").read_bytes()
    for dst, why in ((tmp_path / "m.msgpack", "exists (pass --overwrite"), (path, "is the source file"),
                     (tmp_path, "is a folder"), (tmp_path / "nope" / "x.msgpack", "does not exist")):
        r = subprocess.run([sys.executable, "-m", "jaxsr.convert", str(path), str(dst)],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
        assert r.returncode == 1 and r.stderr.strip().splitlines() == [r.stderr.strip()] and why in r.stderr, r.stderr
    assert (tmp_path / "m.msgpack").read_bytes() == before and path.suffix == ".mat" and path.stat().st_size
    scipy.io.savemat(tmp_path / "bad.mat", {"weights_conv1": np.zeros((80, 4))})
    with pytest.raises(JaxsrError, match="missing"):
        jaxsr.load("srcnn", weights=str(tmp_path / "bad.mat"))


def test_vdsr_table3_set5_x2_regression():
    """VDSR paper Table 3, Set5 x2, under the MATLAB protocol: the printed digits, and the figures measured
    with jaxsr (which agree with ../shared/weights/README.md's independent reference to 1e-4)."""
    data = shared_path("data", "test", "Set5")
    vdsr = shared_path("weights", "VDSR_Official.mat")
    srcnn = shared_path("weights", "SRCNN", "SRCNN_9-5-5_ImageNet_x2.mat")
    from jaxsr.research.paper import reproduce

    weights = {"VDSR": str(vdsr), "SRCNN": str(srcnn).replace("_x2.mat", "_x{scale}.mat")}
    result = reproduce("vdsr_table3", data.parent, weights, scales=[2], datasets=["Set5"], progress=False)
    rows = {r["method"]: r for r in result["rows"]}
    measured = {"Bicubic": (33.6614, 0.9299), "SRCNN": (36.6564, 0.9542), "VDSR": (37.5270, 0.9587)}
    for method, (p, s) in measured.items():
        row = rows[method]
        assert row["images"] == 5
        assert abs(row["psnr_diff"]) < 0.01 and abs(row["ssim_diff"]) < 0.0001, row
        assert row["psnr"] == pytest.approx(p, abs=2e-4) and row["ssim"] == pytest.approx(s, abs=1e-4)
    # Bicubic alone is cheap: the x3 and x4 rows too.
    rows = reproduce("vdsr_table3", data.parent, {}, scales=[3, 4], datasets=["Set5"], progress=False)["rows"]
    assert [r["method"] for r in rows] == ["Bicubic", "Bicubic"]
    for row, (p, s) in zip(rows, [(30.3922, 0.8682), (28.4207, 0.8104)]):
        assert row["psnr"] == pytest.approx(p, abs=2e-4) and row["ssim"] == pytest.approx(s, abs=1e-4)
        assert abs(row["psnr_diff"]) < 0.01 and abs(row["ssim_diff"]) < 0.0001, row
