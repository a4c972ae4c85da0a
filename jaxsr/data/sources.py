"""Where HR images come from: folders, the embedded scikit-image photos, or TFDS ``div2k``.

All sources give ``HRImage`` records (float64 in [0, 1]); LR images are made from them with the
MATLAB-exact ``jaxsr.imresize`` (``jaxsr.data.sampling``), except that TFDS ``div2k`` can supply its
official bicubic LR (made with MATLAB's ``imresize`` too).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from jaxsr.data.folder import HRImage, find_dataset, iter_images, list_images
from jaxsr.base.errors import JaxsrError

__all__ = ["EMBEDDED_TRAIN", "EMBEDDED_EVAL", "embedded_images", "folder_images", "training_images",
           "eval_names", "eval_datasets", "folder_datasets", "FolderImages", "tfds_div2k"]

# Photos that ship inside scikit-image (no download): natural images and textures for training, and
# two held-out photos for evaluation.
EMBEDDED_TRAIN = ("coffee", "rocket", "motorcycle", "camera", "coins", "moon", "brick", "grass", "gravel",
                  "immunohistochemistry", "hubble_deep_field")
EMBEDDED_EVAL = ("astronaut", "chelsea")


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]  # left view only
    return getattr(skimage.data, name)()


def embedded_images(split: str) -> list[HRImage]:
    """The embedded ``"train"`` or ``"eval"`` photos as HRImage (gray stays (H, W))."""
    names = {"train": EMBEDDED_TRAIN, "eval": EMBEDDED_EVAL}.get(split)
    if names is None:
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    return [HRImage(n, np.asarray(_skimage(n), np.float64) / 255.0) for n in names]


def folder_images(folders: Iterable[str]) -> list[HRImage]:
    """All images of the given folders (e.g. T91 and BSD200), names prefixed with the folder name."""
    from pathlib import Path

    out = []
    for folder in folders:
        out += [HRImage(f"{Path(folder).name}/{im.name}", im.image, im.note) for im in iter_images(folder)]
    return out


def tfds_div2k(name: str, data_dir: str | None, scales: Sequence[int], split: str = "train"):
    """HR images and official bicubic LR from TFDS ``div2k/bicubic_x{s}`` (prepared beforehand; no
    download here). Returns (HR list, {scale: LR list}). ``name`` is the dataset name, "div2k"."""
    from jaxsr.data.tfdata import import_tf

    import_tf()
    import tensorflow_datasets as tfds

    hrs, lrs = None, {}
    for s in scales:
        try:
            ds = tfds.load(f"{name}/bicubic_x{s}", split=split, data_dir=data_dir or None, download=False)
        except Exception as e:  # TFDS raises several kinds when data is missing
            raise JaxsrError(f"data.tfds_name: cannot load {name}/bicubic_x{s} ({type(e).__name__}: "
                             f"{str(e).splitlines()[0][:200]})") from None
        pairs = list(tfds.as_numpy(ds))
        if hrs is None:
            hrs = [HRImage(f"{name}/{i}", p["hr"].astype(np.float64) / 255.0) for i, p in enumerate(pairs)]
        lrs[s] = [p["lr"].astype(np.float64) / 255.0 for p in pairs]
    return hrs, lrs


def training_images(data_cfg) -> tuple[list[HRImage], dict | None]:
    """(HR images, official LR by scale or None) for a ``data`` config section (``source`` field)."""
    if data_cfg.source == "embedded":
        return embedded_images("train"), None
    if data_cfg.source == "folders":
        folders = [f for f in str(data_cfg.folders).split(",") if f.strip()]
        if not folders:
            raise JaxsrError("data.folders is empty: give comma-separated folders of HR images")
        try:
            return folder_images(f.strip() for f in folders), None
        except JaxsrError as e:
            raise JaxsrError(f"data.folders: {e}") from None
    if data_cfg.source == "tfds":
        return tfds_div2k(data_cfg.tfds_name, data_cfg.tfds_data_dir, data_cfg.scales)
    raise JaxsrError(f"data.source must be 'embedded', 'folders' or 'tfds', got {data_cfg.source!r}")


class FolderImages:
    """A benchmark folder as a sized iterable of HRImage, read one image at a time; an unreadable file
    is an HRImage with ``error`` set, so that the others can still be scored."""

    def __init__(self, folder):
        self.folder, self.count = folder, len(list_images(folder))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[HRImage]:
        return iter_images(self.folder, keep_going=True)


def folder_datasets(data_dir, names: Sequence[str]) -> dict[str, FolderImages]:
    """Benchmark datasets ``data_dir/<name>`` as {name: FolderImages}; checks the folders now."""
    return {name: FolderImages(find_dataset(data_dir, name)) for name in names}


def eval_names(eval_cfg, final: bool = False) -> list[str] | None:
    """The benchmark names an ``eval`` config validates on (``final``: at the end of training,
    ``eval.final_datasets`` if set, else ``eval.datasets``), or None for the embedded held-out photos.
    Without ``eval.data_dir`` only "" or ``embedded`` may be named: a benchmark name there is a JaxsrError,
    never a silent fallback to other images. With it, "" means Set5."""
    field = "final_datasets" if final and eval_cfg.get("final_datasets", "") else "datasets"
    names = [n.strip() for n in str(eval_cfg[field]).split(",") if n.strip()]
    if [n.lower() for n in names] == ["embedded"]:
        return None
    if eval_cfg.data_dir:
        return names or ["Set5"]
    if names:
        raise JaxsrError(f"eval.{field} names {', '.join(names)}, but eval.data_dir is empty: set "
                         f"--config.eval.data_dir to the folder holding {names[0]}/ (e.g. DATA/test), or "
                         f"--config.eval.{field}=embedded for the held-out photos that ship with scikit-image")
    return None


def eval_datasets(eval_cfg, final: bool = False) -> dict:
    """Validation datasets of an ``eval`` config (:func:`eval_names`): benchmark folders, or the embedded
    held-out photos as ``{"Embedded": …}``. ``final``: those of the evaluation at the end of training."""
    names = eval_names(eval_cfg, final)
    return {"Embedded": embedded_images("eval")} if names is None else folder_datasets(eval_cfg.data_dir, names)
