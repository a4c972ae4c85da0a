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
