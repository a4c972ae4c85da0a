"""The prepared GPU run: its CPU smoke mode end to end, the payload's uint8 Y, the epoch count."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.weights.params import load_weights


def _module(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_payload_y_is_matlab_uint8_rgb2ycbcr(tmp_path):
    # MATLAB rgb2ycbcr on uint8: Y = round(16 + (65.481 R + 128.553 G + 24.966 B) / 255).
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(np.array([[0, 77, 255]], np.uint8), mode="L").save(tmp_path / "g.png")
    payload = _module("gpu_payload")
    want = np.round(16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255)
    assert payload.y_uint8(tmp_path / "c.png").tolist() == want.astype(np.uint8).tolist()
    assert payload.y_uint8(tmp_path / "c.png")[0, :3].tolist() == [235, 16, 81]
    assert payload.y_uint8(tmp_path / "g.png").tolist() == [[0, 77, 255]]  # gray stays the gray value


def test_smoke_run_writes_every_part(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "benchmarks/gpu_run.py", "--smoke", "--out", str(out), "--parts", "a,b,c"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    throughput = json.loads((out / "throughput.json").read_text())
    assert throughput["matmul_bf16_tflops"] > 0
    assert throughput["inference_x2"]["images"] and throughput["inference_x2"]["mean_forward_s"] > 0
    jaxsr_rows = [row for row in throughput["train_step"] if row["framework"] == "jaxsr"]
    assert {row["dtype"] for row in jaxsr_rows} == {"float32", "bfloat16"}
    assert all(np.isfinite(row["step_ms"]) and row["step_ms"] > 0 for row in jaxsr_rows)
    plan = json.loads((out / "vdsr_run.json").read_text())
    assert plan["train_rc"] == 0 and plan["total_steps"] == 12 and plan["decay_every_steps"] == 3
    assert plan["recipe"].startswith("scaled") and 0 < plan["fraction_of_paper"] < 1
    assert set(plan["measured_step_ms"]) == {"float32", "bfloat16"}  # the plan used part a's step times
    val = plan["final_validation"]
    assert val["step"] == 12 and all(np.isfinite(v) for v in val.values())
    params = load_weights(out / "vdsr.msgpack", models.get("vdsr", depth=3, features=8))
    assert params["conv_0"]["kernel"].shape == (3, 3, 1, 8)
    summary = (out / "summary.md").read_text()
    assert "VDSR:" in summary and "jaxsr" in summary
    assert (out / "log.txt").stat().st_size > 0
    import tarfile

    with tarfile.open(out / "experiments.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"residual.md", "residual.json", "residual.png", "scales.md", "depth.md"} <= names, names
