"""Checking a training config against the schema (``jaxsr.train.config``) before any data is read.

``check_config`` first imports the config's plug-in modules (``imports``, ``jaxsr.base.plugins``), then raises
one ``JaxsrError`` naming the field for: unknown or missing fields, wrong types, values outside an enum,
a registry (model, loss, metrics) or a range, model constructor arguments the model does not have, and
anything a shape-only build (``jax.eval_shape``) of the model, optimizer, loss and evaluation models
rejects. ``config_changes`` lists the fields in which a rerun differs from a run folder's stored config;
``check_run_folder`` refuses a run folder that is not writable or holds a run of another config.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections

from jaxsr import models
from jaxsr.train import losses
from jaxsr.train.config import ENUMS, HARMLESS, OPTIMIZERS, RULES, fields, with_new_fields
from jaxsr.base.errors import JaxsrError
from jaxsr.eval.metrics import check_metrics
from jaxsr.base.plugins import import_modules
from jaxsr.train.run_spec import build_model, eval_scales

__all__ = ["check_config", "check_fields", "config_changes", "check_run_folder", "choices"]


def _flat(tree, prefix="") -> dict:
    """{"a.b": value} of a nested dict/ConfigDict; model.kwargs stays one value (a dict)."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, (dict, ml_collections.ConfigDict)) and name != "model.kwargs":
            out.update(_flat(value, name + "."))
        else:
            out[name] = value.to_dict() if isinstance(value, ml_collections.ConfigDict) else value
    return out


def _type_ok(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, tuple):
        return isinstance(value, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool)
                                                        for v in value)
    return isinstance(value, type(default))


def _type_name(default) -> str:
    return {bool: "a bool", int: "an integer", float: "a number", str: "a string", tuple: "a list of integers",
            dict: "a dict of constructor arguments"}[type(default)]


def choices(field: str):
    """The allowed values of ``field`` (a registry's names, or the schema's enum); None if not an enum."""
    if field == "model.name":
        return models.names()
    if field == "loss":
        return losses.loss_names()
    return ENUMS.get(field)


def check_fields(config) -> None:
    """The plug-ins imported (``imports``), then structure, types, enums and ranges of every field (no
    model build)."""
    if not isinstance(config.get("imports", ""), str):
        raise JaxsrError(f"imports must be a string, got {config.get('imports')!r}")
    import_modules(config.get("imports", ""), "imports:")
    flat = _flat(config)
    optim_name = flat.get("optim.name")
    if optim_name not in OPTIMIZERS:
        raise JaxsrError(f"optim.name must be one of {', '.join(map(repr, OPTIMIZERS))}, got {optim_name!r}")
    schema = {f: d for f, d, _ in fields("vdsr", optim_name)}
    for field in flat:
        if field not in schema:
            other = [o for o, rows in OPTIMIZERS.items() if any(f == field for f, _, _ in rows)]
            hint = (f" (a field of the {other[0]} optimizer; use jaxsr.train.config.optimizer({optim_name!r}) in the "
                    "recipe)") if other else " (list the fields with: jaxsr config)"
            raise JaxsrError(f"{field}: unknown config field{hint}")
    for field, default in schema.items():
        if field not in flat:
            raise JaxsrError(f"{field}: missing from the config (list the fields with: jaxsr config)")
        value = flat[field]
        if not _type_ok(value, default):
            raise JaxsrError(f"{field} must be {_type_name(default)}, got {value!r}")
        allowed = choices(field)
        if allowed is not None and value not in allowed:
            raise JaxsrError(f"{field} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        if field in RULES and not RULES[field][1](value):
            raise JaxsrError(f"{field} must be {RULES[field][0]}, got {value!r}")
    _check_model_kwargs(flat["model.name"], flat["model.kwargs"])


def _check_model_kwargs(name: str, kwargs: dict) -> None:
    own = models.arguments(name)
    single = models.contract(name).scale_mode == "fixed"
    for key, value in kwargs.items():
        field = f"model.kwargs.{key}"
        if key not in own or (single and key == "scale"):
            why = " (set by data.scales)" if key == "scale" else f"; its arguments: {', '.join(sorted(own))}"
            raise JaxsrError(f"{field}: {name} has no such argument{why}")
        ints = value if isinstance(value, (tuple, list)) else (value,)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in ints) and not all(v >= 1 for v in ints):
            raise JaxsrError(f"{field} must be >= 1, got {value!r}")
        default = own[key]
        if isinstance(default, (bool, int, float, tuple)) and not _type_ok(value, default):
            raise JaxsrError(f"{field} must be {_type_name(type(default)())}, got {value!r}")
        cls = type(models.get(name))
        lo, hi = getattr(cls, "kwarg_ranges", {}).get(key, (1, None))
        if hi is not None and not all(v <= hi for v in ints):  # e.g. depth=10**7 would take hours to build
            raise JaxsrError(f"{field} must be in {lo}..{hi} ({cls.__name__}'s declared range), got {value!r}")


def check_config(config) -> None:
    """The whole config, checked before any data is read; JaxsrError naming the field on the first problem."""
    check_fields(config)
    name, scales = config.model.name, tuple(config.data.scales)
    if models.contract(name).scale_mode == "fixed" and len(scales) != 1:
        raise JaxsrError(f"data.scales: {name} is built for one scale; train one scale per run")
    if config.data.source == "folders":
        folders = [f.strip() for f in str(config.data.folders).split(",") if f.strip()]
        if not folders:
            raise JaxsrError("data.folders is empty: give comma-separated folders of HR images "
                             "(--config.data.folders=DATA/train/T91,DATA/train/BSD200)")
        from jaxsr.data.folder import list_images

        for folder in folders:
            try:
                list_images(folder)
            except JaxsrError as e:
                raise JaxsrError(f"data.folders: {e}") from None
    try:
        check_metrics(config.eval.metrics)
    except JaxsrError as e:
        raise JaxsrError(f"eval.metrics: {e}") from None
    _shape_build(config)
    from jaxsr.data.sources import eval_names, folder_datasets

    for final, field in ((False, "datasets"), (True, "final_datasets")):
        names = eval_names(config.eval, final)  # a benchmark named without eval.data_dir: one error
        if names is not None:
            try:
                folder_datasets(config.eval.data_dir, names)
            except JaxsrError as e:
                raise JaxsrError(f"eval.{field}: {e}") from None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def _shape_build(config) -> None:
    """Build model, loss, optimizer and evaluation models on shapes only (jax.eval_shape)."""
    from jaxsr.train.losses import loss_fn
    from jaxsr.train.optim import make_optimizer
    from jaxsr.weights.params import init_params

    name, kwargs, scales = config.model.name, dict(config.model.kwargs), tuple(config.data.scales)

    def attempt(field, fn, *args, **kw):
        try:
            return jax.eval_shape(fn, *args, **kw)
        except JaxsrError as e:
            raise JaxsrError(f"{field}: {e}") from None
        except Exception as e:  # flax/jax raise many kinds for impossible settings
            raise JaxsrError(f"{field}: {name} cannot be built ({_first_line(e)})") from None

    def build(scale, compute_dtype="float32"):
        try:
            return build_model(name, scale, kwargs, compute_dtype)
        except JaxsrError as e:
            raise JaxsrError(f"model.kwargs: {e}") from None

    model = build(scales[0], config.compute_dtype)
    params = attempt("model.kwargs", lambda: init_params(model))
    spec, p = models.contract(model), config.data.patch_size
    channels = spec.channels
    for s in scales:
        x = jax.ShapeDtypeStruct((1, p, p, channels), jnp.float32)
        out = attempt("data.scales", lambda x, v, s=s: models.apply(model, v, x, s), x, params)
        want = (1, p * spec.factor(s), p * spec.factor(s), channels)
        if out.shape != want:
            raise JaxsrError(f"data.scales: {name} gives {out.shape} for an x{s} patch, expected {want}")
        attempt("loss", lambda o: loss_fn(config.loss, o, o), out)
    optim = ml_collections.ConfigDict(config.optim.to_dict())
    optim.decay_every_steps = max(1, optim.decay_every_steps)
    tx, _ = make_optimizer(optim)
    state = attempt("optim", tx.init, params)
    attempt("optim", lambda g, st: tx.update(g, st, g, step=jnp.int32(0)), params, state)
    for s in eval_scales(config):
        model = build(s)
        size = 8 * s // spec.factor(s)
        x = jax.ShapeDtypeStruct((1, size, size, channels), jnp.float32)
        attempt("eval.scales", lambda x, v, s=s, model=model: models.apply(model, v, x, s), x, params)


def _normal(value):
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def config_changes(config, stored) -> list[str]:
    """``field (stored → new)`` for every field a rerun changes that alters what the run's checkpoints mean
    (everything but HARMLESS); -1 ("derived") in the new config matches any stored value, a field the
    stored config predates counts as its default, and model arguments count with the model's defaults."""
    def flat(c):
        out = _flat(c)
        kwargs = dict(out.pop("model.kwargs", {}))
        try:
            kwargs = {**models.arguments(out.get("model.name")), **kwargs}
        except ValueError:  # not a registered model: its arguments as given
            pass
        return {**out, **{f"model.kwargs.{k}": v for k, v in kwargs.items()}}

    stored = stored.to_dict() if isinstance(stored, ml_collections.ConfigDict) else dict(stored)
    new, old = flat(config), flat(with_new_fields(stored))
    out = []
    for field in sorted(set(new) | set(old)):
        if any(field == h or (h.endswith(".") and field.startswith(h)) for h in HARMLESS):
            continue
        a, b = _normal(old.get(field, "<absent>")), _normal(new.get(field, "<absent>"))
        if a != b and not (b == -1 and field in ("steps_per_epoch", "optim.decay_every_steps")):
            out.append(f"{field} ({a!r} → {b!r})")
    return out


def check_run_folder(workdir, config: ml_collections.ConfigDict) -> None:
    """Before a run touches ``workdir``: it must be a writable folder (created if missing), and a run
    already in it must have been trained with the same config (but for ``jaxsr.train.config.HARMLESS``
    fields). Nothing is written when this fails."""
    import tempfile

    from jaxsr.weights.checkpoint import Checkpointer, error_line, read_run_config

    path = Path(workdir)
    if path.exists() and not path.is_dir():
        raise JaxsrError(f"--workdir {workdir}: not a folder")
    if (path / "checkpoints").exists() and not (path / "checkpoints").is_dir():
        raise JaxsrError(f"--workdir {workdir}: {path / 'checkpoints'} is not a folder (the run's checkpoints "
                         "go there); move it away or use another --workdir")
    ckpt = Checkpointer(workdir, create=False)
    trained = bool(ckpt.steps())
    ckpt.close()
    if trained and not (path / "config.json").exists():
        raise JaxsrError(f"--workdir {workdir} holds checkpoints but no config.json, so the config they were "
                         "trained with is unknown; refusing to adopt them (restore config.json or use another "
                         "--workdir)")
    if trained:
        changes = config_changes(config, read_run_config(workdir))
        if changes:
            raise JaxsrError(f"--workdir {workdir} holds a run trained with another config: {'; '.join(changes)}; "
                             "rerun with the stored values (config.json) or use another --workdir")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise JaxsrError(f"--workdir {workdir}: cannot write there ({error_line(e)})") from None
