"""XLA:CPU compiler settings: what ``import jaxsr`` puts in ``XLA_FLAGS`` before JAX starts its CPU backend,
and the per-``jit`` compiler options jaxsr's own inference and bfloat16 training compile with.

Chosen per jaxlib series and purpose by measurement (benchmarks/NOTES.md):

* **Process-wide (``XLA_FLAGS``), jaxlib 0.10 and 0.12:** ``FLAG`` =
  ``--xla_cpu_experimental_ynn_fusion_type=-individual_convolution``. Both series compile CPU convolutions
  with YNNPACK (``__ynn_fusion``), whose **weight gradient** (a convolution whose window is the whole 41×41
  patch and whose output is 3×3) runs 3–4× slower than Eigen's: a float32 VDSR training step is ≈2.1–2.4×
  slower with it. The flag sends convolutions to Eigen and keeps YNNPACK for dots and reductions; results
  agree with YNNPACK's to float32 rounding. On jaxlib 0.10 this is the only thing jaxsr does: the
  ``XLA_FLAGS`` string ``import jaxsr`` makes there is the same as before jaxlib 0.12 was supported (a
  training campaign records it and refuses to resume under another).
* **Per jit, jaxlib 0.12 only (``JIT_OPTIONS``):** ``xla_cpu_use_onednn`` with
  ``xla_cpu_experimental_onednn_custom_call`` turns the convolutions that are not YNNPACK fusions into
  ``__onednn$convolution`` calls (oneDNN; AMX ``brg_conv`` kernels for bfloat16 on CPUs that have AMX). jaxsr
  passes them as ``jax.jit(..., compiler_options=...)`` where they were measured faster: inference
  (:class:`jaxsr.eval.inference.Upscaler`: float32 and bfloat16) and the bfloat16 training step. The float32
  training step keeps Eigen (with oneDNN it measured 1.7× slower). ``xla_cpu_use_onednn``
  alone, without the custom-call flag, makes bfloat16 convolutions ~50× slower: the two go together.

Nothing is set when:

* ``JAXSR_XLA_CPU_DEFAULTS=0`` (the opt-out: neither ``XLA_FLAGS`` nor jit options);
* ``XLA_FLAGS`` already mentions the flag (the user's choice wins: ``FLAG`` is not added when it mentions
  ``xla_cpu_experimental_ynn_fusion_type``, and no jit options when it mentions any oneDNN flag);
* the installed jaxlib is not one whose flag set is known (``KNOWN_JAXLIB``): XLA aborts on flags it does not
  know, so an unknown jaxlib is left alone;
* JAX has started a backend already (``XLA_FLAGS`` would have no effect; jit options still apply);
* the computation is not compiled for the CPU (:func:`compiler_options` gives ``None`` for other backends).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from importlib import metadata

__all__ = ["FLAG", "KNOWN_JAXLIB", "OPT_OUT", "ONEDNN", "JIT_OPTIONS", "apply", "decide", "compiler_options",
           "jit_options_for", "cpu_has_amx", "bf16_is_fast", "describe"]

FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
OPT_OUT = "JAXSR_XLA_CPU_DEFAULTS"
# (major, minor) series checked to have FLAG and its "-type" syntax (0.10.0, 0.10.2; 0.12.0.1)
KNOWN_JAXLIB = ((0, 10), (0, 12))
ONEDNN = {"xla_cpu_use_onednn": True, "xla_cpu_experimental_onednn_custom_call": True}
# per series: {(purpose, compute dtype): jit compiler options}; absent = the process-wide setting alone
JIT_OPTIONS = {
    (0, 12): {("inference", "float32"): ONEDNN, ("inference", "bfloat16"): ONEDNN, ("train", "bfloat16"): ONEDNN},
}


def _series(version: str | None) -> tuple[int, int] | None:
    m = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _jaxlib_version() -> str | None:
    try:
        return metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None


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


def jit_options_for(environ, jaxlib_version: str | None, purpose: str, dtype: str) -> dict:
    """The jit compiler options for ``purpose`` ("inference" | "train") at compute ``dtype`` ("float32" |
    "bfloat16") on the CPU — a pure function of its arguments; ``{}`` when none apply."""
    if environ.get(OPT_OUT, "1") == "0" or "onednn" in environ.get("XLA_FLAGS", ""):
        return {}
    return dict(JIT_OPTIONS.get(_series(jaxlib_version), {}).get((purpose, str(dtype)), {}))


def compiler_options(purpose: str, dtype="float32", backend: str | None = None) -> dict | None:
    """What to pass as ``jax.jit(..., compiler_options=...)`` (or ``.compile(...)``) for a computation of
    ``purpose`` at compute ``dtype`` compiled for ``backend`` (default: JAX's default backend); None when
    nothing is to be set (then the process-wide ``XLA_FLAGS`` setting alone applies)."""
    import jax
    import jax.numpy as jnp

    if (backend or jax.default_backend()) != "cpu":
        return None
    return jit_options_for(os.environ, _jaxlib_version(), purpose, jnp.dtype(dtype).name) or None


@functools.lru_cache(maxsize=8)
def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has AMX with bfloat16 (``amx_bf16`` among the Linux CPU flags)."""
    try:
        with open(cpuinfo) as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


def bf16_is_fast(backend: str | None = None) -> bool:
    """Whether bfloat16 inference is the fast path here: the CPU backend, a CPU with AMX, and oneDNN
    convolutions in the jit options (jaxlib 0.12, not opted out). Elsewhere bfloat16 convolutions on the
    CPU are as slow as float32 or slower (measured: benchmarks/NOTES.md)."""
    return compiler_options("inference", "bfloat16", backend) is not None and cpu_has_amx()


def _backend_started() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # private API moved: assume started, change nothing
        return True


def describe(reason: str, environ, jaxlib_version: str | None) -> str:
    """``jaxsr.XLA_CPU_SETTING``: ``reason`` (from :func:`decide`), then what was chosen, e.g. ``"applied:
    jaxlib 0.12.0.1: XLA_FLAGS += --xla_cpu_...; jit options ... for inference float32, ..."``."""
    chosen = [f"XLA_FLAGS += {FLAG} (Eigen convolutions)"] if reason == "applied" else []
    table = JIT_OPTIONS.get(_series(jaxlib_version), {})
    uses = [f"{p} {d}" for p, d in table if jit_options_for(environ, jaxlib_version, p, d)]
    if uses:
        names = sorted({k for p, d in table for k in table[p, d]})
        chosen.append(f"jit options {', '.join(names)} (oneDNN convolutions) for {', '.join(uses)}")
    return f"{reason}: jaxlib {jaxlib_version}: {'; '.join(chosen)}" if chosen else reason


def apply(environ=os.environ) -> str:
    """Append ``FLAG`` to ``environ["XLA_FLAGS"]`` when ``decide`` says so; returns what was chosen (the
    reason from :func:`decide`, ``"applied"`` first when the flag was added)."""
    version = _jaxlib_version()
    flags, reason = decide(environ, version, _backend_started())
    if flags is not None:
        environ["XLA_FLAGS"] = flags
    return describe(reason, environ, version)
