"""Optimizers of the papers as optax chains.

* VDSR: weight decay → **adjustable gradient clipping** → SGD momentum → step-decay learning rate.
  Adjustable clipping (Kim et al. 2016, §3.2) clips each gradient element to [−θ/γ_t, θ/γ_t], γ_t the
  learning rate of the *same* schedule at step t, so the largest per-element step γ_t·clip stays θ
  whatever the learning rate: high rates train fast without exploding gradients.
* EDSR/MDSR: Adam (β = 0.9, 0.999, ε = 1e-8) with the learning rate halved every N steps.

The clipping transform is state-free: it reads the step as an optax *extra argument*,
``tx.update(grads, opt_state, params, step=step)``, so no second counter can drift from the schedule's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["step_decay", "adjustable_clip", "clip_bound", "clip_theta", "make_schedule", "make_optimizer"]


def step_decay(base_lr: float, every_steps: int, factor: float) -> optax.Schedule:
    """lr(t) = base_lr · factor^floor(t / every_steps) (VDSR: 0.1 · 0.1^⌊t/20 epochs⌋)."""
    return optax.exponential_decay(base_lr, transition_steps=max(1, int(every_steps)), decay_rate=factor,
                                   staircase=True)


def clip_bound(theta: float, schedule: optax.Schedule, step):
    """θ / γ_t, the per-element gradient bound of adjustable clipping at ``step``."""
    return theta / schedule(step)


def clip_theta(cfg) -> float:
    """θ of adjustable clipping in an ``optim`` config section (0.0 for an optimizer without it)."""
    return cfg.clip_theta if cfg.name == "sgd" else 0.0


def adjustable_clip(theta: float, schedule: optax.Schedule) -> optax.GradientTransformationExtraArgs:
    """Clip every gradient element to [−θ/γ_t, θ/γ_t]; γ_t = ``schedule(step)``, ``step`` an extra arg.

    State-free (its state is ``optax.EmptyState``). ``update`` requires ``step=`` (int array or int).
    """
    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None, *, step, **extra):
        del params, extra
        bound = clip_bound(theta, schedule, step)
        return jax.tree_util.tree_map(lambda g: jnp.clip(g, -bound, bound).astype(g.dtype), updates), state

    return optax.GradientTransformationExtraArgs(init, update)


def _kernels_only(params):
    """Weight decay mask: conv/dense kernels yes, biases no."""
    return jax.tree_util.tree_map_with_path(lambda path, _: getattr(path[-1], "key", None) == "kernel", params)


def make_schedule(cfg, learning_rate=None) -> optax.Schedule:
    """Learning-rate schedule from an ``optim`` config (``schedule``: "step" or "constant").

    ``learning_rate`` replaces ``cfg.learning_rate`` when given; it may be a traced float32 scalar, so a
    vmapped sweep (``jaxsr.train.sweep``) builds each variant's schedule — and the clipping bound θ/γ_t that
    depends on it — from its own array-valued learning rate.
    """
    lr = cfg.learning_rate if learning_rate is None else learning_rate
    if cfg.schedule == "step":
        return step_decay(lr, cfg.decay_every_steps, cfg.decay_factor)
    if cfg.schedule == "constant":
        return optax.constant_schedule(lr)
    raise ValueError(f"optim.schedule must be 'step' or 'constant', got {cfg.schedule!r}")


def make_optimizer(cfg, learning_rate=None) -> tuple[optax.GradientTransformationExtraArgs, optax.Schedule]:
    """(optax chain, schedule) from an ``optim`` config section.

    Fields: name ("sgd" | "adam"), learning_rate, schedule, decay_every_steps, decay_factor,
    weight_decay, momentum (sgd), clip_theta (sgd; 0 disables clipping), b1, b2, eps (adam).
    ``learning_rate``: overrides ``cfg.learning_rate`` (a float or a traced scalar; see make_schedule).
    """
    schedule = make_schedule(cfg, learning_rate)
    parts = []
    if cfg.weight_decay:
        parts.append(optax.add_decayed_weights(cfg.weight_decay, mask=_kernels_only))
    if cfg.name == "sgd":
        if cfg.clip_theta:
            parts.append(adjustable_clip(cfg.clip_theta, schedule))
        parts += [optax.trace(decay=cfg.momentum), optax.scale_by_learning_rate(schedule)]
    elif cfg.name == "adam":
        parts += [optax.scale_by_adam(b1=cfg.b1, b2=cfg.b2, eps=cfg.eps), optax.scale_by_learning_rate(schedule)]
    else:
        raise ValueError(f"optim.name must be 'sgd' or 'adam', got {cfg.name!r}")
    return optax.chain(*parts), schedule
