"""The training config schema: every field with its default and one line of meaning, per model family.

Two families share all fields but the optimizer's and their defaults:

* ``"vdsr"`` (VDSR, SRCNN; pre-upsampling): the VDSR paper's recipe — L2 loss, SGD with momentum, weight
  decay and adjustable gradient clipping (``optim.momentum``, ``optim.clip_theta``).
* ``"edsr"`` (EDSR, MDSR; post-upsampling): the EDSR paper's recipe — L1 loss, Adam (``optim.b1``,
  ``optim.b2``, ``optim.eps``); no SGD or clipping fields.

A family is a training recipe with its paper's model; ``get_config("edsr", model="my_model")`` puts any
registered model into it at that model's own defaults (``model.kwargs = {}``), and ``register_family`` adds
a family (a plug-in's recipe). The optimizer's fields follow ``optim.name``: ``optimizer("adam")`` gives a
VDSR recipe an Adam section. ``configs/*.py`` are thin recipes that override these defaults.
``jaxsr.train.config_check.check_config`` checks a whole config against this schema before any data is read
(the model, loss and metric names against their registries, after importing the config's ``imports``).
List the fields of a family with ``python -m jaxsr.config edsr``.
"""

from __future__ import annotations

import ml_collections

__all__ = ["FAMILIES", "OPTIMIZERS", "HARMLESS", "ENUMS", "RULES", "get_config", "optimizer", "fields",
           "describe", "register_family", "with_new_fields"]

# (field, default, meaning) shared by every family; defaults are the VDSR paper's.
_COMMON = [
    ("imports", "", "Comma-separated plug-in modules imported first (they register models, metrics, losses), "
                    "e.g. my_pkg.sr_models or path/to/models.py."),
    ("seed", 0, "Seed of parameter initialisation and of the training patch stream."),
    ("model.name", "vdsr", "Registered model name (jaxsr.models.names())."),
    ("model.kwargs", {}, "Constructor arguments of the model over its registered defaults (its dataclass fields; "
                         "integers >= 1)."),
    ("data.source", "folders", '"folders" (data.folders), "embedded" (scikit-image photos) or "tfds".'),
    ("data.folders", "", "Comma-separated folders of HR images, e.g. .../T91,.../BSD200 (the 291 images)."),
    ("data.tfds_name", "div2k", "TFDS dataset with bicubic_x{s} configs (source = \"tfds\")."),
    ("data.tfds_data_dir", "", 'TFDS data_dir holding the prepared dataset ("" = TFDS default).'),
    ("data.scales", (2, 3, 4), "Training scales (mixed within each batch; one per batch for MDSR)."),
    ("data.patch_size", 41, "Input patch side (ILR = HR side for pre-upsampling models, LR side for post)."),
    ("data.sampler", "tfdata", '"tfdata" (host pipeline) or "device" (patches drawn inside jit).'),
    ("data.cache_dir", "", 'Where the prepared LR/ILR table is kept ("" = <workdir>/cache).'),
    ("batch_size", 64, "Global batch size (all devices and hosts together); a multiple of the devices."),
    ("compute_dtype", "float32", '"float32" or "bfloat16" (activations/matmuls; params stay float32).'),
    ("loss", "l2", '"l2": ½‖target − prediction‖² per patch, batch mean (VDSR); "l1": mean |·| (EDSR); or any '
                   'loss registered in jaxsr.train.losses.'),
    ("optim.name", "sgd", '"sgd" (momentum, adjustable clipping) or "adam"; decides the other optim fields.'),
    ("optim.learning_rate", 0.1, "Initial learning rate γ."),
    ("optim.schedule", "step", '"step" (×decay_factor every decay_every_*) or "constant".'),
    ("optim.decay_factor", 0.1, "Learning-rate factor at each decay."),
    ("optim.decay_every_epochs", 20, "Decay period in epochs (used when decay_every_steps = -1)."),
    ("optim.decay_every_steps", -1, "Decay period in steps; -1 = decay_every_epochs × steps_per_epoch."),
    ("optim.weight_decay", 1e-4, "L2 weight decay on kernels (added to the gradient)."),
    ("init_from", "", "Params to start from (a run folder or a params file; all but the model's scale_params, "
                      "e.g. the upsampler), e.g. EDSR x2 → x3."),
    ("num_epochs", 80, "Training length in epochs (used when total_steps = -1)."),
    ("steps_per_epoch", -1, "-1 = the paper's epoch: non-overlapping patches of the data / batch."),
    ("total_steps", -1, "Training steps; -1 = num_epochs × steps_per_epoch; 0 = only evaluate."),
    ("log_every_steps", 100, "Progress line and TensorBoard scalars every N steps."),
    ("checkpoint_every_steps", 2000, "Orbax checkpoint every N steps (and at the end and on SIGTERM/SIGINT)."),
    ("keep_checkpoints", 3, "Number of verified checkpoints kept."),
    ("eval.every_steps", 5000, "Validation PSNR every N steps (and at the end); 0 = only at the end."),
    ("eval.epochs", (), "Also validate after these epochs, e.g. (1, 2, 5, 10) (steps = epoch × steps_per_epoch)."),
    ("eval.data_dir", "", 'Benchmark root with <name>/ folders; "" = the embedded held-out photos.'),
    ("eval.datasets", "", 'Comma-separated dataset names under eval.data_dir ("" = Set5); without eval.data_dir '
                          'only "" or "embedded" (the held-out photos).'),
    ("eval.final_datasets", "", 'Datasets of the evaluation at the end of training ("" = eval.datasets).'),
    ("eval.scales", (2, 3, 4), "Scales evaluated (a single-scale EDSR run: its training scale)."),
    ("eval.protocol", "matlab", '"matlab" (MATLAB imresize/rgb2ycbcr, quantised) or "float".'),
    ("eval.metrics", "psnr,ssim", "Comma-separated metrics registered in jaxsr.eval.metrics (validation, tables)."),
]

# Optimizer-specific fields, chosen by optim.name.
OPTIMIZERS = {
    "sgd": [("optim.momentum", 0.9, "SGD momentum."),
            ("optim.clip_theta", 1e-4,
             "Adjustable clipping θ: gradients clipped to ±θ/γ_t (0 = off; configs/vdsr.py).")],
    "adam": [("optim.b1", 0.9, "Adam β1."), ("optim.b2", 0.999, "Adam β2."), ("optim.eps", 1e-8, "Adam ε.")],
}

# Family defaults that differ from _COMMON: each paper's model and recipe (the EDSR paper: Lim et al. 2017, §4.2).
FAMILIES = {
    "vdsr": {"model.kwargs": {"depth": 20, "features": 64, "residual": True, "channels": 1}},
    "edsr": {"model.name": "edsr_baseline", "model.kwargs": {"num_blocks": 16, "features": 64, "res_scale": 1.0},
             "data.scales": (2,), "data.patch_size": 48, "batch_size": 16, "loss": "l1", "optim.name": "adam",
             "optim.learning_rate": 1e-4, "optim.decay_factor": 0.5, "optim.decay_every_steps": 200_000,
             "optim.weight_decay": 0.0, "total_steps": 300_000, "checkpoint_every_steps": 5000,
             "eval.every_steps": 10_000, "eval.scales": (2,)},
}

# Allowed values (model.name, loss and eval.metrics are checked against their registries).
ENUMS = {
    "data.source": ("folders", "embedded", "tfds"),
    "data.sampler": ("tfdata", "device"),
    "compute_dtype": ("float32", "bfloat16"),
    "optim.name": tuple(OPTIMIZERS),
    "optim.schedule": ("step", "constant"),
    "eval.protocol": ("matlab", "float"),
}

_POSITIVE = ("a positive integer", lambda v: v >= 1)
_AUTO = ("-1 (derived) or a positive integer", lambda v: v == -1 or v >= 1)
_UNIT = ("in [0, 1)", lambda v: 0 <= v < 1)
_SCALES = ("a non-empty list of distinct integers from 2 to 16 (x1 is no super-resolution: its PSNR is infinite)",
           lambda v: len(v) > 0 and all(2 <= s <= 16 for s in v) and len(set(v)) == len(v))
# Value ranges: field → (description, predicate).
RULES = {
    "data.scales": _SCALES, "eval.scales": _SCALES, "data.patch_size": _POSITIVE, "batch_size": _POSITIVE,
    "log_every_steps": _POSITIVE, "checkpoint_every_steps": _POSITIVE, "keep_checkpoints": _POSITIVE,
    "seed": (">= 0", lambda v: v >= 0), "num_epochs": ("> 0", lambda v: v > 0),
    "steps_per_epoch": _AUTO, "total_steps": ("-1 (derived) or >= 0", lambda v: v >= -1),
    "eval.every_steps": (">= 0", lambda v: v >= 0),
    "eval.epochs": ("a list of epochs > 0", lambda v: all(e > 0 for e in v)),
    "optim.learning_rate": ("> 0", lambda v: v > 0), "optim.decay_factor": ("> 0", lambda v: v > 0),
    "optim.decay_every_epochs": ("> 0", lambda v: v > 0), "optim.decay_every_steps": _AUTO,
    "optim.weight_decay": (">= 0", lambda v: v >= 0), "optim.momentum": _UNIT,
    "optim.clip_theta": (">= 0", lambda v: v >= 0), "optim.b1": _UNIT, "optim.b2": _UNIT,
    "optim.eps": ("> 0", lambda v: v > 0),
}

# Fields that may change when a run is resumed: they do not alter what the checkpoints mean.
HARMLESS = ("imports", "log_every_steps", "checkpoint_every_steps", "keep_checkpoints", "total_steps", "num_epochs",
            "data.sampler", "data.cache_dir", "data.tfds_data_dir", "eval.")


def fields(family: str = "vdsr", optim_name: str | None = None) -> list[tuple[str, object, str]]:
    """(field, default, meaning) of a family, with the optimizer section of ``optim_name`` (default: the
    family's)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown config family {family!r}; known: {', '.join(FAMILIES)}")
    overrides = FAMILIES[family]
    optim_name = optim_name or overrides.get("optim.name", "sgd")
    rows = [(f, overrides.get(f, d), doc) for f, d, doc in _COMMON + OPTIMIZERS[optim_name]]
    return [(f, optim_name, doc) if f == "optim.name" else (f, d, doc) for f, d, doc in rows]


def register_family(name: str, overrides: dict, base: str = "vdsr") -> None:
    """Add (or replace) the recipe family ``name``: the defaults of family ``base`` with ``overrides``
    ({field: default}, e.g. a plug-in model's recipe); ValueError for a field the schema does not have."""
    known = {f for f, _, _ in _COMMON} | {f for rows in OPTIMIZERS.values() for f, _, _ in rows}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"cannot register config family {name!r}: no field {', '.join(unknown)} in the schema")
    if base not in FAMILIES:
        raise ValueError(f"unknown config family {base!r}; known: {', '.join(FAMILIES)}")
    FAMILIES[name] = {**FAMILIES[base], **overrides}


def get_config(family: str = "vdsr", optim_name: str | None = None, model: str | None = None
               ) -> ml_collections.ConfigDict:
    """The defaults of a family as a ConfigDict (recipes override fields of it); ``model``: a registered
    model name in place of the family's model, at its own defaults (``model.kwargs = {}``)."""
    config = ml_collections.ConfigDict()
    for field, default, _ in fields(family, optim_name):
        *path, last = field.split(".")
        node = config
        for p in path:
            if p not in node:
                node[p] = ml_collections.ConfigDict()
            node = node[p]
        node[last] = ml_collections.ConfigDict(default) if isinstance(default, dict) else default
    if model is not None:
        config.model.name, config.model.kwargs = model, ml_collections.ConfigDict()
    return config


def with_new_fields(stored: dict) -> dict:
    """A stored config (a run's ``config.json``, a campaign's record) with the schema fields added since it
    was written set to their defaults (a new field's default keeps the old behaviour)."""
    def merge(defaults: dict, given: dict, prefix: str = "") -> dict:
        out = dict(given)
        for key, value in defaults.items():
            if key not in out:
                out[key] = value
            elif isinstance(value, dict) and isinstance(out[key], dict) and f"{prefix}{key}" != "model.kwargs":
                out[key] = merge(value, out[key], f"{prefix}{key}.")
        return out

    optim = stored.get("optim", {}).get("name") if isinstance(stored.get("optim"), dict) else None
    return merge(get_config("vdsr", optim if optim in OPTIMIZERS else None).to_dict(), stored)


def optimizer(name: str, **values) -> ml_collections.ConfigDict:
    """An ``optim`` section for optimizer ``name`` (the schema's defaults, then ``values``), to replace a
    recipe's: ``config.optim = optimizer("adam", learning_rate=1e-3)``."""
    config = get_config("vdsr", name).optim
    for key, value in values.items():
        if key not in config:
            raise ValueError(f"optim.{key} is not a field of the {name} optimizer")
        config[key] = value
    return config


def describe(family: str = "vdsr") -> str:
    """The fields of a family, one per line: ``field = default  # meaning``."""
    return "\n".join(f"{f} = {d!r}  # {doc}" for f, d, doc in fields(family))
