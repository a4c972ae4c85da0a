"""Campaigns: one long training run advanced in legs, across sessions and machines, kept in git.

A campaign folder (e.g. ``campaigns/vdsr_t91``) holds:

* ``campaign.json`` — the training config (paths relative to the folder), the fingerprint of its data and
  the environment it was started on (Python, jax/jaxlib/flax/optax/numpy, XLA flags, backend, devices,
  dtype). Written once, when the campaign is created from a recipe.
* ``state.msgpack`` — the resumable state (``jaxsr.research.campaign.state``): params, optimizer state, step, RNG,
  the data stream's position, digests. Rewritten atomically every ``save_every_seconds`` and at a leg's end.
* ``metrics.jsonl`` — the log: the loop's training rows (loss, lr, grad norm, clipped fraction, steps/s)
  and every evaluation (``val/<dataset>/x<s>/<metric>``), one JSON object per line.
* ``legs.jsonl`` — one line per leg: when, on which machine, steps from and to, why it stopped.
* ``config.json`` — the resolved config (steps per epoch, total steps) as the loop wrote it.
* ``cache/``, ``tensorboard/`` — local and git-ignored (rebuilt on each machine).

A leg is one call of ``jaxsr.train.training.train_and_evaluate`` (the one loop) with the state file as its
store and a time budget. Legs continue one run exactly: a campaign trained in several legs, killed
between them, ends with the same params bit for bit as one uninterrupted run on the same machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import time
from pathlib import Path

import ml_collections

from jaxsr.research.campaign.state import StateFile, read_meta
from jaxsr.base.io import atomic_write_bytes
from jaxsr.train.config import with_new_fields
from jaxsr.base.errors import JaxsrError

__all__ = ["create", "run_leg", "status", "environment", "machine", "load_config", "PATH_FIELDS"]

PATH_FIELDS = ("data.folders", "eval.data_dir", "data.tfds_data_dir")  # relative to the campaign folder
CHECKED = ("python", "jax", "jaxlib", "flax", "optax", "numpy", "xla_flags", "backend", "devices",
           "processes", "compute_dtype")


def environment(config) -> dict:
    """What a campaign keeps from leg to leg: the software that decides its numbers."""
    import flax
    import jax
    import jaxlib
    import numpy as np
    import optax

    return {"python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "flax": flax.__version__, "optax": optax.__version__, "numpy": np.__version__,
            "xla_flags": os.environ.get("XLA_FLAGS", ""), "backend": jax.default_backend(),
            "devices": jax.device_count(), "processes": jax.process_count(),
            "compute_dtype": str(config.compute_dtype)}


def machine() -> dict:
    """Where a leg ran (recorded, not checked: float results may differ between CPU models)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(),
            "load": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def _get(config, field):
    node = config
    for part in field.split("."):
        node = node[part]
    return node


def _set(config, field, value):
    *path, last = field.split(".")
    node = config
    for part in path:
        node = node[part]
    node[last] = value


def _map_paths(config, fn) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict(config.to_dict())
    for field in PATH_FIELDS:
        value = str(_get(config, field))
        if value:
            _set(config, field, ",".join(fn(p.strip()) for p in value.split(",") if p.strip()))
    return config


def _fingerprint(config) -> str:
    """SHA-256 over the names and bytes of every file in the training and evaluation folders."""
    h = hashlib.sha256()
    folders = [p for p in str(config.data.folders).split(",") if p.strip()]
    if config.eval.data_dir:
        folders.append(config.eval.data_dir)
    for folder in folders:
        root = Path(folder.strip())
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(f"{path.relative_to(root)};{path.stat().st_size};".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _config_sha(stored: dict) -> str:
    return hashlib.sha256(json.dumps(stored["config"], sort_keys=True).encode()).hexdigest()


def load_config(path) -> ml_collections.ConfigDict:
    """``get_config()`` of a recipe file (``configs/*.py``)."""
    import importlib.util

    path = Path(path)
    if not path.is_file():
        raise JaxsrError(f"--config {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_jaxsr_recipe_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise JaxsrError(f"--config {path}: the file has no get_config()")
    return module.get_config()


def create(folder, config) -> dict:
    """Start a campaign in ``folder`` from a config (paths relative to the current folder): checks the
    config, records its data fingerprint and this environment in ``campaign.json``; returns that record."""
    from jaxsr.train.config_check import check_config

    folder = Path(folder)
    if (folder / "campaign.json").exists():
        raise JaxsrError(f"{folder}: a campaign already exists there (campaign.json)")
    check_config(config)
    folder.mkdir(parents=True, exist_ok=True)
    relative = _map_paths(config, lambda p: os.path.relpath(Path(p).absolute(), folder.absolute()))
    record = {"config": json.loads(relative.to_json()), "data_sha256": _fingerprint(config),
              "environment": environment(config), "created": _now(), "machine": machine()}
    atomic_write_bytes(folder / "campaign.json", (json.dumps(record, indent=1) + "\n").encode(), durable=True)
    return record


def _open(folder) -> tuple[dict, ml_collections.ConfigDict]:
    path = Path(folder) / "campaign.json"
    if not path.is_file():
        raise JaxsrError(f"{folder}: not a campaign (no campaign.json); start one with --config RECIPE")
    try:
        record = json.loads(path.read_text())
        config = ml_collections.ConfigDict(with_new_fields(record["config"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise JaxsrError(f"{path}: not a readable campaign record ({type(e).__name__})") from None
    here = Path(folder).absolute()
    return record, _map_paths(config, lambda p: os.path.relpath((here / p).resolve()))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_jsonl(path: Path) -> list[dict]:
    """The complete JSON lines of ``path`` (a partial last line from a killed writer is left out)."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def _trim_log(path: Path, step: int) -> None:
    """Keep the log rows of steps the state has reached: a killed leg's later rows are retrained."""
    rows = read_jsonl(path)
    kept = [r for r in rows if r.get("step", 0) <= step]
    if path.exists() and (len(kept) != len(rows) or not path.read_text().endswith("\n") and rows):
        atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode(), durable=True)


def run_leg(folder, *, config=None, max_seconds: float = 0, max_steps: int = 0,
            save_every_seconds: float = 600, accept_environment: bool = False) -> dict:
    """Advance the campaign in ``folder`` by one leg (creating it from ``config`` if new); returns its
    leg record. Raises JaxsrError for a changed environment or data, or a damaged state, or when another
    process is running a leg of it (the folder is locked for the leg: ``jaxsr.weights.checkpoint.run_folder_lock``;
    the lock file is not part of the campaign and is removed at the end)."""
    from jaxsr.weights.checkpoint import run_folder_lock

    folder = Path(folder)
    if config is None and not (folder / "campaign.json").is_file():
        _open(folder)  # not a campaign: one error line, no folder created
    with run_folder_lock(folder, "campaign"):
        return _run_leg(folder, config=config, max_seconds=max_seconds, max_steps=max_steps,
                        save_every_seconds=save_every_seconds, accept_environment=accept_environment)


def _run_leg(folder: Path, *, config, max_seconds, max_steps, save_every_seconds, accept_environment) -> dict:
    from jaxsr.train.training import train_and_evaluate

    if config is not None and not (folder / "campaign.json").exists():
        create(folder, config)
    record, resolved = _open(folder)
    if config is not None:
        given = _map_paths(config, lambda p: os.path.relpath(Path(p).absolute(), folder.absolute()))
        stored = json.loads(json.dumps(with_new_fields(record["config"])))  # fields added since: defaults
        if json.loads(given.to_json()) != stored:
            raise JaxsrError(f"{folder}: --config differs from the campaign's stored config (campaign.json); "
                             "a campaign keeps its config: omit --config to continue it")
    env, changes = environment(resolved), []
    for key in CHECKED:
        if record["environment"].get(key) != env.get(key):
            changes.append(f"{key} {record['environment'].get(key)!r} → {env.get(key)!r}")
    if changes and not accept_environment:
        raise JaxsrError(f"{folder}: this environment differs from the campaign's ({'; '.join(changes)}); "
                         "run it where it was started, or pass --accept_environment to continue here")
    if _fingerprint(resolved) != record["data_sha256"]:
        raise JaxsrError(f"{folder}: the training or evaluation images differ from the campaign's "
                         f"(data fingerprint); folders: {resolved.data.folders}, {resolved.eval.data_dir}")
    state_path, log_path = folder / "state.msgpack", folder / "metrics.jsonl"
    meta = read_meta(state_path)  # a damaged file stops here, before anything is written
    start = 0 if meta is None else int(meta["step"])
    if meta is None and any(r.get("step", 0) > 0 for r in read_jsonl(log_path)):
        raise JaxsrError(f"{state_path}: missing, but the campaign's log has trained steps; restore the state "
                         "from git (git checkout -- it) instead of starting over")
    _trim_log(log_path, start)
    legs = read_jsonl(folder / "legs.jsonl")
    leg = {"leg": len(legs) + 1, "started": _now(), "machine": machine(), "from_step": start,
           "max_seconds": max_seconds, "environment_changes": changes}
    _write_legs(folder, legs + [leg])
    spe = _steps_per_epoch(folder)
    store = StateFile(state_path, {"config_sha256": _config_sha(record), "seed": int(resolved.seed),
                                   "environment": env}, resolved.batch_size, spe)
    t0, reason = time.monotonic(), "finished"
    try:
        results = train_and_evaluate(resolved, str(folder), store=store, max_seconds=max_seconds,
                                     max_steps=max_steps, save_every_seconds=save_every_seconds)
        if results is None:
            reason = "budget"
    except SystemExit as e:
        reason = f"signal (exit {e.code})"
        raise
    except BaseException as e:
        reason = f"error: {type(e).__name__}"
        raise
    finally:
        meta = read_meta(state_path)
        leg.update({"ended": _now(), "to_step": 0 if meta is None else int(meta["step"]),
                    "seconds": round(time.monotonic() - t0, 1), "stopped": reason})
        _write_legs(folder, legs + [leg])
    return leg


def _write_legs(folder: Path, legs: list[dict]) -> None:
    atomic_write_bytes(folder / "legs.jsonl", "".join(json.dumps(r) + "\n" for r in legs).encode(),
                       durable=True)


def _steps_per_epoch(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "config.json").read_text())["steps_per_epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def status(folder) -> str:
    """Step, epoch, learning rate, the ETA at the measured step time, the legs and the last evaluations."""
    import numpy as np

    from jaxsr.train.monitor import eta

    folder = Path(folder)
    record, config = _open(folder)
    meta = read_meta(folder / "state.msgpack")
    resolved = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    total, spe = resolved.get("total_steps"), resolved.get("steps_per_epoch")
    step = 0 if meta is None else int(meta["step"])
    rows = read_jsonl(folder / "metrics.jsonl")  # rows past the state's step: a leg running (or killed)
    train = [r for r in rows if "train/loss" in r]
    legs = read_jsonl(folder / "legs.jsonl")
    lines = [f"campaign {folder}: {config.model.name} {dict(config.model.kwargs)}, "
             f"scales {tuple(config.data.scales)}, batch {config.batch_size}, {config.compute_dtype}"]
    if total is None:
        lines.append("not started (no leg has run)")
        return "\n".join(lines)
    epoch = f"epoch {step / spe:.2f} of {total / spe:g}" if spe else ""
    lines.append(f"step {step} of {total} ({100 * step / max(total, 1):.1f}%), {epoch}, state saved "
                 f"{meta['saved_at'] if meta else 'never'}")
    if train:
        last = train[-1]
        rates = [r["train/steps_per_s"] for r in train[-20:] if r.get("train/steps_per_s", 0) > 0]
        rate = float(np.median(rates)) if rates else 0.0
        ahead = ", after the saved state: a leg is running, or was killed" if last["step"] > step else ""
        lines.append(f"last log (step {last['step']}{ahead}): loss {last['train/loss']:.4g}, "
                     f"lr {last['train/lr']:.3g}, grad_norm {last['train/grad_norm']:.3g}, "
                     f"clipped {last['train/clip_fraction']:.4f}")
        if rate > 0:
            lines.append(f"measured {1 / rate:.2f} s/step (median of the last {len(rates)} logs): "
                         f"ETA {eta((total - step) / rate)} of training")
    hours = sum(leg.get("seconds", 0) for leg in legs) / 3600
    lines.append(f"legs: {len(legs)}, {hours:.2f} h in all"
                 + (f"; last: {legs[-1].get('from_step')} → {legs[-1].get('to_step', '?')} "
                    f"({legs[-1].get('stopped', 'killed or running')})" if legs else ""))
    evals = [r for r in rows if any(k.startswith("val/") for k in r)]
    if evals:
        lines.append("evaluations (PSNR / SSIM, default protocol):")
        for r in evals[-6:]:
            cells = [f"{k[4:-5]} {r[k]:.2f}/{r.get(k[:-4] + 'ssim', float('nan')):.4f}"
                     for k in sorted(r) if k.startswith("val/") and k.endswith("/psnr")]
            at = f"epoch {r['step'] / spe:g}" if spe else f"step {r['step']}"
            lines.append(f"  {at:>10}: " + "  ".join(cells))
    return "\n".join(lines)
