"""Train a jaxsr model: ``python train.py --config configs/quickstart.py --workdir runs/quickstart`` — the same
command as ``jaxsr train`` (its flags, its help: ``python train.py --help``; the code: ``jaxsr/cli/train.py``).

Any config field can be overridden, e.g. ``--config.total_steps=1000 --config.data.sampler=device``; ``--config``
also takes a recipe by name (``--config quickstart``). Re-running the same command resumes from the newest
verified checkpoint in ``--workdir``.
"""

if __name__ == "__main__":
    from jaxsr.cli.train import cli

    cli(prog="python train.py")
