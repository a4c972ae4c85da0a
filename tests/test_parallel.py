"""Data parallelism: 4 fake CPU devices and 2 processes train like 1 device; bf16; fast failures."""

import os
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import json
import numpy as np
import pytest

from conftest import REPO, make_tiny_folder, tiny_flags
from jaxsr import models
from jaxsr.weights.checkpoint import restore_params
from jaxsr.train.losses import loss_fn
from jaxsr.weights.params import init_params

STEPS = ["--config.total_steps=6", "--config.batch_size=8", "--config.log_every_steps=3",
         "--config.checkpoint_every_steps=6"]


def env(devices: int, **extra):
    e = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
         "PYTHONUNBUFFERED": "1", **extra}
    for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        if k not in extra:
            e.pop(k, None)
    return e


def train(folder, workdir, devices=1, extra=(), **env_extra):
    return subprocess.Popen([sys.executable, "train.py", *tiny_flags(folder), *STEPS, *extra, f"--workdir={workdir}"],
                            cwd=REPO, env=env(devices, **env_extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def params(workdir):
    return jax.device_get(restore_params(workdir, models.VDSR(depth=3, features=8)))


def psnr_rows(stdout):
    return {l.split("|")[2].strip(): float(l.split("|")[4].split("/")[0]) for l in stdout.splitlines()
            if l.startswith("| Tiny")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 6 steps on 1 device, 4 devices, and 2 processes × 2 devices."""
    root = tmp_path_factory.mktemp("parallel")
    folder = make_tiny_folder(root / "data" / "Tiny")
    out = {"one": finish(train(folder, root / "one", 1)), "four": finish(train(folder, root / "four", 4))}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [train(folder, root / "two", 2, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                   JAX_PROCESS_ID=str(i), JAXSR_INIT_TIMEOUT="60") for i in range(2)]
    out["two"] = finish(procs[0])
    finish(procs[1])
    return root, out


@pytest.mark.parametrize("other", ["four", "two"])
def test_multi_device_training_equals_one_device(runs, other):
    root, out = runs
    one, many = params(root / "one"), params(root / other)
    for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(many)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6 * np.abs(a).max())
    p1, pn = psnr_rows(out["one"]), psnr_rows(out[other])
    assert set(p1) == {"x2", "x3"} and all(abs(p1[k] - pn[k]) < 0.001 for k in p1)


def test_only_process_zero_logs(runs):
    root, out = runs
    assert "| Tiny | x2 |" in out["two"]
    steps = [json.loads(l)["step"] for l in (root / "two" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 3, 6, 6]  # the train logs and the final validation, written once


def test_bf16_loss_close_to_f32():
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 24, 24, 1))
    y = jnp.clip(x + 0.05 * jax.random.normal(jax.random.PRNGKey(1), x.shape), 0, 1)
    f32 = models.VDSR(depth=5, features=16)
    bf16 = models.VDSR(depth=5, features=16, dtype=jnp.bfloat16)
    p = init_params(f32, seed=2)
    out16 = bf16.apply({"params": p}, x)
    assert out16.dtype == jnp.float32 and jax.tree_util.tree_leaves(p)[0].dtype == jnp.float32
    l32, l16 = loss_fn("l2", f32.apply({"params": p}, x), y), loss_fn("l2", out16, y)
    assert float(l16) == pytest.approx(float(l32), rel=0.02)
    g32 = jax.grad(lambda q: loss_fn("l2", f32.apply({"params": q}, x), y))(p)
    g16 = jax.grad(lambda q: loss_fn("l2", bf16.apply({"params": q}, x), y))(p)
    assert g16["conv_0"]["kernel"].dtype == jnp.float32
    cos = sum(float(jnp.vdot(a, b)) for a, b in zip(jax.tree_util.tree_leaves(g32), jax.tree_util.tree_leaves(g16)))
    cos /= float(jnp.sqrt(sum(jnp.vdot(a, a) for a in jax.tree_util.tree_leaves(g32)) *
                          sum(jnp.vdot(b, b) for b in jax.tree_util.tree_leaves(g16))))
    assert cos > 0.97  # bf16 has an 8-bit mantissa: gradients agree in direction, not to the digit


def test_batch_not_divisible_and_unreachable_coordinator_fail_fast(tmp_path):
    folder = make_tiny_folder(tmp_path / "data" / "Tiny")
    proc = train(folder, tmp_path / "w", 4, extra=["--config.batch_size=6"])
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == ("error: batch_size 6 is not divisible by the 4 devices "
                                            "(1 processes × 4 local); use a multiple of 4")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    start = time.monotonic()
    proc = train(folder, tmp_path / "w2", 2, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                 JAX_PROCESS_ID="1", JAXSR_INIT_TIMEOUT="3")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and time.monotonic() - start < 60
    assert err.strip().splitlines()[-1].startswith(f"error: cannot reach the coordinator at 127.0.0.1:{port}")
