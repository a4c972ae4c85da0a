"""jaxsr on two jaxlib series against PyTorch, f32 and bf16, side by side in one run (one process each).

  python benchmarks/side_by_side.py --tasks train,fwd256,fwd1080 --rounds 3 --json side_by_side.json \
      --worker jaxsr-0.10=python --worker jaxsr-0.12=/tmp/venv312/bin/python --worker torch=/tmp/venvtorch/bin/python

Each ``--worker NAME=PYTHON`` is a framework ("jaxsr…" or "torch…") in its own interpreter (a jaxlib series
needs its own venv; torch its own). For each task, one worker process per (worker, dtype) prepares (builds,
compiles, warms up) and then waits; the driver runs the timed rounds alternately — round 1 of every
worker, then round 2, … — so load from other jobs hits all alike; quote the ratios. Per task:

* ``train``: the VDSR 20×64 training step, batch 64, 41×41 patches (``train_throughput.py``'s step: jaxsr's own
  ``make_train_step``; PyTorch channels_last, bfloat16 = autocast);
* ``fwd256`` / ``fwd1080``: VDSR inference on one 256×256 / 1920×1080 Y image, whole (untiled): jaxsr through
  :class:`jaxsr.eval.inference.Upscaler` (its compile options and ``precision``), PyTorch under ``no_grad``.

A worker's time is the median of its rounds (``--steps`` calls each, waited for once).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES = {"fwd256": (256, 256), "fwd1080": (1080, 1920)}

WORKER = r"""
import sys, time
sys.path[:0] = [{repo!r}, {bench!r}]
framework, dtype, task, steps = {framework!r}, {dtype!r}, {task!r}, {steps}
if framework.startswith("jaxsr"):
    import jaxsr, jax, jax.numpy as jnp, numpy as np
    info = f"jax {{jax.__version__}}; {{jaxsr.XLA_CPU_SETTING}}"
    if task == "train":
        import train_throughput as tt
        run = tt._jaxsr_runner("cpu", dtype, 64, 41, 20, 64, "train")
        call, sync = run, run.sync
    else:
        from jaxsr.eval.inference import Upscaler
        from jaxsr.models import VDSR
        from jaxsr.weights.params import init_params
        model = VDSR()
        up = Upscaler(model, init_params(model, 0), 2, precision=dtype)
        x = np.random.default_rng(0).random((1, *{shape!r}, 1), dtype=np.float32)
        call, sync = (lambda: up.predict(x)), (lambda: None)
else:
    import torch, numpy as np
    import train_throughput as tt
    info = f"torch {{torch.__version__}}, {{torch.get_num_threads()}} threads"
    if task == "train":
        run = tt._torch_runner("cpu", dtype, 64, 41, 20, 64, "train", False)
        call, sync = run, run.sync
    else:
        from torch import nn
        layers = []
        for i in range(20):
            layers.append(nn.Conv2d(1 if i == 0 else 64, 1 if i == 19 else 64, 3, padding=1))
            layers += [nn.ReLU(True)] if i < 19 else []
        seq = nn.Sequential(*layers).to(memory_format=torch.channels_last).eval()
        x = torch.rand(1, 1, *{shape!r}).contiguous(memory_format=torch.channels_last)
        amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")
        def call():
            with torch.no_grad(), amp:
                return (x + seq(x).float()).clamp(0, 1)
        sync = lambda: None
start = time.perf_counter(); call(); sync()
print("READY", time.perf_counter() - start, info, flush=True)
for line in sys.stdin:
    start = time.perf_counter()
    for _ in range(steps):
        call()
    sync()
    print("TIME", (time.perf_counter() - start) / steps, flush=True)
"""


def start_worker(name, python, dtype, task, steps):
    code = WORKER.format(repo=str(HERE.parent), bench=str(HERE), framework=name, dtype=dtype, task=task,
                         steps=steps, shape=SHAPES.get(task, (0, 0)))
    proc = subprocess.Popen([python, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc


def expect(proc, tag):
    for line in proc.stdout:
        if line.startswith(tag):
            return line.split(maxsplit=2)[1:]
    raise RuntimeError(f"worker ended before {tag}")


def run_task(task, workers, dtypes, rounds, steps):
    rows = []
    procs = {}
    for name, python in workers:
        for dtype in dtypes:
            proc = start_worker(name, python, dtype, task, steps)
            ready = expect(proc, "READY")  # one at a time: compilations do not overlap
            procs[name, dtype] = proc
            rows.append({"task": task, "worker": name, "dtype": dtype, "first_call_s": float(ready[0]),
                         "info": ready[1].strip() if len(ready) > 1 else "", "times": []})
    for _ in range(rounds):
        for row in rows:
            proc = procs[row["worker"], row["dtype"]]
            proc.stdin.write("go\n")
            proc.stdin.flush()
            row["times"].append(float(expect(proc, "TIME")[0]))
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()
    for row in rows:
        row["ms"] = 1e3 * statistics.median(row["times"])
    return rows


def table(rows) -> str:
    out = ["| task | worker | dtype | median ms | / torch f32 | / torch bf16 | rounds (ms) |",
           "|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        ref = {r["dtype"]: r["ms"] for r in mine if r["worker"].startswith("torch")}
        for r in mine:
            ratio = lambda d: f"{r['ms'] / ref[d]:.2f}" if d in ref else "-"  # noqa: E731
            out.append(f"| {task} | {r['worker']} | {r['dtype']} | {r['ms']:.0f} | {ratio('float32')} | "
                       f"{ratio('bfloat16')} | {', '.join(f'{1e3 * t:.0f}' for t in r['times'])} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="append", required=True, help="NAME=PYTHON (NAME starts with jaxsr or torch)")
    ap.add_argument("--tasks", default="train,fwd256,fwd1080")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", default="train=1,fwd256=3,fwd1080=1", help="calls per round, per task")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    workers = [tuple(w.split("=", 1)) for w in args.worker]
    steps = {k: int(v) for k, v in (s.split("=") for s in args.steps.split(","))}
    rows, start = [], time.perf_counter()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    for task in args.tasks.split(","):
        rows += run_task(task, workers, args.dtypes.split(","), args.rounds, steps.get(task, 1))
        print(table([r for r in rows if r["task"] == task]), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    print(f"\n{table(rows)}\n\nload average before {' '.join(load_before)}, after {' '.join(load_after)}; "
          f"{time.perf_counter() - start:.0f} s")
    for r in rows:
        if r["info"]:
            print(f"{r['worker']} {r['dtype']}: {r['info']}")
    return rows


if __name__ == "__main__":
    main()
