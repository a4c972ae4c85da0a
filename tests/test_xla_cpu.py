"""jaxsr's XLA:CPU settings (jaxsr/base/xla_cpu.py): when they apply, and that convolutions compiled with them
(Eigen; oneDNN on jaxlib 0.12) give the same outputs and gradients as with jaxlib's default (YNNPACK) and
as float64 math."""

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

from jaxsr.base import xla_cpu

YNN = "xla_cpu_experimental_ynn_fusion_type"
# jaxlib 0.10's default fusion types, and the same less convolutions (= jaxsr's flag), as compile options.
DEFAULT = {YNN: "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,"
                "LIBRARY_FUSION_TYPE_REDUCE"}
JAXSR = {YNN: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"}
SERIES = xla_cpu._series(metadata.version("jaxlib"))
known = SERIES in xla_cpu.KNOWN_JAXLIB
onednn = bool(xla_cpu.JIT_OPTIONS.get(SERIES))


def test_decide():
    flag = xla_cpu.FLAG
    assert xla_cpu.decide({}, "0.10.2", False) == (flag, "applied")
    # jaxlib 0.10: exactly this string (a training campaign records XLA_FLAGS and refuses another)
    assert flag == "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
    assert xla_cpu.decide({}, "0.12.0.1", False) == (flag, "applied")
    assert xla_cpu.decide({"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}, "0.10.0", False)[0] \
        == f"--xla_force_host_platform_device_count=4 {flag}"
    for env, version, started in [({xla_cpu.OPT_OUT: "0"}, "0.10.2", False),
                                  ({"XLA_FLAGS": f"--{YNN}="}, "0.10.2", False),
                                  ({}, "0.9.0", False), ({}, "0.11.0", False), ({}, None, False),
                                  ({}, "0.10.2", True)]:
        flags, reason = xla_cpu.decide(env, version, started)
        assert flags is None and reason != "applied", (env, version, started)


def test_jit_options_per_series_purpose_and_dtype():
    opts = xla_cpu.jit_options_for
    for purpose, dtype in [("inference", "float32"), ("inference", "bfloat16"), ("train", "bfloat16")]:
        assert opts({}, "0.12.0.1", purpose, dtype) == xla_cpu.ONEDNN
        assert opts({}, "0.10.2", purpose, dtype) == {}  # jaxlib 0.10 has no oneDNN convolutions: nothing new
    assert opts({}, "0.12.0.1", "train", "float32") == {}  # f32 training: Eigen (oneDNN measured slower)
    assert opts({xla_cpu.OPT_OUT: "0"}, "0.12.0.1", "inference", "bfloat16") == {}
    assert opts({"XLA_FLAGS": "--xla_cpu_use_onednn=false"}, "0.12.0.1", "inference", "bfloat16") == {}
    assert opts({}, "0.13.0", "inference", "bfloat16") == {} and opts({}, None, "inference", "bfloat16") == {}
    said = xla_cpu.describe("applied", {}, "0.12.0.1")
    assert said.startswith("applied: jaxlib 0.12.0.1: XLA_FLAGS += " + xla_cpu.FLAG) and "xla_cpu_use_onednn" in said
    assert xla_cpu.describe("applied", {}, "0.10.2") == f"applied: jaxlib 0.10.2: XLA_FLAGS += {xla_cpu.FLAG} " \
        "(Eigen convolutions)"
    assert xla_cpu.describe(f"{xla_cpu.OPT_OUT}=0", {xla_cpu.OPT_OUT: "0"}, "0.12.0.1") == f"{xla_cpu.OPT_OUT}=0"


def test_cpu_has_amx(tmp_path):
    (tmp_path / "amx").write_text("processor : 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n")
    (tmp_path / "none").write_text("processor : 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert xla_cpu.cpu_has_amx(str(tmp_path / "amx")) and not xla_cpu.cpu_has_amx(str(tmp_path / "none"))
    assert not xla_cpu.cpu_has_amx(str(tmp_path / "missing"))


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
    ref = _reference(x, w, g)
    for a, b, r in zip(ours, theirs, ref):
        scale = np.abs(r).max()
        assert np.abs(a - r).max() <= 1e-5 * scale
        assert np.abs(a - b).max() <= 1e-5 * scale
    if onednn:  # jaxlib 0.12: oneDNN convolutions (inference's jit options) agree as well
        for a, r in zip(low.compile({**JAXSR, **xla_cpu.ONEDNN})(x, w, g), ref):
            assert np.abs(np.asarray(a) - r).max() <= 1e-5 * np.abs(r).max()


@pytest.mark.skipif(not known, reason="jaxlib outside jaxsr.base.xla_cpu.KNOWN_JAXLIB")
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
    assert setting.startswith("applied") and xla_cpu.FLAG in flags and int(fusions) == 0
    setting, flags, fusions = off.stdout.strip().split(" | ")
    assert setting.startswith(xla_cpu.OPT_OUT) and xla_cpu.FLAG not in flags and int(fusions) > 0


@pytest.mark.skipif(jax.default_backend() != "cpu" or not onednn, reason="jaxlib 0.12's oneDNN convolutions")
def test_onednn_convolutions_where_chosen():
    """jaxlib 0.12: the Upscaler's float32 and bfloat16 convolutions are oneDNN calls, bfloat16 agrees with
    float32 to bfloat16 rounding; the float32 train step keeps Eigen (no oneDNN call)."""
    from jaxsr import models
    from jaxsr.eval.inference import Upscaler
    from jaxsr.weights.params import init_params

    model = models.VDSR(depth=4, features=8)
    params = init_params(model, 0)
    x = np.random.default_rng(0).random((1, 24, 24, 1)).astype(np.float32)
    outs = {}
    for precision in ("float32", "bfloat16"):
        up = Upscaler(model, params, 2, precision=precision)
        hlo = up._executable(jnp.asarray(x)).as_text()
        assert hlo.count("__onednn$convolution") == 4, precision
        outs[precision] = up.predict(x)
    assert 0 < np.abs(outs["bfloat16"] - outs["float32"]).max() < 0.02
    step = jax.jit(jax.grad(lambda w, x: (_conv(x, w) ** 2).sum()),
                   compiler_options=xla_cpu.compiler_options("train", "float32"))
    assert "__onednn" not in step.lower(jnp.ones((3, 3, 8, 8)), jnp.ones((2, 9, 9, 8))).compile().as_text()
