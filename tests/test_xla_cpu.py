"""jaxsr's XLA:CPU setting (jaxsr/xla_cpu.py): when it applies, and that convolutions compiled with it
(Eigen) give the same outputs and gradients as with jaxlib's default (YNNPACK) and as float64 math."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxsr import xla_cpu

YNN = "xla_cpu_experimental_ynn_fusion_type"
# jaxlib 0.10's default fusion types, and the same less convolutions (= jaxsr's flag), as compile options.
DEFAULT = {YNN: "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,"
                "LIBRARY_FUSION_TYPE_REDUCE"}
JAXSR = {YNN: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"}
known = xla_cpu._series(metadata.version("jaxlib")) in xla_cpu.KNOWN_JAXLIB


def test_decide():
    flag = xla_cpu.FLAG
    assert xla_cpu.decide({}, "0.10.2", False) == (flag, "applied")
    assert xla_cpu.decide({"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}, "0.10.0", False)[0] \
        == f"--xla_force_host_platform_device_count=4 {flag}"
    for env, version, started in [({xla_cpu.OPT_OUT: "0"}, "0.10.2", False),
                                  ({"XLA_FLAGS": f"--{YNN}="}, "0.10.2", False),
                                  ({}, "0.9.0", False), ({}, "0.11.0", False), ({}, None, False),
                                  ({}, "0.10.2", True)]:
        flags, reason = xla_cpu.decide(env, version, started)
        assert flags is None and reason != "applied", (env, version, started)


def _conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _reference(x, w, g):
    """float64 numpy: y = conv(x, w) SAME, and the gradients of Σ y·g w.r.t. x and w."""
    x, w, g = (np.asarray(a, np.float64) for a in (x, w, g))
    kh, kw = w.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    h, wd = x.shape[1:3]
    y, dw, dxp = 0, np.zeros_like(w), np.zeros_like(xp)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, i:i + h, j:j + wd]
            y = y + win @ w[i, j]
            dw[i, j] = np.einsum("bhwc,bhwo->co", win, g)
            dxp[:, i:i + h, j:j + wd] += g @ w[i, j].T
    return y, dxp[:, kh // 2:kh // 2 + h, kw // 2:kw // 2 + wd], dw


@pytest.mark.skipif(jax.default_backend() != "cpu" or not known, reason="jaxlib 0.10's XLA:CPU compiler options")
@pytest.mark.parametrize("cin,cout", [(24, 32), (1, 24), (32, 1)])
def test_conv_matches_default_and_float64(rng, cin, cout):
    x = rng.standard_normal((3, 13, 11, cin)).astype(np.float32)
    w = (0.2 * rng.standard_normal((3, 3, cin, cout))).astype(np.float32)
    g = rng.standard_normal((3, 13, 11, cout)).astype(np.float32)

    def fwd_bwd(x, w, g):
        y, vjp = jax.vjp(_conv, x, w)
        return (y, *vjp(g))

    low = jax.jit(fwd_bwd).lower(x, w, g)
    ours = [np.asarray(a) for a in low.compile(JAXSR)(x, w, g)]
    theirs = [np.asarray(a) for a in low.compile(DEFAULT)(x, w, g)]
    for a, b, ref in zip(ours, theirs, _reference(x, w, g)):
        scale = np.abs(ref).max()
        assert np.abs(a - ref).max() <= 1e-5 * scale
        assert np.abs(a - b).max() <= 1e-5 * scale


@pytest.mark.skipif(not known, reason="jaxlib outside jaxsr.xla_cpu.KNOWN_JAXLIB")
def test_import_jaxsr_sends_cpu_convolutions_to_eigen():
    """A fresh process: ``import jaxsr`` first adds the flag, and no compiled convolution (forward, input
    and weight gradients) is a YNNPACK fusion; with the opt-out they are."""
    code = """
import os, re, jaxsr, jax, jax.numpy as jnp
from jax import lax
conv = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
step = jax.jit(jax.grad(lambda w, x: (conv(x, w) ** 2).sum(), argnums=(0, 1)))
hlo = step.lower(jnp.ones((3, 3, 32, 32)), jnp.ones((2, 9, 9, 32))).compile().as_text()
bodies = {m.group(1): m.group(2) for m in re.finditer(r"^%(\\S+) .*?\\{\\n(.*?)^\\}", hlo, re.S | re.M)}
calls = re.findall(r"calls=%([\\w.]+), .*__ynn_fusion", hlo)
print(jaxsr.XLA_CPU_SETTING, "|", os.environ.get("XLA_FLAGS", ""), "|",
      sum("convolution(" in bodies.get(c, "") for c in calls))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", xla_cpu.OPT_OUT)}
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**env, xla_cpu.OPT_OUT: "0"})
    assert on.returncode == 0 and off.returncode == 0, on.stderr[-2000:] + off.stderr[-2000:]
    setting, flags, fusions = on.stdout.strip().split(" | ")
    assert setting == "applied" and xla_cpu.FLAG in flags and int(fusions) == 0
    setting, flags, fusions = off.stdout.strip().split(" | ")
    assert setting.startswith(xla_cpu.OPT_OUT) and xla_cpu.FLAG not in flags and int(fusions) > 0
