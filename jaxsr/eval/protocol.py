"""The evaluation protocol: how HR images and outputs are quantized before PSNR/SSIM. One place for both.

* ``"matlab"`` (default): what the papers' MATLAB scripts score. Test images are uint8 and MATLAB keeps the
  class: ``rgb2ycbcr`` of a uint8 RGB image returns uint8 Y (rounded); a gray image is its own (uint8) Y.
  LR and ILR are made in double from that integer Y, without rounding; the SR output and the bicubic
  baseline are scored after ``uint8(x*255)`` (round half away from zero, saturate to 0..255). RGB models
  see the LR as MATLAB ``imresize`` of the uint8 RGB image returns it (uint8, as the EDSR benchmark's LR
  PNGs), and their RGB output is saved as uint8 before ``rgb2ycbcr`` (as the EDSR/RCAN scripts read SR
  PNGs). With the VDSR authors' weights this gives the VDSR paper's Table 3 to the printed digit.
* ``"float"``: no quantization anywhere: Y of the float HR image, outputs clipped to [0, 1]. About
  0.02–0.06 dB above the papers' figures; the convention of most Python re-implementations.

All functions take and return float64 arrays in [0, 1] (the ``"matlab"`` values are multiples of 1/255).
"""

from __future__ import annotations

import numpy as np

from jaxsr.base.errors import JaxsrError
from jaxsr.ops.color import to_y

__all__ = ["PROTOCOLS", "DEFAULT_PROTOCOL", "check_protocol", "matlab_uint8", "hr_y", "scored", "as_stored"]

PROTOCOLS = ("matlab", "float")
DEFAULT_PROTOCOL = "matlab"


def check_protocol(protocol: str) -> str:
    """Return ``protocol`` if it is known, else raise JaxsrError."""
    if protocol not in PROTOCOLS:
        raise JaxsrError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    return protocol


def matlab_uint8(x) -> np.ndarray:
    """MATLAB ``uint8(x * 255) / 255`` of a float image in [0, 1] scale: round half away from zero,
    saturate to 0..255; float64 multiples of 1/255 in [0, 1]. NaN becomes 0, as in MATLAB."""
    v = np.asarray(x, np.float64) * 255.0
    v = np.nan_to_num(np.sign(v) * np.floor(np.abs(v) + 0.5), nan=0.0)
    return np.clip(v, 0.0, 255.0) / 255.0


def hr_y(hr: np.ndarray, protocol: str) -> np.ndarray:
    """Y (H, W) of an HR image (H, W) gray or (H, W, 3) RGB in [0, 1], as the protocol scores it."""
    if check_protocol(protocol) == "float":
        return np.asarray(to_y(np.asarray(hr, np.float64)), np.float64)
    return matlab_uint8(to_y(matlab_uint8(hr)))


def scored(y: np.ndarray, protocol: str) -> np.ndarray:
    """An SR or bicubic Y output (H, W) as the protocol scores it: clipped to [0, 1] (``"float"``) or
    ``uint8(y*255)/255`` (``"matlab"``)."""
    if check_protocol(protocol) == "float":
        return np.clip(np.asarray(y, np.float64), 0.0, 1.0)
    return matlab_uint8(y)


def as_stored(rgb: np.ndarray, protocol: str) -> np.ndarray:
    """An RGB image (LR input or output of an RGB model) as the protocol stores it before use: as is
    (``"float"``) or as uint8 (``"matlab"``)."""
    return np.asarray(rgb, np.float64) if check_protocol(protocol) == "float" else matlab_uint8(rgb)
