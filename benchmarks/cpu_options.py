"""Which XLA:CPU compile options put VDSR's convolutions where, and how fast (the measurement behind
jaxsr/base/xla_cpu.py's choices; benchmarks/NOTES.md, issue 23).

  python benchmarks/cpu_options.py fwd256 float32,bfloat16 default,eigen,onednn,eigen+onednn --rounds 5
  python benchmarks/cpu_options.py train float32 default,eigen,eigen+onednn --rounds 3

The options are given per compilation (``.lower().compile(options)``), so every configuration runs in this
one process, in alternating rounds. For ``fwd256`` each configuration's compiled HLO is counted: oneDNN
calls, YNNPACK fusions, plain (Eigen) convolutions. ``default`` is jaxlib's own fusion-type list (0.10's,
the same on 0.12); ``onednn`` needs jaxlib 0.12.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jaxsr  # noqa: E402  (first: jaxsr's CPU compiler settings)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import train_throughput as tt  # noqa: E402
from jaxsr.models import VDSR  # noqa: E402
from jaxsr.weights.params import init_params  # noqa: E402

YNN = "xla_cpu_experimental_ynn_fusion_type"
FUSIONS = "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
OPTIONS = {
    "default": {YNN: FUSIONS},
    "eigen": {YNN: FUSIONS.split(",", 1)[1]},
    "onednn": {YNN: FUSIONS, **jaxsr.base.xla_cpu.ONEDNN},
    "eigen+onednn": {YNN: FUSIONS.split(",", 1)[1], **jaxsr.base.xla_cpu.ONEDNN},
}


def counts(hlo: str) -> dict:
    return {"onednn": hlo.count("__onednn$convolution"), "ynn": hlo.count("__ynn_fusion"),
            "eigen": hlo.count(" convolution(")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=("fwd256", "train"))
    ap.add_argument("dtypes")
    ap.add_argument("configs")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"jax {jax.__version__}; {jaxsr.XLA_CPU_SETTING}", flush=True)
    for dtype in args.dtypes.split(","):
        runs = {}
        for name in args.configs.split(","):
            if args.task == "fwd256":
                model = VDSR(dtype=jnp.dtype(dtype))
                params = init_params(model, 0)
                x = jnp.asarray(np.random.default_rng(0).random((1, 256, 256, 1), np.float32))
                compiled = jax.jit(lambda p, x: model.apply({"params": p}, x)).lower(params, x).compile(OPTIONS[name])
                print(dtype, name, counts(compiled.as_text()), flush=True)
                runs[name] = lambda c=compiled, p=params, x=x: c(p, x).block_until_ready()
            else:
                run = tt._jaxsr_runner("cpu", dtype, 64, 41, 20, 64, "train", OPTIONS[name])
                runs[name] = lambda r=run: (r(), r.sync())
            runs[name]()  # warm-up
        times = {n: [] for n in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        for name, t in times.items():
            print(f"{args.task} {dtype:8s} {name:13s} median {1e3 * statistics.median(t):8.1f} ms  "
                  f"rounds {[round(1e3 * v) for v in t]}", flush=True)


if __name__ == "__main__":
    main()
