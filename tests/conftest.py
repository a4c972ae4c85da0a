"""Shared fixtures. Tests that need ../shared/ (benchmark images, the authors' weights) skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JAXSR_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/, or skip the test with a reason when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the checkout)")
    return path


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


def make_tiny_folder(folder: Path, count: int = 3, seed: int = 0) -> Path:
    """Smooth random RGB images (48×40 and 40×44) as PNG: a tiny training/benchmark folder."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = (48, 40) if i % 2 == 0 else (40, 44)
        yy, xx = np.mgrid[0:h, 0:w]
        f = rng.uniform(0.1, 0.5, size=(3, 2))
        img = np.stack([0.5 + 0.4 * np.sin(xx * a + yy * b + i) for a, b in f], -1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def tiny_config(folder: Path, **overrides):
    """The quickstart config shrunk to a few tiny steps on ``folder`` (also used for validation)."""
    import sys

    sys.path.insert(0, str(REPO))
    from configs import quickstart

    config = quickstart.get_config()
    config.model.kwargs = {"depth": 3, "features": 8, "residual": True, "channels": 1}
    config.data.source = "folders"
    config.data.folders = str(folder)
    config.data.patch_size = 12
    config.data.scales = (2, 3)
    config.batch_size = 4
    config.total_steps = 6
    config.log_every_steps = 2
    config.checkpoint_every_steps = 3
    config.optim.decay_every_steps = 100
    config.eval.data_dir = str(folder.parent)
    config.eval.datasets = folder.name
    config.eval.scales = (2, 3)
    for key, value in overrides.items():
        node = config
        *path, last = key.split(".")
        for p in path:
            node = node[p]
        node[last] = value
    return config


def tiny_flags(folder: Path) -> list[str]:
    """The same overrides as :func:`tiny_config`, as train.py flags."""
    return ["--config", str(REPO / "configs" / "quickstart.py"),
            "--config.model.kwargs.depth=3", "--config.model.kwargs.features=8",
            "--config.data.source=folders", f"--config.data.folders={folder}", "--config.data.patch_size=12",
            "--config.data.scales=(2,3)",
            "--config.batch_size=4", "--config.optim.decay_every_steps=100",
            f"--config.eval.data_dir={folder.parent}", f"--config.eval.datasets={folder.name}",
            "--config.eval.scales=(2,3)"]


def read_until_step(proc) -> str:
    """The first progress line (``step …``) a training subprocess prints, after its devices and compile
    lines; fails if its stdout ends first."""
    for line in proc.stdout:
        if line.startswith("step "):
            return line
    raise AssertionError("the training process ended before its first progress line")
