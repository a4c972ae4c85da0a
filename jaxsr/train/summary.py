"""Training scalars: ``<workdir>/metrics.jsonl`` (one JSON object per line, easy to parse) and TensorBoard
event files in ``<workdir>/tensorboard`` (written with tensorboardX, no TensorFlow needed). Only JAX
process 0 writes."""

from __future__ import annotations

import json
import threading
import weakref
from pathlib import Path

from jaxsr.base.errors import JaxsrError

__all__ = ["MetricWriter", "FLUSH_SECONDS"]

FLUSH_SECONDS = 1


class MetricWriter:
    """Append scalars per step; ``enabled=False`` (processes other than 0) makes every call a no-op."""

    def __init__(self, workdir, enabled: bool = True):
        self.enabled = enabled
        if not enabled:
            return
        from tensorboardX import SummaryWriter

        Path(workdir).mkdir(parents=True, exist_ok=True)
        self.path, self.failure = Path(workdir) / "metrics.jsonl", None
        self._jsonl = open(self.path, "a", buffering=1)
        # jsonl is line-buffered; TensorBoard events reach the disk within FLUSH_SECONDS (tensorboardX writes
        # them from a thread), so even a killed run (SIGKILL, OOM) keeps its scalars; close() flushes all.
        self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"), flush_secs=FLUSH_SECONDS)
        _catch_writer_thread_errors(self)

    def write(self, step: int, scalars: dict) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in scalars.items()}
        try:
            self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
        except OSError as e:  # a full disk: one line, not the tracebacks of every writer
            raise JaxsrError(f"cannot write the training log {self.path}: {e.strerror or e}") from None
        if self.failure is not None:
            raise JaxsrError(f"cannot write TensorBoard events in {self.path.parent / 'tensorboard'}: "
                             f"{self.failure.strerror or self.failure}")
        for k, v in values.items():
            self._tb.add_scalar(k, v, int(step))

    def close(self) -> None:
        """Flush and close. A failure here (a full disk) is not raised: it would hide the error that ended
        the run; metrics.jsonl is written line by line (a failed line is an error of :meth:`write`), so at
        most the last TensorBoard events are lost."""
        if not self.enabled or self._jsonl.closed:
            return
        failed = False
        for close in (self._jsonl.close, self._tb.close):
            try:
                close()
            except (OSError, ValueError):
                failed = True
        if failed or self.failure is not None:
            for writer in (getattr(self._tb, "all_writers", None) or {}).values():  # no second try at exit
                setattr(getattr(writer, "event_writer", None), "_closed", True)


_OPEN: "weakref.WeakSet[MetricWriter]" = weakref.WeakSet()


def _catch_writer_thread_errors(writer: MetricWriter) -> None:
    """tensorboardX writes events from a thread, which dies with a traceback when the disk is full: keep its
    error for :meth:`MetricWriter.write` to report as one line instead (one hook for every writer)."""
    if not getattr(threading.excepthook, "_jaxsr", False):
        previous = threading.excepthook

        def hook(args):
            if isinstance(args.exc_value, OSError) and type(args.thread).__name__ == "_EventLoggerThread":
                for w in list(_OPEN):
                    w.failure = w.failure or args.exc_value
                return
            previous(args)

        hook._jaxsr = True
        threading.excepthook = hook
    _OPEN.add(writer)
