"""jaxsr: single-image super-resolution in JAX/Flax, with MATLAB-exact evaluation.

``import jaxsr`` never imports TensorFlow; only ``jaxsr.data.tfdata`` does.
"""

from jaxsr.base import xla_cpu as _xla_cpu

XLA_CPU_SETTING = _xla_cpu.apply()  # before any JAX backend starts; see jaxsr/base/xla_cpu.py

from jaxsr import models  # noqa: E402
from jaxsr.weights import zoo  # noqa: E402
from jaxsr.base.errors import JaxsrError  # noqa: E402
from jaxsr.eval.inference import Upscaler, super_resolve  # noqa: E402
from jaxsr.weights.loading import load  # noqa: E402
from jaxsr.eval.metrics import psnr, sr_metrics, ssim  # noqa: E402
from jaxsr.ops import imresize, modcrop, rgb_to_y, rgb_to_ycbcr, shave, to_y, ycbcr_to_rgb  # noqa: E402
from jaxsr.weights.params import load_params, load_weights, save_params  # noqa: E402
from jaxsr.base.version import __version__  # noqa: E402,F401

__all__ = ["models", "zoo", "JaxsrError", "Upscaler", "super_resolve", "load", "psnr", "ssim", "sr_metrics", "imresize",
           "modcrop", "shave", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "to_y", "load_params",
           "load_weights", "save_params"]
