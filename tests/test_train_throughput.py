"""benchmarks/train_throughput.py: the PyTorch step is the same step as jaxsr's (same params in, same
params out after two steps of momentum SGD with weight decay and adjustable clipping)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import train_throughput as tt  # noqa: E402


def test_flop_count():
    assert tt.forward_flop_per_pixel(20, 64) == 1_329_408  # 1.329 MFLOP per output pixel (the issue)


def test_torch_step_equals_jaxsr_step():
    torch = pytest.importorskip("torch")
    cfg = dict(device="cpu", dtype="float32", batch=3, patch=13, depth=3, features=8, mode="train")
    jrun = tt._jaxsr_runner(**cfg)
    trun = tt._torch_runner(**cfg, compile_torch=False)
    params = jrun.state[0].params
    convs = [m for m in trun.body if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        for i, conv in enumerate(convs):
            conv.weight.copy_(torch.from_numpy(np.array(params[f"conv_{i}"]["kernel"]).transpose(3, 2, 0, 1).copy()))
            conv.bias.copy_(torch.from_numpy(np.array(params[f"conv_{i}"]["bias"])))
    for _ in range(2):
        jrun()
        trun()
    params = jrun.state[0].params
    for i, conv in enumerate(convs):
        want = np.asarray(params[f"conv_{i}"]["kernel"]).transpose(3, 2, 0, 1)
        np.testing.assert_allclose(conv.weight.detach().numpy(), want, rtol=0, atol=1e-5)
        np.testing.assert_allclose(conv.bias.detach().numpy(), np.asarray(params[f"conv_{i}"]["bias"]),
                                   rtol=0, atol=1e-5)
