"""XLA:CPU compiler setting that ``import jaxsr`` applies before JAX starts its CPU backend.

jaxlib 0.10 compiles CPU convolutions with YNNPACK (``__ynn_fusion``). Its 3×3 forward and input
gradient are as fast as Eigen's, but the **weight gradient** — a convolution whose window is the whole
41×41 patch and whose output is 3×3 — runs 3–4× slower than Eigen's, which made a VDSR training step
≈1.8× slower than PyTorch's on CPU (benchmarks/NOTES.md). Removing ``individual_convolution`` from
YNNPACK's fusion types (``--xla_cpu_experimental_ynn_fusion_type=-individual_convolution``) sends
convolutions back to Eigen and keeps YNNPACK for dots and reductions. Results agree with YNNPACK's to
float32 rounding (≈1e-5 relative on a weight gradient summed over 10^4 terms).

The flag is appended to ``XLA_FLAGS`` only when all hold:

* ``JAXSR_XLA_CPU_DEFAULTS=0`` is not set (the opt-out);
* ``XLA_FLAGS`` does not already mention ``xla_cpu_experimental_ynn_fusion_type`` (the user's choice wins);
* the installed jaxlib is one whose flag set is known (``KNOWN_JAXLIB``): XLA aborts on flags it does not
  know, so an unknown jaxlib is left alone;
* JAX has not started a backend yet (after that the flag would have no effect, so nothing is changed).

The flag only concerns the CPU backend; GPU compilation ignores it.
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata

__all__ = ["FLAG", "KNOWN_JAXLIB", "OPT_OUT", "apply", "decide"]

FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
OPT_OUT = "JAXSR_XLA_CPU_DEFAULTS"
KNOWN_JAXLIB = ((0, 10),)  # (major, minor) series checked to have the flag and its "-type" syntax (0.10.0, 0.10.2)


def _series(version: str) -> tuple[int, int] | None:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def decide(environ, jaxlib_version: str | None, backend_started: bool) -> tuple[str | None, str]:
    """(new XLA_FLAGS or None to leave it, reason) — a pure function of its arguments."""
    if environ.get(OPT_OUT, "1") == "0":
        return None, f"{OPT_OUT}=0"
    current = environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" in current:
        return None, "XLA_FLAGS already sets xla_cpu_experimental_ynn_fusion_type"
    if jaxlib_version is None or _series(jaxlib_version) not in KNOWN_JAXLIB:
        return None, f"jaxlib {jaxlib_version} not in the known series {KNOWN_JAXLIB}"
    if backend_started:
        return None, "a JAX backend was already started"
    return (f"{current} {FLAG}".strip(), "applied")


def _backend_started() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # private API moved: assume started, change nothing
        return True


def apply(environ=os.environ) -> str:
    """Append ``FLAG`` to ``environ["XLA_FLAGS"]`` when ``decide`` says so; returns the reason."""
    try:
        version = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        version = None
    flags, reason = decide(environ, version, _backend_started())
    if flags is not None:
        environ["XLA_FLAGS"] = flags
    return reason
