"""evaluate.py end to end on a tiny generated benchmark folder, and its one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.weights import init_params, save_params


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """DATA/Tiny with RGB, grayscale, palette and RGBA images of odd sizes; a small VDSR's weights."""
    root = tmp_path_factory.mktemp("bench")
    folder = root / "data" / "Tiny"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:50, 0:45]
    smooth = (0.5 + 0.4 * np.sin(xx / 5.0) * np.cos(yy / 7.0))
    rgb = np.stack([smooth, smooth[::-1], smooth[:, ::-1]], -1)
    Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / "a_rgb.png")
    Image.fromarray((smooth * 255).astype(np.uint8)).save(folder / "b_gray.png")
    Image.fromarray((rgb * 255).astype(np.uint8)).convert("P").save(folder / "c_palette.png")
    rgba = np.concatenate([rgb, rng.random((50, 45, 1))], -1)
    Image.fromarray((rgba * 255).astype(np.uint8), "RGBA").save(folder / "d_rgba.png")
    model = models.VDSR(depth=3, features=8)
    save_params(root / "vdsr_small.msgpack", init_params(model))
    save_params(root / "srcnn.msgpack", init_params(models.get("srcnn")))
    return root


def run(*args, cwd=None):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, str(REPO / "evaluate.py"), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_bicubic_table_json_and_images(bench, tmp_path):
    out = tmp_path / "res.json"
    r = run("--model", "bicubic", "--data_dir", str(bench / "data"), "--datasets", "Tiny", "--scales", "2,3",
            "--results_json", str(out), "--save_images", str(tmp_path / "img"))
    assert r.returncode == 0, r.stderr
    assert "| Tiny | x2 |" in r.stdout and "| Tiny | x3 |" in r.stdout
    assert "palette image converted to RGB" in r.stderr and "alpha channel dropped" in r.stderr
    res = json.loads(out.read_text())
    cell = res["Tiny"]["2"]
    assert set(cell) == {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "images", "seconds_per_image", "protocol"}
    assert cell["protocol"] == "matlab"  # the default
    assert cell["images"] == 4
    assert cell["psnr"] == pytest.approx(cell["bicubic_psnr"], abs=1e-9)  # the model *is* bicubic
    assert 20 < cell["bicubic_psnr"] < 60 and 0 < cell["bicubic_ssim"] <= 1
    saved = tmp_path / "img" / "Tiny" / "x3"
    sr = np.asarray(Image.open(saved / "a_rgb.png"))
    assert sr.shape == (48, 45, 3)  # mod-cropped to 48×45 at x3
    assert np.asarray(Image.open(saved / "b_gray.png")).shape == (48, 45)
    assert (saved / "a_rgb_compare.png").is_file()


def test_vdsr_weights_and_self_ensemble(bench):
    base = ["--data_dir", str(bench / "data"), "--datasets", "Tiny", "--scales", "2", "--progress=false"]
    # The small VDSR does not fit the default 20-layer model: clear error.
    r = run("--model", "vdsr", "--weights", str(bench / "vdsr_small.msgpack"), *base)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "does not fit VDSR" in r.stderr and "Traceback" not in r.stderr
    r = run("--model", "srcnn", "--weights", str(bench / "srcnn.msgpack"), "--self_ensemble", *base)
    assert r.returncode == 0, r.stderr
    assert "SRCNN+" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["--model", "nope"], "unknown model 'nope'"),
    (["--model", "vdsr"], "needs --weights"),
    (["--model", "bicubic", "--datasets", "Missing"], "no such folder"),
    (["--model", "bicubic", "--scales", "0"], "--scales must be positive integers"),
    (["--model", "vdsr", "--weights", "/nonexistent/w.msgpack"], "no such file"),
])
def test_errors_are_one_line(bench, args, needle):
    r = run("--data_dir", str(bench / "data"), "--datasets", "Tiny", *args)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == next(l for l in r.stderr.splitlines() if l.startswith("error: "))
    assert needle in r.stderr


def test_unreadable_image_is_an_error(bench, tmp_path):
    bad = tmp_path / "data" / "Bad"
    bad.mkdir(parents=True)
    (bad / "fake.png").write_text("this is not a png")
    r = run("--model", "bicubic", "--data_dir", str(tmp_path / "data"), "--datasets", "Bad")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "fake.png: not a readable image" in r.stderr
