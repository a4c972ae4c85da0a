"""The VDSR paper's experiments (Kim et al. 2016, §4), one command each.

``python -m jaxsr.experiments {depth,residual,scales} --workdir DIR --data.folders=.../T91``:

* ``depth`` — Fig. 3: PSNR vs depth (5 … 20 weight layers) at x2/x3/x4, one network per depth, trained
  one after another (different shapes);
* ``residual`` — Fig. 4 and Table 1: residual vs non-residual 20-layer networks at initial learning
  rates 0.1 / 0.01 / 0.001, Set5 x2 during training (10/20/40/80 epochs) — six variants in one vmapped
  sweep (``jaxsr.train.sweep``), sharing one batch stream;
* ``scales`` — Table 2: networks trained on {2}, {3}, {4}, {2,3}, {2,4}, {3,4}, {2,3,4}, tested at
  x2/x3/x4 — seven variants in one vmapped sweep, each with its own patch stream.

Results go to ``DIR/<name>.md``, ``.json`` and ``.png`` with the paper's printed numbers beside jaxsr's
(``paper.json``). Training is resumable and can be bounded with ``--max_seconds``.
"""

from jaxsr.research.experiments.config import EXPERIMENTS, get_config

__all__ = ["EXPERIMENTS", "get_config", "run"]


def run(name: str, config, workdir: str) -> dict:
    """Train/evaluate experiment ``name`` with ``config`` (``get_config(name)``) and write its report
    files into ``workdir``; returns the JSON document."""
    from jaxsr.research.experiments.driver import run_and_report

    return run_and_report(name, config, workdir)
