"""Reading and writing images: float arrays in [0, 1], atomic writes.

``read_image`` returns (H, W) float64 for grayscale images and (H, W, 3) float64 for everything else, in
[0, 1], plus a note when the file had to be converted (palette, alpha, 16-bit, CMYK, ...).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from jaxsr.errors import JaxsrError

__all__ = ["IMAGE_EXTENSIONS", "read_image", "write_image", "to_uint8", "atomic_write_bytes"]

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def read_image(path, max_pixels: int | None = None) -> tuple[np.ndarray, str | None]:
    """Load an image file as float64 in [0, 1]: (H, W) if grayscale else (H, W, 3); and a note or None.

    Args:
      max_pixels: refuse images with more pixels (checked from the header, before decoding).
    Raises:
      JaxsrError: the file is missing, empty, truncated, not an image, or over ``max_pixels``.
    """
    path = Path(path)
    if not path.is_file():
        raise JaxsrError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise JaxsrError(f"{path}: empty file")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        if max_pixels is not None:  # our limit replaces Pillow's decompression-bomb limit
            Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if max_pixels is not None and w * h > max_pixels:
                    raise JaxsrError(f"{path}: {w}x{h} = {w * h:,} pixels is over the limit of {max_pixels:,} "
                                     "(raise --max_pixels to allow it)")
                im.load()
                return _to_array(im)
    except Image.DecompressionBombError as e:
        raise JaxsrError(f"{path}: refused as a decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise JaxsrError(f"{path}: not a readable image") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise JaxsrError(f"{path}: cannot decode image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _to_array(im: Image.Image) -> tuple[np.ndarray, str | None]:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(a / peak, 0, 1), f"16-bit grayscale ({mode}) converted to 8-bit output"
    if mode == "F":
        return np.asarray(im, dtype=np.float64), "float image read as is"
    if mode in ("L", "1"):
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0, None
    if mode == "LA":
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0, "alpha channel dropped"
    note = None
    if mode == "P":
        note = "palette image converted to RGB" + ("; transparency dropped" if "transparency" in im.info else "")
    elif mode in ("RGBA", "PA") or "transparency" in im.info:
        note = "alpha channel dropped"
    elif mode != "RGB":
        note = f"{mode} image converted to RGB"
    return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0, note


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] → uint8 with rounding (values outside are clipped)."""
    return np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_image(path, image: np.ndarray) -> None:
    """Save a float image in [0, 1], (H, W), (H, W, 1) or (H, W, 3), atomically (format by extension)."""
    path = Path(path)
    a = to_uint8(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise JaxsrError(f"{path}: unknown image format {path.suffix!r}")
    buf = BytesIO()
    Image.fromarray(a).save(buf, format=fmt)
    atomic_write_bytes(path, buf.getvalue())
