"""Image operations with SR-evaluation conventions: MATLAB bicubic resize, BT.601 colour, cropping."""

from jaxsr.ops.color import rgb_to_y, rgb_to_ycbcr, to_y, ycbcr_to_rgb
from jaxsr.ops.crop import modcrop, shave
from jaxsr.ops.resize import imresize, resize_matrix

__all__ = ["imresize", "resize_matrix", "rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_y", "to_y", "modcrop", "shave"]
