"""Seconds per training step of a sweep of V variants: vmapped, unrolled in one jit ("loop"), and V
separate runs (same data, same sizes).

  python benchmarks/sweep_step.py --variants 6 --depth 20 --features 64 --batch 64   # the paper's sizes
  python benchmarks/sweep_step.py --variants 2 --depth 5 --features 16 --batch 8     # a quick CPU check

Synthetic training images (random smooth 128×128 Y), 41×41 patches, scales 2/3/4, the VDSR optimizer. Both
modes are timed in one run, after a warm-up step (compilation), as the median of --repeats timings of
--steps steps. Prints one line per mode; --json writes them.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxsr import models  # noqa: E402
from jaxsr.data.sampling import build_patch_table  # noqa: E402
from jaxsr.research.experiments.config import get_config  # noqa: E402
from jaxsr.base.parallel import make_mesh, replicate  # noqa: E402
from jaxsr.train.sweep import Variant, init_state, make_sweep_runner  # noqa: E402


def timed(run, state, steps, repeats):
    state = jax.block_until_ready(run(state))  # warm-up: compile
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            state = run(state)
        jax.block_until_ready(state)
        out.append((time.perf_counter() - start) / steps)
    return statistics.median(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("variants", 6), ("depth", 20), ("features", 64), ("batch", 64), ("steps", 5),
                          ("repeats", 3), ("images", 8)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--json")
    a = p.parse_args()
    c = get_config("residual")
    c.batch_size, c.optim.decay_every_steps = a.batch, 2500
    rng = np.random.default_rng(0)
    images = [np.clip(0.5 + 0.2 * rng.standard_normal((128, 128)).cumsum(0).cumsum(1) / 128, 0, 1)
              for _ in range(a.images)]
    mesh = make_mesh()
    model = models.get("vdsr", depth=a.depth, features=a.features, channels=1)
    lrs = [0.1 / 10 ** (i % 3) for i in range(a.variants)]
    variants = [Variant(f"v{i}", lr, i % 2 == 0, 0, (2, 3, 4)) for i, lr in enumerate(lrs)]
    tables = {variants[0].data_key: build_patch_table(images, (2, 3, 4), 41, 1, "pre")}

    def runner(vs, mode="vmap"):
        run = make_sweep_runner(model, vs, tables, mesh, c.optim, c.loss, c.batch_size, mode)
        return lambda s: run(s)[0], replicate(init_state(model, c.optim, vs), mesh)

    rows = {mode: timed(*runner(variants, mode), a.steps, a.repeats) for mode in ("vmap", "loop")}
    rows["separate"] = sum(timed(*runner([v]), a.steps, a.repeats) for v in variants)
    device = jax.devices()[0].device_kind
    for mode, seconds in rows.items():
        print(f"{device}  {mode:9s} {a.variants} variants  depth {a.depth}  features {a.features}  "
              f"batch {a.batch}: {seconds:.4f} s per step of all variants", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"device": device, **vars(a), **rows}, indent=1))


if __name__ == "__main__":
    main()
