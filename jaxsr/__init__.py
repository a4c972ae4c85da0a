"""jaxsr: single-image super-resolution in JAX/Flax, with MATLAB-exact evaluation.

``import jaxsr`` never imports TensorFlow; only ``jaxsr.data.tfdata`` does.
"""

from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.inference import Upscaler, super_resolve
from jaxsr.loading import load
from jaxsr.metrics import psnr, sr_metrics, ssim
from jaxsr.ops import imresize, modcrop, rgb_to_y, rgb_to_ycbcr, shave, to_y, ycbcr_to_rgb
from jaxsr.weights import load_params, load_weights, save_params

__version__ = "0.1.0"

__all__ = ["models", "JaxsrError", "Upscaler", "super_resolve", "load", "psnr", "ssim", "sr_metrics", "imresize",
           "modcrop", "shave", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "to_y", "load_params",
           "load_weights", "save_params"]
