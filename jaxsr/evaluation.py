"""Alias (docs/ARCHITECTURE.md, "Old names"): ``jaxsr.evaluation.evaluate`` (the public API's name) for
``jaxsr.eval.evaluation``."""

from jaxsr.eval.evaluation import *  # noqa: F401,F403
from jaxsr.eval.evaluation import __all__  # noqa: F401
