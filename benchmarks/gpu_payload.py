"""Build the payload that travels with the one-command GPU run (``benchmarks/gpu_run.py``).

    python benchmarks/gpu_payload.py --shared ../shared --out .gpu_payload

Writes, under ``--out`` (an ignored folder; the device tool's ``carry`` sends it):

* ``train/T91``, ``train/BSD200``: the 291 training images as **uint8 Y** grayscale PNGs, Y = MATLAB
  ``rgb2ycbcr`` of the uint8 RGB image (rounded, as the VDSR authors' ``generate_train.m`` gets it). The
  training pipeline reads them directly as a ``folders`` source: a grayscale image's Y is its gray value.
  A third of the RGB PNGs' size (≈20 MB instead of 59 MB).
* ``test/Set5``: the Set5 HR images as they are (validation and the inference-latency row).
* ``whl/``: wheels of what the GPU image lacks (ml-collections, dm-pix, tensorboardX), pure Python.

It stops with one ``error:`` line if the payload would not fit the 64 MiB the device tool sends (together
with the working tree).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's jaxsr, not an installed one

from jaxsr.base.io import IMAGE_EXTENSIONS  # noqa: E402
from jaxsr.eval.protocol import hr_y  # noqa: E402

LIMIT_MIB = 64
WHEELS = ("ml-collections", "dm-pix", "tensorboardX")  # their dependencies are in the GPU image


def y_uint8(path: Path) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` Y of a uint8 image file, rounded to uint8 (gray images: the gray value)."""
    with Image.open(path) as im:
        im = im.convert("L") if im.mode in ("L", "1", "I;16", "I") else im.convert("RGB")
        a = np.asarray(im)
    return np.round(hr_y(a / 255.0, "matlab") * 255.0).astype(np.uint8)  # exact: multiples of 1/255


def write_y_folder(src: Path, dst: Path) -> int:
    """Every image of ``src`` as a uint8-Y grayscale PNG in ``dst``; returns the count."""
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    for p in files:
        Image.fromarray(y_uint8(p), mode="L").save(dst / f"{p.stem}.png", optimize=True)
    return len(files)


def download_wheels(dst: Path) -> None:
    """Pure-Python wheels of ``WHEELS`` at the versions installed here, for CPython 3.12."""
    from importlib.metadata import version

    dst.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}=={version(name)}" for name in WHEELS]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", "-d", str(dst), *specs], check=True)


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def build(shared: Path, out: Path, train_sets=("T91", "BSD200"), test_sets=("Set5",), wheels=True) -> float:
    """Write the payload; returns its size in MiB."""
    for name in train_sets:
        n = write_y_folder(shared / "data" / "train" / name, out / "train" / name)
        print(f"train/{name}: {n} uint8-Y PNGs", flush=True)
    for name in test_sets:
        shutil.copytree(shared / "data" / "test" / name, out / "test" / name, dirs_exist_ok=True)
    if wheels:
        download_wheels(out / "whl")
    return folder_mib(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared", help="folder with data/train and data/test")
    parser.add_argument("--out", default=".gpu_payload", help="payload folder (git-ignored)")
    args = parser.parse_args(argv)
    shared, out = Path(args.shared), Path(args.out)
    for need in (shared / "data" / "train" / "T91", shared / "data" / "test" / "Set5"):
        if not need.is_dir():
            print(f"error: {need}: no such folder (--shared must hold data/train/T91, BSD200 and data/test/Set5)",
                  file=sys.stderr)
            return 1
    size = build(shared, out)
    tree = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.split(b"\0")
    tree_mib = sum(Path(f.decode()).stat().st_size for f in tree if f and Path(f.decode()).is_file()) / 2**20
    print(f"payload {size:.1f} MiB + working tree {tree_mib:.1f} MiB of the {LIMIT_MIB} MiB limit")
    if size + tree_mib > LIMIT_MIB:
        print(f"error: payload + tree = {size + tree_mib:.1f} MiB is over the device tool's {LIMIT_MIB} MiB",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
