"""Data: benchmark/HR image folders (no TensorFlow) and, in ``jaxsr.data.tfdata``, the training input
pipeline (imports TensorFlow lazily)."""

from jaxsr.data.folder import HRImage, find_dataset, iter_images, list_images

__all__ = ["HRImage", "find_dataset", "iter_images", "list_images"]
