"""The one training loop: steps, their periodic actions, and the rule that makes a checkpoint good.

:class:`Loop` advances a state one step at a time (``run_step(state, step) → (state, metrics)``), at most one
step in flight, until the last step or a stop request, and after each step does the periodic actions that
are due (:class:`Every`: log, save, validate, ...). The verified-checkpoint rule lives here, once:

    A checkpoint saved at step s holds params whose loss is that of step s + 1. After that step it becomes
    good (the store's ``confirm``, which also refuses non-finite params) if that loss is finite, and is
    discarded (the store's ``discard_unconfirmed``) if not.

At the end (the last step, a budget, a signal) the state is saved unless it is the last good checkpoint,
and confirmed with the loss of one more step made on a copy. A store has the interface of
``jaxsr.weights.checkpoint.Checkpointer`` (``save/confirm/discard_unconfirmed``; a campaign's ``StateFile`` too).

Two kinds of run share it: ``jaxsr.train.training`` (one run, and each leg of a campaign: a non-finite loss stops
the run, keeping only good checkpoints) and ``jaxsr.research.experiments.runner`` (a sweep of variants in one
stacked state: a diverged variant is a result, and the checkpoints keep the others). What differs is said
by the hooks :meth:`Loop.observe`, :meth:`Loop.finite`, :meth:`Loop.items` and :meth:`Loop.rejected`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from jaxsr.base.errors import JaxsrError
from jaxsr.train.monitor import NonFinite

__all__ = ["Every", "Loop"]


@dataclass(frozen=True)
class Every:
    """A periodic action of the loop: ``act(step)`` after every ``steps``-th step (never if 0), after each
    step in ``at``, after the first step since (re)starting when ``first``, and at the last step only (but
    always) when ``last``."""

    steps: int
    act: Callable[[int], None]
    first: bool = False
    last: bool = False
    at: frozenset = frozenset()

    def due(self, step: int, first: int, total: int) -> bool:
        if step == total:
            return self.last
        return ((self.steps > 0 and step % self.steps == 0) or step in self.at
                or (self.first and step == first + 1))


class Loop:
    """Steps ``step`` → ``total`` of ``run_step`` from ``state``, saving into ``store``; ``last_good`` is the
    step of the newest good checkpoint (a resumed run's), or None. Subclasses set ``periodic`` (a list of
    :class:`Every`, run in order after each step, once the awaiting checkpoint is judged) and the hooks."""

    def __init__(self, state, step: int, total: int, run_step, store, last_good: int | None = None):
        self.state, self.run_step, self.store = state, run_step, store
        self.step = self.first = int(step)
        self.total, self.last_good = int(total), last_good
        self.awaiting, self.held = None, None  # the saved checkpoint whose params' loss is unknown, and what it holds
        self.periodic: list[Every] = []

    # What a kind of run says.
    def observe(self, step: int, metrics) -> None:
        """Keep the metrics of ``step`` (on the device: fetched only when judged)."""
        raise NotImplementedError

    def finite(self) -> bool:
        """Whether the losses since the awaiting checkpoint was saved are finite for what it holds
        (``self.held``); may raise NonFinite instead, which stops the run."""
        raise NotImplementedError

    def items(self, step: int) -> tuple:
        """(params, train state, what the checkpoint holds) to save at ``step``."""
        raise NotImplementedError

    def rejected(self, step: int) -> None:
        """The checkpoint of ``step`` was discarded: stop the run (a sweep goes on instead)."""
        raise NonFinite(f"non-finite params in the checkpoint of step {step}")

    # The loop and the rule.
    def run(self, stop: Callable[[int], bool]):
        """Train until ``total`` or until ``stop(steps made in this call)``; then :meth:`finish`. Returns the
        state. A non-finite loss that stops the run (NonFinite) discards every checkpoint not yet known
        good and is one JaxsrError naming the last good state."""
        previous = None
        try:
            while self.step < self.total and not stop(self.step - self.first):
                self.state, metrics = self.run_step(self.state, self.step)
                self.step += 1
                self.observe(self.step, metrics)
                if previous is not None:  # at most one step in flight: a signal is answered within a step
                    previous["loss"].block_until_ready()
                previous = metrics
                self.confirm()  # this step's loss is the awaiting checkpoint's params' loss
                for action in self.periodic:
                    if action.due(self.step, self.first, self.total):
                        action.act(self.step)
            self.finish()
        except NonFinite as e:
            self.store.discard_unconfirmed()
            kept = (f"the latest checkpoint (step {self.last_good}) is the last good state"
                    if self.last_good is not None else "no checkpoint was good, none is kept")
            raise JaxsrError(f"{e}; stopped, keeping only checkpoints known to be good: {kept}") from None
        return self.state

    def save(self, step: int) -> None:
        """Save the state of ``step``; it awaits the loss of the next step."""
        params, train, self.held = self.items(step)
        self.store.save(step, params, train)
        self.awaiting = step

    def confirm(self) -> None:
        """The rule: the awaiting checkpoint is good once the loss of its params is known finite, else it is
        discarded (and :meth:`rejected`)."""
        if self.awaiting is None:
            return
        step, self.awaiting = self.awaiting, None
        if self.finite() and self.store.confirm(step):
            self.last_good = step
        else:
            self.store.discard_unconfirmed()
            self.rejected(step)

    def finish(self) -> None:
        """Save the last state unless it is the last good checkpoint (interrupted, or nothing to train), and
        confirm it with the loss of one more step, made on a copy (the step donates its state)."""
        if self.awaiting is None and self.last_good != self.step:
            self.save(self.step)
        if self.awaiting is not None:
            _, metrics = self.run_step(jax.tree_util.tree_map(jnp.copy, self.state), self.step)
            self.observe(self.step + 1, metrics)
            self.confirm()
