"""``jaxsr COMMAND [flags]``: the one command (``setup.cfg`` installs it; ``python -m jaxsr`` is the same).

Each command is one module of ``jaxsr/cli/``, imported only when it is named, so that ``jaxsr --help`` and
``jaxsr COMMAND --help`` answer without importing JAX. ``train`` and ``evaluate`` parse absl flags (with
``--config.FIELD=VALUE`` overrides), the others argparse; every one takes ``--name value`` and
``--name=value``.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["COMMANDS", "main", "help_text"]

# command → (module, one line for jaxsr --help)
COMMANDS = {
    "train": ("jaxsr.cli.train", "train a model from a recipe (jaxsr train --help lists them) or a config file; "
                                 "rerun to resume"),
    "evaluate": ("jaxsr.cli.evaluate", "PSNR/SSIM tables of a model on benchmark folders (MATLAB-exact), "
                                       "an HTML report"),
    "upscale": ("jaxsr.cli.upscale", "super-resolve your own images (jaxsr-upscale is the same)"),
    "convert": ("jaxsr.cli.convert", "published weights (the authors' .mat, an EDSR-PyTorch .pt) to a .msgpack"),
    "zoo": ("jaxsr.cli.zoo", "the shipped and the published weights; re-measure their scores"),
    "paper": ("jaxsr.cli.paper", "the papers' tables reproduced beside their printed figures"),
    "experiments": ("jaxsr.cli.experiments", "the VDSR paper's experiments on the 91 images (depth, residual, "
                                             "scales)"),
    "campaign": ("jaxsr.cli.campaign", "a long training run in legs: run, status, curve, export"),
    "config": ("jaxsr.cli.config", "every training-config field with its default and meaning"),
}
_ABSL = {"train", "evaluate"}  # their module's cli(argv with the program name) exits


def help_text() -> str:
    """``jaxsr --help``: the commands, one line each."""
    from jaxsr.base.version import __version__

    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {line}" for name, (_, line) in COMMANDS.items())
    return (f"usage: jaxsr COMMAND [flags]   (jaxsr COMMAND --help: its flags)\n\n"
            f"jaxsr {__version__}: single-image super-resolution in JAX/Flax (VDSR, SRCNN, EDSR/MDSR) with "
            f"MATLAB-exact evaluation.\n\ncommands:\n{rows}\n\n"
            "e.g.  jaxsr upscale photo.jpg            (x2 with the shipped VDSR: photo_x2.png)\n"
            "      jaxsr train --config quickstart --workdir runs/quickstart")


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv`` (default ``sys.argv[1:]``) to its command; returns (or exits with) its status. A
    reader that closes the pipe early (``jaxsr --help | head -1``) ends it quietly (``closed_pipe``)."""
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        from jaxsr.cli import closed_pipe

        return closed_pipe()


def _dispatch(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(help_text(), flush=True)
        return 0
    if argv[0] == "--version":
        from jaxsr.base.version import __version__

        print(f"jaxsr {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r} (commands: {', '.join(COMMANDS)}; see jaxsr --help)",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    prog = f"jaxsr {command}"
    if command in _ABSL:
        module.cli([prog, *rest], prog=prog)  # exits
        return 0
    return module.main(rest, prog=prog)


if __name__ == "__main__":
    sys.exit(main())
