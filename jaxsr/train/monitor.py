"""Watching a training run: stop requests (SIGTERM/SIGINT, a time budget), step metrics kept on the
device until checked for a non-finite loss, and the progress line with its ETA."""

from __future__ import annotations

import signal
import time

import jax
import numpy as np

__all__ = ["StopRequest", "StepMetrics", "NonFinite", "eta", "progress_line"]


class StopRequest:
    """Turns SIGTERM/SIGINT into a flag (``signal``) the loop checks between steps (it saves, then exits);
    with ``max_seconds`` > 0, ``due()`` is also true once that time budget is spent, and with ``max_steps``
    > 0 once ``due(steps_done)`` is given that many steps."""

    def __init__(self, max_seconds: float = 0, max_steps: int = 0):
        self.deadline = time.monotonic() + max_seconds if max_seconds > 0 else None
        self.max_steps, self.steps_reached = max_steps, False
        self.signal, self._previous = None, {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def due(self, steps_done: int = 0) -> bool:
        self.steps_reached = self.max_steps > 0 and steps_done >= self.max_steps
        return (self.signal is not None or self.steps_reached
                or (self.deadline is not None and time.monotonic() > self.deadline))

    def reason(self) -> str:
        if self.signal is not None:
            return signal.Signals(self.signal).name
        return "--max_steps reached" if self.steps_reached else "--max_seconds reached"


class NonFinite(Exception):
    """A non-finite loss, gradient or checkpoint: the run stops, keeping only good checkpoints."""


class StepMetrics:
    """Per-step metrics on the device; ``check`` fetches them and raises NonFinite on a non-finite
    loss/gradient; ``mean`` averages the steps since the last mean (float per metric)."""

    def __init__(self):
        self.device, self.host = [], []

    def add(self, step: int, metrics) -> None:
        self.device.append((step, metrics))

    def check(self) -> None:
        fetched, self.device = jax.device_get(self.device), []
        for step, m in fetched:
            if not (np.isfinite(m["loss"]) and np.isfinite(m["grad_norm"])):
                raise NonFinite(f"non-finite loss or gradient at step {step} (loss={m['loss']:.4g}, "
                                f"grad_norm={m['grad_norm']:.4g})")
        self.host += [m for _, m in fetched]

    def mean(self) -> dict:
        """The means since the last ``mean`` (consumed), with ``steps``: how many steps they average."""
        out = self.peek()
        self.host = []
        return out

    def peek(self) -> dict:
        """Like :meth:`mean`, without consuming: a progress line between two logs."""
        self.check()
        host = self.host
        return {**{k: float(np.mean([m[k] for m in host])) for k in host[0]}, "steps": len(host)} if host else {}


def eta(seconds: float) -> str:
    """H:MM:SS, with days past 24 hours: ``5d 14:01:37``."""
    days, rest = divmod(int(seconds), 86400)
    clock = time.strftime("%H:%M:%S", time.gmtime(rest))
    return f"{days}d {clock}" if days else clock


def progress_line(step: int, total: int, metrics: dict, rate: float | None, first_seconds: float = 0) -> str:
    """``step  N/T  mean loss … (k steps)  lr …  grad_norm …  clip …  R steps/s  ETA …``: ``metrics`` are the
    means over the k steps since the previous line (:meth:`StepMetrics.mean`), ``rate`` > 0 steps/s measured
    without compilation, validation or saving; for the first step after (re)starting (``rate`` None) the
    seconds it took, compilation included, and no ETA."""
    steps = metrics.get("steps", 1)
    head = (f"step {step:>7d}/{total}  mean loss {metrics['loss']:.5g} ({steps} step{'s' * (steps != 1)})  "
            f"lr {metrics['lr']:.3g}  grad_norm {metrics['grad_norm']:.3g}  clip {metrics['clip_fraction']:.3f}  ")
    if rate is None:
        return head + f"first step {first_seconds:.1f} s (compilation included)"
    return head + f"{rate:.2f} steps/s  ETA {eta((total - step) / rate)}"
