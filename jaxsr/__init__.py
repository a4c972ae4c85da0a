"""jaxsr: single-image super-resolution in JAX/Flax, with MATLAB-exact evaluation.

``import jaxsr`` is cheap: it makes the XLA CPU choice (``XLA_CPU_SETTING``, before any JAX backend starts)
and nothing else; the public names below (``jaxsr.load``, ``jaxsr.super_resolve``, ``jaxsr.models``, …)
import their modules, and JAX with them, when first used (PEP 562). So ``jaxsr <command> --help`` answers
without importing JAX. ``import jaxsr`` never imports TensorFlow; only ``jaxsr.data.tfdata`` does.
"""

from importlib import import_module as _import_module, util as _util

from jaxsr.base import xla_cpu as _xla_cpu

XLA_CPU_SETTING = _xla_cpu.apply()  # before any JAX backend starts; see jaxsr/base/xla_cpu.py

from jaxsr.base.version import __version__  # noqa: E402,F401

# public name → the module that defines it (a module itself when the name is the module's own)
_LAZY = {
    "models": "jaxsr.models", "zoo": "jaxsr.weights.zoo", "JaxsrError": "jaxsr.base.errors",
    "Upscaler": "jaxsr.eval.inference", "super_resolve": "jaxsr.eval.inference", "load": "jaxsr.weights.loading",
    "psnr": "jaxsr.eval.metrics", "ssim": "jaxsr.eval.metrics", "sr_metrics": "jaxsr.eval.metrics",
    **{name: "jaxsr.ops" for name in ("imresize", "modcrop", "shave", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb",
                                      "to_y")},
    **{name: "jaxsr.weights.params" for name in ("load_params", "load_weights", "save_params")},
}
_MODULES = {"models", "zoo"}  # names that are modules, not attributes of their module

__all__ = ["models", "zoo", "JaxsrError", "Upscaler", "super_resolve", "load", "psnr", "ssim", "sr_metrics", "imresize",
           "modcrop", "shave", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "to_y", "load_params",
           "load_weights", "save_params"]


def __getattr__(name: str):
    """A public name, imported on first use (then cached as a module attribute); a sub-package or module of
    jaxsr (``jaxsr.eval``, ``jaxsr.train``, …) as ``import jaxsr.<name>`` would give it."""
    if name in _LAZY:
        module = _import_module(_LAZY[name])
        value = module if name in _MODULES else getattr(module, name)
    elif not name.startswith("_") and _util.find_spec(f"{__name__}.{name}") is not None:
        value = _import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
