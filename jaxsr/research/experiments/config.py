"""The experiments' settings: the VDSR recipe (``configs/vdsr.py``) on the 91 images, per experiment.

Every field can be set on the command line as ``--<field>=<value>`` (e.g. ``--data.folders=.../T91``,
``--model.kwargs.features=32``, ``--optim.clip_theta=0.01``).
"""

from __future__ import annotations

import ml_collections

EXPERIMENTS = ("depth", "residual", "scales")
TRAIN_SETS = ((2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4))  # Table 2's rows


def get_config(name: str) -> ml_collections.ConfigDict:
    """The settings of experiment ``name`` (one of EXPERIMENTS)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    c = ml_collections.ConfigDict()
    c.seed = 0  # Seed of every variant's init and patch stream.
    c.model = ml_collections.ConfigDict()
    c.model.name = "vdsr"
    c.model.kwargs = ml_collections.ConfigDict({"depth": 20, "features": 64, "channels": 1})  # residual: per variant
    c.depths = (5, 8, 11, 14, 17, 20)  # depth: network depths (weight layers), trained one after another.
    c.learning_rates = (0.1, 0.01, 0.001)  # residual: initial learning rates (Table 1).
    c.train_sets = ",".join("+".join(map(str, s)) for s in TRAIN_SETS)  # scales: "2,3,2+3,..." (Table 2).

    c.data = ml_collections.ConfigDict()
    c.data.source = "folders"
    c.data.folders = ""  # Training images, e.g. ../shared/data/train/T91 (the paper's 91 images).
    c.data.scales = (2, 3, 4)  # Training scales (depth, residual); the scales experiment uses train_sets.
    c.data.patch_size = 41
    c.data.cache_dir = ""  # Prepared LR/ILR tables ("" = <workdir>/cache).
    c.batch_size = 64
    c.compute_dtype = "float32"
    c.loss = "l2"

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "sgd"
    c.optim.learning_rate = 0.1  # depth, scales (the residual experiment sweeps learning_rates).
    c.optim.schedule = "step"
    c.optim.decay_factor = 0.1
    c.optim.decay_every_epochs = 20
    c.optim.decay_every_steps = -1  # Resolved from decay_every_epochs × steps per epoch.
    c.optim.weight_decay = 1e-4
    c.optim.momentum = 0.9
    c.optim.clip_theta = 1e-4  # As configs/vdsr.py (θ is not printed in the paper).

    # How a group's variants share the jitted step: "vmap", "loop" (unrolled) or "auto" (loop on CPU,
    # where grouped convolutions are slow — benchmarks/sweep_step.py —, vmap on GPU/TPU).
    c.sweep_mode = "auto"
    c.epochs = 80.0  # Paper epochs (jaxsr.data.epochs: T91 at x2/x3/x4 → 125 steps of 64).
    c.steps = -1  # Training steps; -1 = epochs × steps per epoch (a small number for a CPU check).
    c.max_seconds = 0.0  # Stop cleanly after this much wall time (0 = no limit); rerun to continue.
    c.log_every_steps = 50
    c.checkpoint_every_steps = 1000

    c.eval = ml_collections.ConfigDict()
    c.eval.data_dir = ""  # Benchmark root with Set5/; "" = the first of <folder>/.., <folder>/../../test.
    c.eval.datasets = "Set5"  # Comma-separated; the paper's numbers are for Set5.
    c.eval.scales = (2,) if name == "residual" else (2, 3, 4)
    # Evaluation points in epochs (also the final step): Fig. 4's curve, Table 1's 10/20/40/80.
    c.eval.epochs = (1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 70, 80) if name == "residual" else ()
    return c
