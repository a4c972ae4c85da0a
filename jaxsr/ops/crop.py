"""Mod-crop and border shave: the cropping conventions of SR evaluation."""

from __future__ import annotations

__all__ = ["modcrop", "shave"]


def modcrop(image, scale: int):
    """Crop (H, W[, C]) to a multiple of ``scale`` in H and W, keeping the top-left corner.

    Drops the last ``H mod scale`` rows and ``W mod scale`` columns (MATLAB ``modcrop``).
    """
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    h, w = image.shape[0], image.shape[1]
    return image[: h - h % scale, : w - w % scale]


def shave(image, border: int):
    """Remove ``border`` pixels from each side of (H, W[, C]); ``border=0`` returns the image."""
    border = int(border)
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if border == 0:
        return image
    if 2 * border >= min(image.shape[0], image.shape[1]):
        raise ValueError(f"cannot shave {border} pixels from an image of shape {tuple(image.shape)}")
    return image[border:-border, border:-border]
