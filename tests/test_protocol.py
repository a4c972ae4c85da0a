"""The evaluation protocols on hand-made arrays: MATLAB's uint8 rounding, saturation, gray vs colour."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.base.errors import JaxsrError
from jaxsr.eval.evaluation import evaluate, evaluate_image
from jaxsr.eval.inference import Upscaler
from jaxsr.eval.metrics import psnr, ssim
from jaxsr.ops.resize import imresize
from jaxsr.eval.protocol import as_stored, hr_y, matlab_uint8, scored


def test_matlab_uint8_rounds_half_away_from_zero_and_saturates():
    x = np.array([0.5, 1.5, 2.5, 2.49, 254.5, 255.4, 300.0, -0.4, -3.0, np.nan]) / 255.0
    got = matlab_uint8(x) * 255.0
    # MATLAB: uint8([0.5 1.5 2.5 2.49 254.5 255.4 300 -0.4 -3 NaN]) = [1 2 3 2 255 255 255 0 0 0]
    np.testing.assert_allclose(got, [1, 2, 3, 2, 255, 255, 255, 0, 0, 0], atol=1e-9)


def test_colour_hr_y_is_matlab_uint8_rgb2ycbcr_gray_is_itself():
    rgb8 = np.array([[[0, 0, 0], [255, 255, 255], [10, 200, 30]],
                     [[1, 2, 3], [90, 60, 250], [128, 128, 128]]], np.float64)
    exact = 16 + (65.481 * rgb8[..., 0] + 128.553 * rgb8[..., 1] + 24.966 * rgb8[..., 2]) / 255
    y = hr_y(rgb8 / 255, "matlab") * 255
    np.testing.assert_allclose(y, np.floor(exact + 0.5), atol=1e-9)  # integers: uint8 rgb2ycbcr
    assert np.abs(hr_y(rgb8 / 255, "float") * 255 - exact).max() < 1e-9  # float: not rounded
    assert np.abs(y - exact).max() > 0.3  # the hand-made pixels do round
    gray = np.array([[0, 17, 255], [100, 3, 200]], np.float64) / 255
    np.testing.assert_allclose(hr_y(gray, "matlab"), gray, atol=1e-12)  # gray value itself, not 16 + 219/255·g
    np.testing.assert_allclose(hr_y(gray, "float"), gray, atol=0)


def test_scored_outputs_and_stored_rgb():
    y = np.array([[-0.2, 0.5 / 255, 100.5 / 255, 1.3]])
    np.testing.assert_allclose(scored(y, "matlab") * 255, [[0, 1, 101, 255]], atol=1e-9)
    np.testing.assert_allclose(scored(y, "float"), [[0, 0.5 / 255, 100.5 / 255, 1.0]], atol=0)
    rgb = np.full((2, 2, 3), 2.5 / 255)
    np.testing.assert_allclose(as_stored(rgb, "matlab") * 255, 3, atol=1e-9)
    assert as_stored(rgb, "float") is not None and np.array_equal(as_stored(rgb, "float"), rgb)
    with pytest.raises(JaxsrError, match="protocol must be one of"):
        scored(y, "uint16")


def _image(rng, shape):
    return np.round(rng.random(shape) * 255) / 255  # an 8-bit image, as read from a PNG


@pytest.mark.parametrize("colour", [True, False])
def test_evaluate_image_scores_uint8_y_and_uint8_outputs(rng, colour):
    hr = _image(rng, (26, 31, 3) if colour else (26, 31))
    up = Upscaler(models.get("bicubic"), {}, 2)
    m, sr_y, bic_y, _ = evaluate_image(hr, up, "matlab")
    # By hand, as the MATLAB scripts: uint8 Y of the mod-cropped HR, LR/ILR in double, uint8(ILR*255).
    hr8 = hr[:26, :30]
    y8 = np.floor(16 + (65.481 * hr8[..., 0] + 128.553 * hr8[..., 1] + 24.966 * hr8[..., 2]) + 0.5) \
        if colour else hr8 * 255
    ilr = imresize(imresize(y8 / 255, 0.5), 2)
    ilr8 = np.clip(np.floor(ilr * 255 + 0.5), 0, 255)
    assert m["bicubic_psnr"] == pytest.approx(psnr(ilr8, y8, 255, shave=2), abs=1e-9)
    assert m["bicubic_ssim"] == pytest.approx(ssim(ilr8, y8, 255, shave=2), abs=1e-6)
    assert m["psnr"] == pytest.approx(m["bicubic_psnr"], abs=1e-9)  # the model is bicubic
    np.testing.assert_allclose(sr_y * 255, ilr8, atol=1e-9)
    f, *_ = evaluate_image(hr, up, "float")
    assert abs(f["bicubic_psnr"] - m["bicubic_psnr"]) > 1e-4  # quantization changes the figure


def test_rgb_models_see_uint8_lr_and_are_scored_on_uint8_rgb(rng):
    hr = _image(rng, (24, 24, 3))
    up = Upscaler(models.get("bicubic", channels=3), {}, 2)
    m, sr_y, *_ = evaluate_image(hr, up, "matlab")
    lr8 = matlab_uint8(imresize(hr, 0.5))
    expect = hr_y(imresize(lr8, 2), "matlab")  # Y of the uint8 RGB output, rounded
    np.testing.assert_allclose(sr_y, expect, atol=1e-9)
    assert m["psnr"] == pytest.approx(psnr(expect * 255, hr_y(hr, "matlab") * 255, 255, shave=2), abs=1e-9)


def test_evaluate_records_the_protocol_and_rejects_unknown(rng):
    images = [type("HR", (), {"name": "a", "image": _image(rng, (24, 24, 3)), "note": None})()]
    factory = lambda s: Upscaler(models.get("bicubic"), {}, s)  # noqa: E731
    res = evaluate(factory, {"T": images}, [2], progress=False, protocol="float")
    assert res["T"]["2"]["protocol"] == "float"
    with pytest.raises(JaxsrError, match="protocol"):
        evaluate(factory, {"T": images}, [2], progress=False, protocol="matlab8")


def test_evaluate_cli_protocol_flag(rng, tmp_path):
    from jaxsr.data.sources import folder_datasets

    folder = tmp_path / "data" / "Tiny"
    folder.mkdir(parents=True)
    Image.fromarray((_image(rng, (30, 36, 3)) * 255).round().astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((_image(rng, (30, 33)) * 255).round().astype(np.uint8)).save(folder / "b.png")
    path = tmp_path / "float.json"
    r = subprocess.run([sys.executable, str(REPO / "evaluate.py"), "--model=bicubic", "--protocol=float",
                        f"--data_dir={tmp_path / 'data'}", "--datasets=Tiny", "--scales=2", "--no_progress",
                        f"--results_json={path}"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert r.returncode == 0, r.stderr
    cli = json.loads(path.read_text())["results"]["Tiny"]["2"]
    factory = lambda s: Upscaler(models.get("bicubic"), {}, s)  # noqa: E731
    api = {p: evaluate(factory, folder_datasets(tmp_path / "data", ["Tiny"]), [2], progress=False,
                       protocol=p)["Tiny"]["2"] for p in ("float", "matlab")}
    assert cli["protocol"] == "float"
    assert cli["psnr"] == pytest.approx(api["float"]["psnr"], abs=1e-9)
    assert cli["psnr"] != pytest.approx(api["matlab"]["psnr"], abs=1e-4)
