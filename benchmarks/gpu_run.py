"""The one-command GPU run: throughput against PyTorch, VDSR trained by the paper's recipe, the experiments.

On the lent GPU (payload from ``benchmarks/gpu_payload.py``, carried as ``.gpu_payload``)::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu_payload/whl/*.whl &&
    PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 python3 benchmarks/gpu_run.py --out $OUT --budget_s 560

On CPU, the same code path with a tiny model and a payload made from scikit-image's photos::

    python benchmarks/gpu_run.py --smoke --out /tmp/gpu_smoke

Parts, in order, each written under ``--out`` as soon as it finishes (a run cut short returns what it has):

a. ``throughput.json``: the library's VDSR training step (20×64, batch 64, 41×41) in float32 and bfloat16,
   jaxsr against the same step in PyTorch (``benchmarks/train_throughput.py``, its own process), the
   device's measured bf16 matmul rate and each row's MFU, and Set5 x2 inference latency.
b. ``vdsr.msgpack`` + ``vdsr_run.json``: ``configs/vdsr.py`` on the 291 images (x2/x3/x4 mixed, device
   sampler). The step time measured in (a) decides: the full 80 paper epochs when they fit the time left,
   else the largest schedule that fits, with the same proportions (lr ÷10 at each quarter); the JSON
   records which, with the metrics of the run (loss curve, Set5 PSNR/SSIM).
c. ``experiments.tar.gz``: the paper's experiments (``python -m jaxsr.experiments``) in the time left.

Also ``log.txt`` (everything printed) and ``summary.md``. Every part runs in a child process with a time
limit: one failing part is recorded and the next one still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD_PLATFORMS = os.environ.get("JAX_PLATFORMS")  # the children's (the orchestrator itself stays on the CPU)
RESERVE_S = 25  # left at the end for export and summary
FULL_EPOCHS, DECAY_EPOCHS = 80, 20  # the paper: lr ÷10 every 20 epochs for 80 epochs


class Run:
    """Deadline, output folder and a log shared by the parts."""

    def __init__(self, out: Path, budget_s: float, smoke: bool, payload: Path):
        self.out, self.smoke, self.payload = out, smoke, payload
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget_s
        self.summary: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                              "smoke": smoke, "budget_s": budget_s, "parts": {}}
        self.log_file = open(out / "log.txt", "a", buffering=1)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def log(self, message: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.1f}s] {message}"
        print(line, flush=True)
        self.log_file.write(line + "\n")

    def child(self, args: list[str], limit_s: float, env: dict | None = None) -> int:
        """Run ``python args`` with its output in the log; SIGTERM at ``limit_s``, SIGKILL 30 s later."""
        self.log(f"$ {' '.join(args)}  (limit {limit_s:.0f} s)")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _pythonpath(), **(env or {})}
        full_env.pop("JAX_PLATFORMS", None)
        if CHILD_PLATFORMS is not None:
            full_env["JAX_PLATFORMS"] = CHILD_PLATFORMS
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        end = time.monotonic() + max(limit_s, 1)
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        termed = None
        while True:
            if sel.select(timeout=1.0):
                line = proc.stdout.readline()
                if not line:
                    break
                print(line, end="", flush=True)
                self.log_file.write(line)
            now = time.monotonic()
            if termed is None and now > end:
                self.log("time limit reached: SIGTERM")
                os.killpg(proc.pid, signal.SIGTERM)
                termed = now
            elif termed is not None and now > termed + 30:
                os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()

    def record(self, part: str, value) -> None:
        self.summary["parts"][part] = value
        self.summary["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        _write_json(self.out / "summary.json", self.summary)


def _pythonpath() -> str:
    extra = [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return os.pathsep.join(extra)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float))
    tmp.replace(path)


# ---------------------------------------------------------------- payload for --smoke

def smoke_payload(dst: Path) -> Path:
    """A tiny payload like ``gpu_payload.py``'s from scikit-image's photos (uint8 Y PNGs; no wheels)."""
    import numpy as np
    from PIL import Image

    from jaxsr.data.sources import EMBEDDED_EVAL, EMBEDDED_TRAIN, _skimage
    from jaxsr.eval.protocol import hr_y

    def y8(a):
        a = np.asarray(a)[:96, :96]
        return np.round(hr_y(a[..., :3] / 255.0 if a.ndim == 3 else a / 255.0, "matlab") * 255.0).astype(np.uint8)

    for folder, names in (("train/T91", EMBEDDED_TRAIN[:3]), ("train/BSD200", EMBEDDED_TRAIN[3:5]),
                          ("test/Embedded", EMBEDDED_EVAL)):
        (dst / folder).mkdir(parents=True, exist_ok=True)
        for n in names:
            Image.fromarray(y8(_skimage(n)), mode="L").save(dst / folder / f"{n}.png")
    return dst


# ---------------------------------------------------------------- part a

def part_throughput(run: Run) -> dict:
    rows_file, lat_file = run.out / "_train_step.json", run.out / "_latency.json"
    size = ["--batch", "8", "--patch", "21", "--depth", "3", "--features", "8", "--steps", "3", "--warmup", "1"] \
        if run.smoke else ["--batch", "64", "--patch", "41", "--steps", "50", "--warmup", "5"]
    device = "cpu" if run.smoke else "gpu"
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}  # torch shares the GPU in that process
    rc = run.child(["benchmarks/train_throughput.py", "--device", device, "--dtypes", "float32,bfloat16",
                    "--frameworks", "jaxsr,torch", *size, "--json", str(rows_file)],
                   min(200.0, run.left() * 0.35), env)
    run.child([str(Path(__file__).relative_to(ROOT)), "--stage", "latency", "--out", str(run.out),
               "--payload", str(run.payload)] + (["--smoke"] if run.smoke else []), min(90.0, run.left() * 0.2))
    rows = json.loads(rows_file.read_text()) if rows_file.is_file() else []
    if isinstance(rows, dict):
        rows = rows.get("rows", [])
    latency = json.loads(lat_file.read_text()) if lat_file.is_file() else {}
    peak = latency.get("matmul_bf16_tflops")
    for r in rows:
        if peak and r.get("tflops"):
            r["mfu"] = round(r["tflops"] / peak, 4)
    result = {"device": latency.get("device"), "train_step": rows, "train_step_rc": rc, **latency,
              "flops_note": "VDSR forward 1.329 MFLOP per output pixel (20x64); a training step counted as 3x"}
    _write_json(run.out / "throughput.json", result)
    for f in (rows_file, lat_file):
        f.unlink(missing_ok=True)
    return result


def stage_latency(out: Path, payload: Path, smoke: bool) -> None:
    """(child) bf16 matmul rate and VDSR inference latency on the payload's first test set at x2."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxsr import models
    from jaxsr.data.folder import iter_images
    from jaxsr.ops.color import to_y
    from jaxsr.ops.crop import modcrop
    from jaxsr.ops.resize import imresize
    from jaxsr.weights.params import init_params

    res = {"device": str(jax.devices()[0].device_kind), "platform": jax.default_backend(),
           "jax": jax.__version__, "python": platform.python_version()}
    n = 1024 if smoke else 8192
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.bfloat16)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.bfloat16)
    mm = jax.jit(lambda x, y: x @ y)
    mm(a, b).block_until_ready()
    times = []
    for _ in range(3 if smoke else 10):
        t = time.perf_counter()
        mm(a, b).block_until_ready()
        times.append(time.perf_counter() - t)
    res["matmul_bf16_tflops"] = round(2 * n**3 / float(np.median(times)) / 1e12, 2)
    res["matmul_n"] = n
    kwargs = {"depth": 3, "features": 8} if smoke else {}
    model = models.get("vdsr", **kwargs)
    params = init_params(model)
    fwd = jax.jit(lambda p, x: model.apply({"params": p}, x))
    test = sorted((payload / "test").iterdir())[0]
    per_image = []
    for im in iter_images(test):
        hr = modcrop(to_y(im.image), 2)
        t = time.perf_counter()
        ilr = imresize(imresize(hr, 0.5), 2)
        prep = time.perf_counter() - t
        x = jnp.asarray(ilr[None, :, :, None], jnp.float32)
        fwd(params, x).block_until_ready()  # compile for this shape
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            np.asarray(fwd(params, x))
            runs.append(time.perf_counter() - t)
        per_image.append({"image": im.name, "shape": list(hr.shape), "forward_s": float(np.median(runs)),
                          "bicubic_prep_s": prep})
    res["inference_x2"] = {"dataset": test.name, "images": per_image,
                           "mean_forward_s": float(np.mean([r["forward_s"] for r in per_image])),
                           "paper_titan_z_s": 0.13}
    _write_json(out / "_latency.json", res)


# ---------------------------------------------------------------- part b

def epoch_steps(folders: list[Path], scales, patch: int, batch: int, cache: Path) -> int:
    """Steps of one paper epoch (``jaxsr.data.epochs``) of a Y-channel VDSR on ``folders``. Builds the
    training table on the host into ``cache``, where the training run then finds it."""
    from jaxsr.data.epochs import steps_per_epoch
    from jaxsr.data.sampling import build_patch_table
    from jaxsr.data.sources import folder_images

    images = folder_images(folders)
    table = build_patch_table([im.image for im in images], scales, patch, 1, "pre",
                              names=[im.name for im in images], cache_dir=cache, on_small=lambda message: None)
    return steps_per_epoch([table], batch)


def part_vdsr(run: Run, throughput: dict) -> dict:
    train = [run.payload / "train" / "T91", run.payload / "train" / "BSD200"]
    test = sorted((run.payload / "test").iterdir())[0]
    batch, patch, scales = (8, 21, (2, 3, 4)) if run.smoke else (64, 41, (2, 3, 4))
    workdir = Path("/tmp/jaxsr_gpu_run/vdsr") if not run.smoke else run.out / "_vdsr_run"
    cache = workdir.parent / "cache"
    spe = epoch_steps(train, scales, patch, batch, cache)
    full = FULL_EPOCHS * spe
    steps_ms = {r["dtype"]: r["step_ms"] for r in throughput.get("train_step", [])
                if r.get("framework") == "jaxsr" and r.get("batch") == batch and r.get("step_ms")}
    startup = 30.0 if run.smoke else 75.0  # data preparation, compilation, evaluation
    avail = run.left() - RESERVE_S - startup - (0 if run.smoke else 60)  # 60 s left for part c's start
    plan = {"steps_per_epoch": spe, "full_steps": full, "measured_step_ms": steps_ms}
    per_step = lambda dt: 1.15 * steps_ms.get(dt, 8.0 if not run.smoke else 50.0) / 1e3  # noqa: E731
    if full * per_step("float32") <= avail:
        dtype, steps = "float32", full
    else:
        dtype = "bfloat16" if per_step("bfloat16") < per_step("float32") else "float32"
        steps = min(full, int(avail / per_step(dtype)))
    if run.smoke:
        steps = min(steps, 12)
    fraction = steps / full
    plan.update(compute_dtype=dtype, total_steps=steps, fraction_of_paper=round(fraction, 4),
                recipe="full" if steps == full else "scaled (same epoch proportions)",
                decay_every_steps=max(1, steps * DECAY_EPOCHS // FULL_EPOCHS))
    run.log(f"VDSR plan: {plan}")
    over = {"data.folders": ",".join(map(str, train)), "data.sampler": "device", "compute_dtype": dtype,
            "total_steps": steps, "optim.decay_every_steps": plan["decay_every_steps"],
            "steps_per_epoch": spe, "eval.data_dir": str(test.parent), "eval.datasets": test.name,
            "eval.every_steps": max(1, steps // 8), "checkpoint_every_steps": max(1, steps // 4),
            "log_every_steps": max(1, min(500, steps // 40)), "data.cache_dir": str(cache)}
    if run.smoke:
        over.update({"model.kwargs.depth": 3, "model.kwargs.features": 8, "batch_size": batch,
                     "data.patch_size": patch})
    t = time.monotonic()
    rc = run.child(["train.py", "--config", "configs/vdsr.py", "--workdir", str(workdir),
                    *[f"--config.{k}={v}" for k, v in over.items()]], run.left() - RESERVE_S)
    plan.update(train_rc=rc, train_wall_s=round(time.monotonic() - t, 1))
    run.child([str(Path(__file__).relative_to(ROOT)), "--stage", "export", "--out", str(run.out),
               "--workdir", str(workdir)], max(run.left() - 5, 10))
    exported = run.out / "_export.json"
    if exported.is_file():
        plan.update(json.loads(exported.read_text()))
        exported.unlink()
    plan["config_overrides"] = over
    _write_json(run.out / "vdsr_run.json", plan)
    return plan


def stage_export(out: Path, workdir: Path) -> None:
    """(child) The run's latest checkpoint as ``vdsr.msgpack``, and its metrics."""
    import jax

    from jaxsr.weights.loading import run_model
    from jaxsr.weights.params import save_params

    model, params = run_model(str(workdir))[:2]
    save_params(out / "vdsr.msgpack", params)
    metrics = []
    mfile = workdir / "metrics.jsonl"
    if mfile.is_file():
        metrics = [json.loads(line) for line in mfile.read_text().splitlines() if line.strip()]
    val = [m for m in metrics if any(k.startswith("val/") for k in m)]
    _write_json(out / "_export.json", {"model": type(model).__name__, "device": jax.devices()[0].device_kind,
                                       "final_validation": val[-1] if val else None, "metrics": metrics})


# ---------------------------------------------------------------- part c

def part_experiments(run: Run) -> dict:
    import importlib.util

    if importlib.util.find_spec("jaxsr.research.experiments") is None:
        return {"skipped": "jaxsr.research.experiments is not in this checkout"}
    root = Path("/tmp/jaxsr_gpu_run/experiments") if not run.smoke else run.out / "_experiments"
    t91 = run.payload / "train" / "T91"
    test = sorted((run.payload / "test").iterdir())[0]
    done = {}
    names = ("residual", "scales", "depth")
    for i, name in enumerate(names):
        share = run.left() - RESERVE_S
        if share < 30:
            done[name] = "no time left"
            continue
        share /= len(names) - i
        size = ["--steps", "2", "--model.kwargs.depth=3", "--model.kwargs.features=8", "--batch_size=8",
                "--data.patch_size=21", "--depths=(2,3)"] if run.smoke else ["--epochs", "80"]
        rc = run.child(["-m", "jaxsr.experiments", name, "--workdir", str(root), f"--data.folders={t91}",
                        f"--eval.data_dir={test.parent}", "--eval", test.name, "--max_seconds",
                        str(max(10, int(share - 40))), *size], share)
        done[name] = rc
    with tarfile.open(run.out / "experiments.tar.gz", "w:gz") as tar:
        for f in sorted(root.rglob("*")) if root.is_dir() else []:
            if f.suffix in (".md", ".json", ".png"):
                tar.add(f, arcname=str(f.relative_to(root)))
    return done


# ---------------------------------------------------------------- main

def summary_markdown(summary: dict) -> str:
    lines = [f"# GPU run, {summary['started']}", "", f"elapsed {summary.get('elapsed_s')} s of "
             f"{summary['budget_s']} s", ""]
    a = summary["parts"].get("throughput") or {}
    if a.get("train_step"):
        lines += ["| framework | dtype | batch | step ms | patches/s | TFLOP/s | MFU |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r.get('framework')} | {r.get('dtype')} | {r.get('batch')} | {r.get('step_ms', 0):.2f} | "
                  f"{r.get('patches_per_s', 0):.0f} | {r.get('tflops', 0):.3g} | {r.get('mfu', '')} |"
                  for r in a["train_step"]]
    b = summary["parts"].get("vdsr") or {}
    if b:
        lines += ["", f"VDSR: {b.get('recipe')}, {b.get('total_steps')} steps ({b.get('compute_dtype')}), "
                  f"train rc {b.get('train_rc')}, {b.get('train_wall_s')} s", "",
                  "final validation: " + json.dumps(b.get("final_validation"))]
    lines += ["", "parts: " + json.dumps({k: (v if not isinstance(v, dict) else "done")
                                          for k, v in summary["parts"].items()})]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (the device tool's $OUT)")
    parser.add_argument("--payload", default=".gpu_payload",
                        help="folder made by benchmarks/gpu_payload.py (--smoke makes its own)")
    parser.add_argument("--budget_s", type=float, default=560, help="seconds for the whole run")
    parser.add_argument("--parts", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--smoke", action="store_true", help="tiny model and data on CPU (tests)")
    parser.add_argument("--stage", default="all", choices=("all", "latency", "export"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.stage == "latency":
        stage_latency(out, Path(args.payload), args.smoke)
        return 0
    if args.stage == "export":
        stage_export(out, Path(args.workdir))
        return 0
    os.environ["JAX_PLATFORMS"] = "cpu"  # the GPU is the children's alone
    payload = smoke_payload(out / "_payload") if args.smoke else Path(args.payload)
    if not (payload / "train" / "T91").is_dir() or not (payload / "test").is_dir():
        print(f"error: --payload {payload}: no train/T91 or test/ (make it with benchmarks/gpu_payload.py)",
              file=sys.stderr)
        return 1
    run = Run(out, args.budget_s if not args.smoke else max(args.budget_s, 600), args.smoke, payload)
    parts = set(args.parts.split(","))
    throughput: dict = {}
    steps = [("throughput", "a", lambda: part_throughput(run)), ("vdsr", "b", lambda: part_vdsr(run, throughput)),
             ("experiments", "c", lambda: part_experiments(run))]
    for name, key, fn in steps:
        if key not in parts:
            continue
        run.log(f"== part {key}: {name} ({run.left():.0f} s left)")
        try:
            result = fn()
        except Exception as e:  # one broken part must not cost the others
            result = {"error": f"{type(e).__name__}: {e}"}
            run.log(f"part {key} failed: {result['error']}")
        if name == "throughput" and isinstance(result, dict):
            throughput.update(result)
        run.record(name, result)
        (out / "summary.md").write_text(summary_markdown(run.summary))
    run.log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
