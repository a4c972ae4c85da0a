"""Helpers shared by the command-line entry points: one-line errors and flag parsing."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from jaxsr.base.errors import JaxsrError, UsageError

__all__ = ["run_cli", "closed_pipe", "parse_scales", "absl_main", "absl_run", "parse_flags_or_exit", "OneLineParser", "wants_help",
           "absl_flags_help", "resolve_config_argv"]

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort")  # answered by the command's own help text (--helpfull: absl's)


def closed_pipe() -> int:
    """What a command does when its reader went away (``jaxsr --help | head -1``): no traceback, no error
    line; stdout is pointed at /dev/null so that the interpreter's last flush cannot fail either. Returns
    141 (128 + SIGPIPE, what a shell reports for a command its pipe's reader closed)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def run_cli(fn: Callable[[], int | None], interrupted: str = "interrupted") -> int:
    """Run ``fn`` and return the exit status: ``fn``'s own int (0 when it returns anything else); a
    JaxsrError becomes ``error: <message>`` on stderr and status 1 (2 for a UsageError), an OSError of the
    environment the same, and Ctrl-C ``error: <interrupted>`` with status 130. Every entry point goes
    through here."""
    try:
        status = fn()
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except JaxsrError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # stdout's reader is gone (| head): nothing left to say
        return closed_pipe()
    except OSError as e:  # the environment: a full disk, a read-only folder, a vanished file
        if e.errno is None:
            raise
        print(f"error: {e.filename + ': ' if e.filename else ''}{e.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
    return status if isinstance(status, int) else 0


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors (``--scale 2.5``, a missing argument) are one ``error:`` line
    and exit status 2, as every other error of jaxsr's commands; ``--help`` is unchanged."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parse_scales(values) -> list[int]:
    """["2", "3"] → [2, 3]; JaxsrError for anything that is not a positive integer."""
    try:
        scales = [int(v) for v in values]
    except (TypeError, ValueError):
        scales = []
    if not scales or min(scales) < 1:
        raise JaxsrError(f"--scales must be positive integers, got {','.join(map(str, values))!r}")
    return scales


def absl_main(argv, fn: Callable[[], None]) -> int:
    """Body of an absl ``main``: quiet logs, no stray arguments, join other processes, then ``fn``."""
    from absl import app, logging

    from jaxsr.base.parallel import initialize_distributed

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")

    def run():
        initialize_distributed()
        fn()

    return run_cli(run)


def parse_flags_or_exit(argv: list[str]) -> list[str]:
    """absl flag parsing (``app.run(main, flags_parser=...)``) that turns any parse failure — an unknown
    flag, a config typo like ``--config.batchsize=8``, a bad value, a config file that does not load —
    into one ``error:`` line and exit status 1."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except Exception as e:  # absl flags.Error, and whatever ml_collections raises for a config override
        text = e.args[0] if isinstance(e, KeyError) and e.args and isinstance(e.args[0], str) else str(e)
        if isinstance(e, (KeyError, AttributeError)):
            import ast

            while len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":  # str(KeyError) nests quotes
                try:
                    text = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    break
            text = f"unknown config field {text}"
        lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
        detail = " ".join(lines[:4])[:400] if lines else type(e).__name__
        print(f"error: {detail}", file=sys.stderr)
        sys.exit(1)


def wants_help(argv: list[str]) -> bool:
    """Whether ``argv`` (program name first) asks for help (:data:`HELP_FLAGS`, before a ``--``)."""
    args = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    return any(a in HELP_FLAGS or a.startswith("--help=") for a in args)


def absl_flags_help(module: str) -> str:
    """The absl flags ``module`` defines, as absl's ``--help`` lists them."""
    from absl import flags

    text = flags.FLAGS.module_help(module).strip("\n")
    return text.split("\n", 1)[1] if text.startswith(f"{module}:") else text


def resolve_config_argv(argv: list[str], flag: str = "config") -> list[str]:
    """``argv`` with a recipe name given to ``--config`` turned into its file (:mod:`jaxsr.cli.recipes`); an
    unknown name is one ``error:`` line (listing the recipes) and exit status 1."""
    from jaxsr.cli.recipes import resolve_flag

    try:
        return resolve_flag(argv, flag)
    except JaxsrError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def absl_run(main, argv: list[str] | None = None, help: Callable[[], str] | None = None, **kwargs) -> None:
    """``absl.app.run(main, argv=argv, **kwargs)``, except that ``--help`` prints ``help()`` when given (the
    command's text, without importing JAX) and that ``--help``/``--helpfull``/``--helpshort`` exit 0 (absl
    exits 1)."""
    argv = list(sys.argv if argv is None else argv)
    if help is not None and wants_help(argv):
        try:
            print(help(), flush=True)
        except BrokenPipeError:
            raise SystemExit(closed_pipe()) from None
        raise SystemExit(0)
    from absl import app

    try:
        app.run(main, argv=argv, **kwargs)
    except SystemExit as e:
        helped = any(a.split("=")[0] in ("--help", "-h", "-?", "--helpfull", "--helpshort") for a in argv[1:])
        raise SystemExit(0 if helped and e.code == 1 else e.code) from None
