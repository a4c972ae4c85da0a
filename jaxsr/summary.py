"""Training scalars: ``<workdir>/metrics.jsonl`` (one JSON object per line, easy to parse) and TensorBoard
event files in ``<workdir>/tensorboard`` (written with tensorboardX, no TensorFlow needed). Only JAX
process 0 writes."""

from __future__ import annotations

import json
from pathlib import Path

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
        self._jsonl = open(Path(workdir) / "metrics.jsonl", "a", buffering=1)
        # jsonl is line-buffered; TensorBoard events reach the disk within FLUSH_SECONDS (tensorboardX writes
        # them from a thread), so even a killed run (SIGKILL, OOM) keeps its scalars; close() flushes all.
        self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"), flush_secs=FLUSH_SECONDS)

    def write(self, step: int, scalars: dict) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in scalars.items()}
        self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
        for k, v in values.items():
            self._tb.add_scalar(k, v, int(step))

    def close(self) -> None:
        if self.enabled and not self._jsonl.closed:
            self._jsonl.close()
            self._tb.close()
