"""Alias (docs/ARCHITECTURE.md, "Old names"): ``jaxsr.upscale:main``, the entry point of ``jaxsr-upscale`` scripts
installed before the package move (``setup.cfg`` now names ``jaxsr.cli.upscale:main``)."""

from jaxsr.cli.upscale import main  # noqa: F401

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
