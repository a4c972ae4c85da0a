"""VDSR training-step throughput: jaxsr against the same step in PyTorch, side by side in one process.

  python benchmarks/train_throughput.py --device cpu --batch 16,64 --patch 41 --dtypes float32 \
      --frameworks jaxsr,torch --steps 20 --warmup 3 --json out.json

The step is the paper's: VDSR (``--depth`` 3×3 conv layers of ``--features`` channels, Y channel, residual),
loss ½‖r − f(x)‖² summed per patch and averaged over the batch, weight decay 1e-4 on kernels → adjustable
gradient clipping (θ = 1e-3, bound θ/γ) → SGD momentum 0.9 → lr 0.1.

* jaxsr: THE library step, ``jaxsr.train.train_step.make_train_step`` with ``jaxsr.train.optim.make_optimizer`` on the
  ``configs/vdsr.py`` optimiser, jitted with the state donated as ``jaxsr.train.feeding.make_runner`` does;
  bfloat16 sets the model's compute dtype (params stay float32), as ``config.compute_dtype`` does.
* PyTorch: the same network (channels_last), loss and update order (decay, clamp, momentum SGD without
  its own decay); ``torch.compile`` of the model unless ``--no-torch-compile``; bfloat16 = AMP autocast.

Frameworks are timed in alternating rounds (``--rounds``) after their warm-up, so machine drift hits both;
quote the ratios. ``step_ms`` is the median over rounds of the mean step time, each round queuing its steps back
to back as a training loop does and waiting once at the end.
``--mode forward`` times the model's forward pass alone (inference, no gradient) for the breakdown.
``measure(...)`` returns one row for other scripts (benchmarks/gpu_run.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jaxsr  # noqa: E402  (first: jaxsr's CPU compiler settings apply before JAX starts)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

LR, MOMENTUM, WEIGHT_DECAY, CLIP_THETA = 0.1, 0.9, 1e-4, 1e-3
# "jaxsr-ynn": the same jaxsr step compiled with jaxlib 0.10's own CPU default (YNNPACK convolutions), i.e.
# without jaxsr's XLA:CPU setting (jaxsr/base/xla_cpu.py); its compiled HLO equals a run with
# JAXSR_XLA_CPU_DEFAULTS=0. CPU and jaxlib 0.10 only.
YNN_DEFAULT = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,"
               "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"}


def forward_flop_per_pixel(depth: int = 20, features: int = 64, channels: int = 1) -> int:
    """2·9·Σ Cin·Cout over the layers: 1,329,408 for VDSR 20×64 on Y."""
    widths = [channels] + [features] * (depth - 1) + [channels]
    return 2 * 9 * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def _data(batch: int, patch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, patch, patch, 1), dtype=np.float32)
    return x, np.clip(x + 0.05 * rng.standard_normal(x.shape).astype(np.float32), 0, 1)


def _jaxsr_runner(device: str, dtype: str, batch: int, patch: int, depth: int, features: int, mode: str,
                  compiler_options=None):
    from jaxsr.train.config import get_config
    from jaxsr.models import VDSR
    from jaxsr.train.optim import make_optimizer
    from jaxsr.train.train_step import TrainState, make_train_step
    from jaxsr.weights.params import init_params

    dev = jax.devices(device)[0]
    if compiler_options is None:  # the library's own jit options (jaxsr/base/xla_cpu.py), as feeding/inference use
        compiler_options = jaxsr.base.xla_cpu.compiler_options("train" if mode == "train" else "inference", dtype,
                                                          dev.platform)
    model = VDSR(depth=depth, features=features, dtype=jnp.dtype(dtype))
    optim = get_config("vdsr").optim
    optim.learning_rate, optim.momentum, optim.weight_decay, optim.clip_theta = LR, MOMENTUM, WEIGHT_DECAY, CLIP_THETA
    optim.decay_every_steps = 10**9  # no decay within the benchmark
    tx, schedule = make_optimizer(optim)
    x, y = (jax.device_put(a, dev) for a in _data(batch, patch))
    params = jax.device_put(init_params(model, 0), dev)
    if mode == "forward":
        fn = jax.jit(lambda p, x: model.apply({"params": p}, x), compiler_options=compiler_options)
        out = [None]

        def fwd():
            out[0] = fn(params, x)
        fwd.sync = lambda: out[0].block_until_ready()
        return fwd
    state = jax.device_put(TrainState(step=jnp.int32(0), params=params, opt_state=tx.init(params),
                                      rng=jax.random.key_data(jax.random.PRNGKey(1))), dev)
    step = jax.jit(make_train_step(model, tx, schedule, "l2", CLIP_THETA), donate_argnums=0,
                   compiler_options=compiler_options)
    batch_ = {"input": x, "target": y}
    holder = [state]

    def run():
        holder[0], metrics = step(holder[0], batch_)
    run.sync = lambda: holder[0].step.block_until_ready()
    run.state = holder  # for tests: [TrainState]
    return run


def _torch_runner(device: str, dtype: str, batch: int, patch: int, depth: int, features: int, mode: str,
                  compile_torch: bool):
    import torch
    from torch import nn

    dev = torch.device("cuda" if device == "gpu" else "cpu")
    layers = []
    for i in range(depth):
        conv = nn.Conv2d(1 if i == 0 else features, 1 if i == depth - 1 else features, 3, padding=1)
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)
        layers += [conv] + ([nn.ReLU(inplace=True)] if i < depth - 1 else [])
    body = nn.Sequential(*layers).to(dev, memory_format=torch.channels_last)

    def net(x):
        return x + body(x).float()
    model = torch.compile(net) if compile_torch else net
    x, y = (torch.from_numpy(a).permute(0, 3, 1, 2).to(dev).contiguous(memory_format=torch.channels_last)
            for a in _data(batch, patch))
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if mode == "forward":
        def fwd():
            with torch.no_grad(), amp:
                model(x)
        fwd.sync = sync
        return fwd
    weights = [m.weight for m in body if isinstance(m, nn.Conv2d)]
    params = [p for m in body if isinstance(m, nn.Conv2d) for p in (m.weight, m.bias)]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=0.0)
    bound = CLIP_THETA / LR

    def run():
        with amp:
            out = model(x)
        loss = 0.5 * ((out.float() - y) ** 2).sum(dim=(1, 2, 3)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            torch._foreach_add_([w.grad for w in weights], weights, alpha=WEIGHT_DECAY)
            grads = [p.grad for p in params]
            torch._foreach_clamp_min_(grads, -bound)
            torch._foreach_clamp_max_(grads, bound)
        opt.step()
    run.sync = sync
    run.body = body  # for tests: the nn.Sequential
    return run


def _runner(framework, device, dtype, batch, patch, depth, features, mode, compile_torch):
    if framework == "jaxsr":
        return _jaxsr_runner(device, dtype, batch, patch, depth, features, mode)
    if framework == "jaxsr-ynn" and device == "cpu":
        return _jaxsr_runner(device, dtype, batch, patch, depth, features, mode, YNN_DEFAULT)
    if framework == "torch":
        return _torch_runner(device, dtype, batch, patch, depth, features, mode, compile_torch)
    raise ValueError(f"framework must be 'jaxsr', 'torch' or (CPU) 'jaxsr-ynn', got {framework!r}")


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _prepare(framework, device, dtype, batch, patch, depth, features, mode, compile_torch, warmup):
    run = _runner(framework, device, dtype, batch, patch, depth, features, mode, compile_torch)
    start = time.perf_counter()
    run()  # compilation (jit / torch.compile) and the first step
    run.sync()
    compile_s = time.perf_counter() - start
    for _ in range(max(0, warmup - 1)):
        run()
    run.sync()
    return run, compile_s


def _timed(run, steps: int) -> list[float]:
    """``steps`` steps queued back to back (as a training loop does), one wait at the end; the mean step
    time, once per step."""
    start = time.perf_counter()
    for _ in range(steps):
        run()
    run.sync()
    return [(time.perf_counter() - start) / steps] * steps


def _row(framework, device, dtype, batch, patch, depth, features, mode, times, compile_s):
    step_s = statistics.median(times)
    fwd = forward_flop_per_pixel(depth, features) * batch * patch * patch
    flop = fwd * (3 if mode == "train" else 1)
    return {"framework": framework, "device": device, "dtype": dtype, "batch": batch, "patch": patch,
            "mode": mode, "depth": depth, "features": features, "steps": len(times),
            "step_ms": step_s * 1e3, "steps_per_s": 1 / step_s, "patches_per_s": batch / step_s,
            "mflop_per_step": flop / 1e6, "tflops": flop / step_s / 1e12, "compile_s": compile_s,
            "step_ms_min": min(times) * 1e3, "step_ms_max": max(times) * 1e3}


def measure(framework: str, device: str, dtype: str, batch: int, patch: int, steps: int, warmup: int,
            depth: int = 20, features: int = 64, compile_torch: bool = True, mode: str = "train") -> dict:
    """One row: median step time of ``steps`` timed steps after ``warmup`` (≥ 1, the first compiles).

    framework: "jaxsr" | "torch" | "jaxsr-ynn" (CPU: jaxsr without its XLA:CPU setting);
    device: "cpu" | "gpu"; dtype: "float32" | "bfloat16"; mode: "train" | "forward".
    """
    run, compile_s = _prepare(framework, device, dtype, batch, patch, depth, features, mode, compile_torch,
                              warmup)
    times = []
    for _ in range(5):
        times += _timed(run, max(1, -(-steps // 5)))
    return _row(framework, device, dtype, batch, patch, depth, features, mode, times, compile_s)


def measure_side_by_side(frameworks, device, dtype, batch, patch, steps, warmup, rounds=5, depth=20,
                         features=64, compile_torch=True, mode="train") -> list[dict]:
    """Rows for ``frameworks`` timed in ``rounds`` alternating rounds of ``steps / rounds`` steps."""
    runs = {fw: _prepare(fw, device, dtype, batch, patch, depth, features, mode, compile_torch, warmup)
            for fw in frameworks}
    times = {fw: [] for fw in frameworks}
    per_round = max(1, -(-steps // rounds))
    for _ in range(rounds):
        for fw, (run, _) in runs.items():
            times[fw] += _timed(run, per_round)
    return [_row(fw, device, dtype, batch, patch, depth, features, mode, times[fw], runs[fw][1])
            for fw in frameworks]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--batch", default="16,64", help="comma-separated batch sizes")
    ap.add_argument("--patch", type=int, default=41)
    ap.add_argument("--dtypes", default="float32", help="float32,bfloat16")
    ap.add_argument("--frameworks", default="jaxsr,torch", help="jaxsr,torch[,jaxsr-ynn (CPU)]")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per framework and configuration")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (the first compiles)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds the timed steps are split into")
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--mode", choices=("train", "forward"), default="train")
    ap.add_argument("--no-torch-compile", dest="compile_torch", action="store_false")
    ap.add_argument("--json", default=None, help="write the rows here")
    args = ap.parse_args(argv)
    frameworks = [f for f in args.frameworks.split(",") if f]
    if "torch" in frameworks and not torch_available():
        print("note: torch is not installed; PyTorch rows skipped", file=sys.stderr)
        frameworks.remove("torch")
    rows = []
    for dtype in args.dtypes.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            rows += measure_side_by_side(frameworks, args.device, dtype, batch, args.patch, args.steps,
                                         args.warmup, args.rounds, args.depth, args.features,
                                         args.compile_torch, args.mode)
            if args.json:  # after every configuration: a run cut short keeps what it measured
                Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
            base = {r["framework"]: r["step_ms"] for r in rows[-len(frameworks):]}
            for r in rows[-len(frameworks):]:
                ratio = f"{r['step_ms'] / base['torch']:.2f}" if "torch" in base else "-"
                print(f"{r['framework']:9s} {r['device']} {dtype:8s} b{batch:<3d} {args.mode:7s} "
                      f"{r['step_ms']:8.1f} ms  {r['patches_per_s']:8.1f} patches/s  {r['tflops']:.3f} TFLOP/s  "
                      f"/torch {ratio}  compile {r['compile_s']:.1f} s", flush=True)
    return rows


if __name__ == "__main__":
    main()
