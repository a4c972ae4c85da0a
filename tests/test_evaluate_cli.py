"""evaluate.py end to end on a tiny generated benchmark folder, and its one-line errors."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.weights.params import init_params, save_params


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
    res = json.loads(out.read_text())["results"]
    cell = res["Tiny"]["2"]
    assert set(cell) == {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "images", "failed", "seconds_per_image",
                         "seconds_per_image_with_compile", "per_image", "protocol"}
    assert cell["protocol"] == "matlab"  # the default
    assert cell["images"] == 4 and cell["failed"] == 0 and len(cell["per_image"]) == 4
    assert 0 < cell["seconds_per_image"] <= cell["seconds_per_image_with_compile"]
    assert cell["psnr"] == pytest.approx(np.mean([im["psnr"] for im in cell["per_image"]]))
    assert cell["psnr"] == pytest.approx(cell["bicubic_psnr"], abs=1e-9)  # the model *is* bicubic
    assert 20 < cell["bicubic_psnr"] < 60 and 0 < cell["bicubic_ssim"] <= 1
    saved = tmp_path / "img" / "Tiny" / "x3"
    sr = np.asarray(Image.open(saved / "a_rgb.png"))
    assert sr.shape == (48, 45, 3)  # mod-cropped to 48×45 at x3
    assert np.asarray(Image.open(saved / "b_gray.png")).shape == (48, 45)
    assert (saved / "a_rgb_compare.png").is_file()


def test_vdsr_weights_and_self_ensemble(bench):
    base = ["--data_dir", str(bench / "data"), "--datasets", "Tiny", "--scales", "2", "--no_progress"]
    # The small VDSR does not fit the default 20-layer model: clear error.
    r = run("--model", "vdsr", "--weights", str(bench / "vdsr_small.msgpack"), *base)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "does not fit VDSR" in r.stderr and "Traceback" not in r.stderr
    r = run("--model", "srcnn", "--weights", str(bench / "srcnn.msgpack"), "--self_ensemble", *base)
    assert r.returncode == 0, r.stderr
    assert "SRCNN+" in r.stdout


def test_shipped_vdsr_needs_no_weights_flag(bench, tmp_path):
    """``evaluate.py --model vdsr`` scores the shipped VDSR (the zoo's vdsr_official) and records its file."""
    from jaxsr.weights import zoo

    out = tmp_path / "res.json"
    r = run("--model", "vdsr", "--data_dir", str(bench / "data"), "--datasets", "Tiny", "--scales", "2",
            "--results_json", str(out), "--no_progress")
    assert r.returncode == 0, r.stderr
    record = json.loads(out.read_text())
    (weights,) = record["meta"]["weights"]
    assert weights["zoo"] == "vdsr_official" and weights["sha256"] == zoo.get("vdsr_official").files[0].sha256
    cell = record["results"]["Tiny"]["2"]
    assert cell["images"] == 4 and 30 < cell["psnr"] < 60  # smooth synthetic images: not VDSR's kind


@pytest.mark.parametrize("args,needle", [
    (["--model", "nope"], "unknown model 'nope'"),
    (["--model", "edsr_baseline"], "needs --weights"),
    (["--model", "bicubic", "--datasets", "Missing"], "no such folder"),
    (["--model", "bicubic", "--scales", "0"], "--scales must be positive integers"),
    (["--model", "bicubic", "--scales", "1"], "--scales must be integers from 2 to 16"),
    (["--model", "bicubic", "--scales", "2,600"], "--scales must be integers from 2 to 16"),
    (["--model", "vdsr", "--weights", "/nonexistent/w.msgpack"], "no such file"),
])
def test_errors_are_one_line(bench, args, needle):
    r = run("--data_dir", str(bench / "data"), "--datasets", "Tiny", *args)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == next(l for l in r.stderr.splitlines() if l.startswith("error: "))
    assert needle in r.stderr


def test_unreadable_image_is_reported_and_the_rest_scored(bench, tmp_path):
    bad = tmp_path / "data" / "Bad"
    bad.mkdir(parents=True)
    (bad / "fake.png").write_text("this is not a png")
    for name in ("a_rgb.png", "b_gray.png"):
        (bad / name).write_bytes((bench / "data" / "Tiny" / name).read_bytes())
    Image.new("L", (10, 12)).save(bad / "small.png")  # too small to score at x2 (SSIM window)
    out = tmp_path / "res.json"
    r = run("--model", "bicubic", "--data_dir", str(tmp_path / "data"), "--datasets", "Bad", "--scales", "2",
            "--results_json", str(out), "--no_progress")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    assert errors[0] == f"error: {bad / 'fake.png'}: not a readable image"
    assert "Bad/small: 10x12 (mod-cropped) is too small to score at x2" in errors[1]
    assert "could not be scored (Bad x2: 2 of 4; listed above)" in errors[-1] and len(errors) == 3
    assert "| Bad (2 of 4 failed) | x2 |" in r.stdout
    cell = json.loads(out.read_text())["results"]["Bad"]["2"]
    assert cell["images"] == 2 and cell["failed"] == 2
    assert [im["name"] for im in cell["per_image"]] == ["a_rgb", "b_gray"]


@pytest.mark.parametrize("flag,make,needle", [
    ("--results_json", lambda t: t / "missing" / "r.json", "--results_json {}: folder {} does not exist"),
    ("--results_json", lambda t: t, "--results_json {}: is a folder"),
    ("--save_images", lambda t: t / "a_file", "--save_images {}: cannot write there"),
    ("--report", lambda t: t / "a_file" / "sub", "--report {}: cannot write there"),
])
def test_outputs_are_checked_before_any_work(bench, tmp_path, flag, make, needle):
    (tmp_path / "a_file").write_text("x")
    target = make(tmp_path)
    r = run("--model", "bicubic", "--data_dir", str(bench / "data"), "--datasets", "Tiny", "--scales", "2",
            flag, str(target), "--no_progress")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stdout == ""  # nothing was evaluated
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {needle.format(target, target.parent)}"), lines


def test_report_labeled_comparisons_and_metadata(bench, tmp_path):
    """--report: index.html with the table and each image's labeled, enlarged crops (relative links);
    --results_json records model, weights file and digest, scales, version and date."""
    import hashlib

    weights = bench / "srcnn.msgpack"
    out, report = tmp_path / "r.json", tmp_path / "report"
    r = run("--model", "srcnn", "--weights", str(weights), "--data_dir", str(bench / "data"), "--datasets", "Tiny",
            "--scales", "2", "--results_json", str(out), "--report", str(report), "--no_progress")
    assert r.returncode == 0, r.stderr
    assert "| SRCNN PSNR / SSIM | s / image (incl. compile) |" in r.stdout
    meta = json.loads(out.read_text())["meta"]
    assert meta["model"] == "srcnn" and meta["scales"] == [2] and meta["jaxsr_version"]
    assert meta["weights"] == [{"path": str(weights), "name": "srcnn.msgpack",
                                "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}]
    assert meta["date"].endswith("+00:00")
    page = (report / "index.html").read_text()
    assert "<table>" in page and "<td>Tiny</td><td>x2</td><td>4</td>" in page
    images = re.findall(r"<figure class='crops'[^>]*><img src='([^']+)'", page)
    assert len(images) == 4 and all(not src.startswith("/") for src in images)
    assert page.count("<input type='range'") == 4  # and a before/after slider per image (tests/test_report.py)
    for src in images:
        crop = np.asarray(Image.open(report / src).convert("L"), np.float64)
        assert crop.shape[1] >= 3 * 256 and crop.shape[0] >= 256  # three panels of at least 256 px
        label = crop[:20, :200]
        assert label.min() < 100 and label.max() > 200  # dark text drawn on the white label strip

