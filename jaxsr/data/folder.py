"""Folders of HR images: the standard benchmark layout ``DATA_DIR/<name>/*.png`` and training folders.

Any of png/bmp/jpg/tif/webp; RGB, grayscale, palette, RGBA (alpha dropped), 16-bit. Grayscale images
stay (H, W) so that their Y is the gray value itself; everything else becomes (H, W, 3). Values are
float64 in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from jaxsr.base.errors import JaxsrError
from jaxsr.base.io import IMAGE_EXTENSIONS, read_image

__all__ = ["HRImage", "list_images", "find_dataset", "iter_images"]


@dataclass(frozen=True)
class HRImage:
    """One HR image: ``name`` (file stem), ``image`` (H, W) or (H, W, 3) float64 in [0, 1], ``note``;
    ``error``: why the file could not be read (then ``image`` is None; only with ``keep_going``)."""

    name: str
    image: np.ndarray | None
    note: str | None = None
    error: str | None = None


def list_images(folder) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; a broken symbolic link with an image name is
    listed too (reading it is then an error naming it, never a silent skip). Raises JaxsrError if missing
    or empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise JaxsrError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if (p.is_file() or p.is_symlink() and not p.exists())
                   and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise JaxsrError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return files


def find_dataset(data_dir, name: str) -> Path:
    """The folder of benchmark ``name`` under ``data_dir``: ``<name>/`` or, as some archives ship it,
    ``<name>/HR/`` (``<name>/image_SRF_*`` style LR folders are ignored: LR is always made here)."""
    folder = Path(data_dir) / name
    if (folder / "HR").is_dir():
        folder = folder / "HR"
    if not folder.is_dir():
        raise JaxsrError(f"{folder}: no such folder (expected {Path(data_dir) / name}/*.png)")
    return folder


def iter_images(folder, keep_going: bool = False) -> Iterator[HRImage]:
    """Yield the images of ``folder`` one at a time (low memory), in name order. An unreadable file raises
    JaxsrError, or with ``keep_going`` is yielded as ``HRImage(stem, None, error=<message>)``."""
    for path in list_images(folder):
        try:
            image, note = read_image(path, hint="no image larger is read: a decompression bomb?")
        except JaxsrError as e:
            if not keep_going:
                raise
            yield HRImage(path.stem, None, error=str(e))
            continue
        yield HRImage(path.stem, image, note)
