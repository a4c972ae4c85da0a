"""Pluggable metrics: a toy RGB metric registered here reaches the rows, tables, report and JSON with no
other edit; the selection (evaluate.py --metrics, eval.metrics) and its one-line errors."""

import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import REPO, make_tiny_folder, tiny_config
from jaxsr import models
from jaxsr.train.config_check import check_config
from jaxsr.base.errors import JaxsrError
from jaxsr.eval.evaluation import evaluate, evaluate_image, markdown_table
from jaxsr.eval.inference import Upscaler
from jaxsr.eval.metrics import get_metric, register_metric, sr_metrics
from jaxsr.ops.resize import imresize
from jaxsr.eval.protocol import hr_y, matlab_uint8
from jaxsr.eval.report import write_report
from jaxsr.train.run_spec import Validation
from jaxsr.train.training import _evaluate, _val_scalars

register_metric("rgb_mae", lambda sr, hr, scale: float(np.abs(sr - hr).mean()), space="rgb", label="MAE",
                digits=5)
_SEEN = []
register_metric("rgb_shape", lambda sr, hr, scale: _SEEN.append((sr.shape, hr.shape, scale)) or 0.0, "rgb")


def _image(rng, shape):
    return np.round(rng.random(shape) * 255) / 255  # an 8-bit image, as read from a PNG


def _items(rng):
    return [SimpleNamespace(name="colour", image=_image(rng, (26, 24, 3)), note=None),
            SimpleNamespace(name="gray", image=_image(rng, (24, 26)), note=None)]


def test_toy_rgb_metric_reaches_rows_table_report_and_json(rng, tmp_path):
    items = _items(rng)
    factory = lambda s: Upscaler(models.get("bicubic", channels=3), {}, s)  # noqa: E731
    res = evaluate(factory, {"T": items}, [2], progress=False, metrics=("psnr", "ssim", "rgb_mae"),
                   save_images=tmp_path / "img")
    cell = json.loads(json.dumps(res))["T"]["2"]
    assert list(cell)[:6] == ["psnr", "ssim", "rgb_mae", "bicubic_psnr", "bicubic_ssim", "bicubic_rgb_mae"]
    # The RGB model's own output, as MATLAB would store it: uint8 LR in RGB, imresize, uint8.
    hr = items[0].image
    lr8 = matlab_uint8(imresize(hr, 0.5))
    sr = matlab_uint8(factory(2).upscale(lr8))
    colour = cell["per_image"][0]
    assert colour["rgb_mae"] == pytest.approx(np.abs(sr - hr).mean(), abs=1e-12)
    # The model computes in float32: a pixel may round to the next uint8 level.
    assert colour["rgb_mae"] == pytest.approx(np.abs(matlab_uint8(imresize(lr8, 2)) - hr).mean(), abs=1e-4)
    gray = items[1].image[:, :26]
    gray_sr = matlab_uint8(imresize(imresize(gray, 0.5), 2))
    assert cell["per_image"][1]["bicubic_rgb_mae"] == pytest.approx(np.abs(gray_sr - gray).mean(), abs=1e-12)
    assert cell["rgb_mae"] == pytest.approx(np.mean([im["rgb_mae"] for im in cell["per_image"]]))
    # PSNR/SSIM are the numbers of the default evaluation.
    default = evaluate(factory, {"T": items}, [2], progress=False)["T"]["2"]
    assert all(cell[k] == default[k] for k in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim"))
    assert f"{sr_metrics(hr_y(sr, 'matlab'), hr_y(hr, 'matlab'), 2)[0]:.9f}" == \
        f"{colour['psnr']:.9f}"
    table = markdown_table(res, "RGBBIC")
    assert "| Bicubic PSNR / SSIM / MAE | RGBBIC PSNR / SSIM / MAE |" in table
    assert f" / {cell['rgb_mae']:.5f} | " in table
    page = write_report(tmp_path / "img", res, {"label": "RGBBIC"}, tmp_path / "img").read_text()
    assert "PSNR / SSIM / MAE" in page and f"{colour['rgb_mae']:.5f}" in page


def test_y_models_are_scored_in_rgb_with_bicubic_chroma(rng):
    hr = _image(rng, (26, 24, 3))
    up = Upscaler(models.get("bicubic"), {}, 2)  # a Y model: its Y is merged with the bicubic CbCr
    m, sr_y, bic_y, _ = evaluate_image(hr, up, "float", metrics=("rgb_mae", "rgb_shape"))
    assert set(m) == {"rgb_mae", "bicubic_rgb_mae", "rgb_shape", "bicubic_rgb_shape", "seconds",
                      "seconds_with_compile"}
    assert m["rgb_mae"] == pytest.approx(m["bicubic_rgb_mae"], abs=1e-7)  # the model is bicubic (float32)
    assert _SEEN[-1] == ((26, 24, 3), (26, 24, 3), 2)
    # Y and CbCr upsampled by the same linear imresize: the RGB bicubic image, up to the final clip.
    rgb_bicubic = np.clip(imresize(imresize(hr, 0.5), 2), 0, 1)
    assert m["rgb_mae"] == pytest.approx(np.abs(rgb_bicubic - hr).mean(), abs=1e-9)
    _, *_ = evaluate_image(hr[..., 0], up, "matlab", metrics=("rgb_shape",))
    assert _SEEN[-1] == ((26, 24, 3), (26, 24, 3), 2)  # gray: three equal channels


def test_selection_errors_and_registration_rules(rng, tmp_path):
    items = _items(rng)
    factory = lambda s: Upscaler(models.get("bicubic"), {}, s)  # noqa: E731
    with pytest.raises(JaxsrError, match="unknown metric 'lpips'; registered: psnr, ssim"):
        evaluate(factory, {"T": items}, [2], progress=False, metrics=("psnr", "lpips"))
    only_ssim = evaluate(factory, {"T": items}, [2], progress=False, metrics="ssim")["T"]["2"]
    assert "psnr" not in only_ssim and "ssim" in only_ssim and "| Bicubic SSIM |" in markdown_table(
        {"T": {"2": only_ssim}})
    with pytest.raises(ValueError, match="space"):
        register_metric("lpips", lambda *a: 0.0, space="lab")
    with pytest.raises(ValueError, match="bicubic_"):
        register_metric("bicubic_x", lambda *a: 0.0)
    with pytest.raises(JaxsrError):
        get_metric("lpips")
    register_metric("always_nan", lambda sr, hr, scale: float("nan"))
    errors = []
    res = evaluate(factory, {"T": items}, [2], progress=False, metrics=("psnr", "always_nan"), errors=errors)
    assert res["T"]["2"]["failed"] == 2 and res["T"]["2"]["psnr"] is None  # a NaN is never a result
    assert errors[0] == "T/colour: metric 'always_nan' gave NaN for the model output"
    scalars = _val_scalars({"T": {"2": {**only_ssim, "rgb_mae": 0.1, "bicubic_rgb_mae": 0.2}}})
    assert set(scalars) == {"val/T/x2/ssim", "val/T/x2/rgb_mae"}
    # Training validation scores eval.metrics (what _val_scalars then logs).
    validation = Validation(models.get("bicubic"), {"T": items}, {"T": items}, (2,), "float", ("ssim", "rgb_mae"))
    res = _evaluate({}, validation, validation.datasets, {})
    assert set(_val_scalars(res)) == {"val/T/x2/ssim", "val/T/x2/rgb_mae"}


def test_eval_metrics_config_field_is_checked(tmp_path):
    folder = make_tiny_folder(tmp_path / "Tiny")
    assert tiny_config(folder).eval.metrics == "psnr,ssim"
    with pytest.raises(JaxsrError, match="eval.metrics: unknown metric 'nope'"):
        check_config(tiny_config(folder, **{"eval.metrics": "psnr,nope"}))


def test_evaluate_cli_metrics_flag(tmp_path):
    folder = make_tiny_folder(tmp_path / "data" / "Tiny", count=1)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    base = [sys.executable, str(REPO / "evaluate.py"), "--model", "bicubic", "--data_dir", str(folder.parent),
            "--datasets", "Tiny", "--scales", "2", "--no_progress"]
    r = subprocess.run([*base, "--metrics", "psnr,nope"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["error: --metrics: unknown metric 'nope'; registered: psnr, ssim"]
    out = tmp_path / "r.json"
    r = subprocess.run([*base, "--metrics", "ssim", "--results_json", str(out)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| Bicubic SSIM | BICUBIC SSIM |" in r.stdout
    assert re.search(r"^\| Tiny \| x2 \| 0\.\d{4} \| 0\.\d{4} \| \d", r.stdout, re.M), r.stdout
    record = json.loads(out.read_text())
    assert record["meta"]["metrics"] == ["ssim"]
    assert set(record["results"]["Tiny"]["2"]) >= {"ssim", "bicubic_ssim"} and \
        "psnr" not in record["results"]["Tiny"]["2"]


def test_paper_rows_carry_the_selected_metrics(tmp_path, capsys):
    from jaxsr.cli.paper import main
    from jaxsr.research.paper import markdown, reproduce

    make_tiny_folder(tmp_path / "Set5", count=1)
    r = reproduce("vdsr_table3", tmp_path, {}, [2], ["Set5"], progress=False, metrics=["rgb_mae"])
    assert r["metrics"] == ["psnr", "ssim", "rgb_mae"]
    row = r["rows"][0]
    assert {"psnr", "ssim", "rgb_mae", "paper_psnr", "psnr_diff"} <= set(row) and 0 < row["rgb_mae"] < 0.1
    assert "| Bicubic PSNR / SSIM / MAE | paper | Δ |" in markdown(r)
    assert f" / {row['rgb_mae']:.4f} | " in markdown(r)
    assert main(["vdsr_table3", "--data_dir", str(tmp_path), "--metrics", "lpips", "--no_progress"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: --metrics: unknown metric 'lpips'")
