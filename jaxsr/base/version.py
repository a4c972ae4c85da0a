"""The package version, one literal (``setup.cfg`` reads it statically; ``jaxsr.__version__`` re-exports it)."""

__version__ = "0.1.0"
