"""Train a jaxsr model: ``jaxsr train --config quickstart --workdir runs/quickstart`` (the same as
``python train.py --config configs/quickstart.py --workdir runs/quickstart``).

``--config`` takes a recipe by name (below; ``configs/<name>.py``, also in an installed jaxsr) or any config
file (``path.py``, ``path.py:ARG``). Any config field can be overridden, e.g. ``--config.total_steps=1000
--config.data.sampler=device``; the fields, defaults and meanings: ``jaxsr config`` (``jaxsr/train/config.py``).
Re-running the same command resumes from the newest verified checkpoint in ``--workdir``. ``--import
my_pkg.sr_models`` imports plug-in modules (models, metrics, losses) first; they are stored in the run's
config (``imports``). The last line says what the run wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import flags
from ml_collections import config_flags

__all__ = ["main", "cli", "summary", "help_text"]

config_flags.DEFINE_config_file("config", None, "Training config: a recipe name (jaxsr train --help lists them) or "
                                "a config file (configs/*.py).", lock_config=True)
flags.DEFINE_string("workdir", None, "Run folder: checkpoints, config.json, metrics, TensorBoard.")
flags.DEFINE_list("import", [], "Plug-in modules to import first (they register models, metrics, losses): dotted "
                  "names or .py files; added to the config's imports, so the run keeps them.")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def summary(workdir, stopped: str | None = None) -> str:
    """``wrote WORKDIR: checkpoint at step N, config.json, metrics.jsonl, tensorboard/`` — what the run folder
    holds now (the newest verified checkpoint), with why it stopped early when it did."""
    from jaxsr.weights.checkpoint import verified_steps

    run, steps = Path(workdir), verified_steps(workdir)
    parts = [f"checkpoint at step {steps[-1]}" if steps else "no verified checkpoint"]
    parts += [name for name in ("config.json", "metrics.jsonl", "tensorboard/") if (run / name.rstrip("/")).exists()]
    return f"wrote {workdir}: {', '.join(parts)}" + (f" ({stopped})" if stopped else "")


def main(argv):
    """The absl ``main`` (flags parsed): check the config, train, then the one-line summary."""
    from jaxsr.cli import absl_main

    def run():
        from jaxsr.base.plugins import split
        from jaxsr.train.config_check import check_fields

        if FLAGS["import"].value:
            FLAGS.config.imports = ",".join(dict.fromkeys(split(FLAGS.config.get("imports", "")) +
                                                          split(FLAGS["import"].value)))
        check_fields(FLAGS.config)  # a bad field fails before the training machinery is even imported
        import jax

        from jaxsr.train.training import train_and_evaluate

        try:
            results = train_and_evaluate(FLAGS.config, FLAGS.workdir)
        except SystemExit as e:  # a signal: the run saved a checkpoint and stops
            if e.code not in (0, None) and jax.process_index() == 0:
                print(summary(FLAGS.workdir, "stopped by a signal; run the same command to resume"), flush=True)
            raise
        if jax.process_index() == 0:
            print(summary(FLAGS.workdir, None if results is not None else "stopped early; run again to continue"),
                  flush=True)

    return absl_main(argv, run)


def help_text(prog: str) -> str:
    """``--help``: this docstring, the flags, the recipes by name — without importing JAX."""
    from jaxsr.cli import absl_flags_help
    from jaxsr.cli.catalog import models_help
    from jaxsr.cli.recipes import listing

    return (f"usage: {prog} --config RECIPE|FILE --workdir DIR [--config.FIELD=VALUE ...] [--import MODULE]\n\n"
            f"{__doc__.strip()}\n\nflags:\n{absl_flags_help(__name__)}\n\nrecipes (--config NAME):\n{listing()}\n\n"
            f"{models_help('--config.model.name=NAME')}")


def cli(argv: list[str] | None = None, prog: str = "jaxsr train") -> None:
    """The command: ``argv`` (default ``sys.argv``, program name first) with recipe names resolved, ``--help``
    answered without JAX, then absl's parse and :func:`main`; exits."""
    from jaxsr.cli import absl_run, parse_flags_or_exit, resolve_config_argv, wants_help

    argv = list(sys.argv if argv is None else argv)
    if not wants_help(argv):
        argv = resolve_config_argv(argv)
    absl_run(main, argv=argv, flags_parser=parse_flags_or_exit, help=lambda: help_text(prog))
