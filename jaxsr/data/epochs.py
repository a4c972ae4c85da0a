"""The paper's epoch, defined once (Kim et al. 2016, §4.1 and §4.2).

An epoch is every **non-overlapping** ``p×p`` patch of the training images at each training scale
(``p`` = 41 for VDSR): an (image, scale) item whose model input is H×W (the mod-cropped HR size for
pre-upsampling models) gives ⌊H/p⌋·⌊W/p⌋ patches; the epoch's steps are the patch count over all items
divided by the batch, rounded up. Training samples random crops (and flips/rotations), so an epoch is a
count of steps, not a pass over fixed patches.

Measured with this code on the benchmark folders (41×41, batch 64):

============================  =========  ================  ==================
training images, scales       patches    steps per epoch   80 epochs (steps)
============================  =========  ================  ==================
T91, {2, 3, 4}                7,992      125               10,000
T91, one scale                ≈2,660     42                3,360
291 (T91 + BSD200), {2,3,4}   54,192     847               67,760
============================  =========  ================  ==================

The paper's own figure for T91 — 80 epochs ≈ 9,960 iterations of batch 64 — is 124.5 steps per epoch.
In a sweep whose variants train on different scale sets (Table 2), every variant runs the steps of the
union of the scale sets (T91: 125 per epoch), so all variants get the same number of SGD iterations.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from jaxsr.data.sampling import PatchTable

__all__ = ["epoch_patches", "steps_per_epoch"]


def epoch_patches(table: PatchTable) -> int:
    """Non-overlapping ``patch_size``² patches of every (image, scale) item of ``table``."""
    p = table.patch_size
    return int(np.sum(((table.max_y.astype(np.int64) + p) // p) * ((table.max_x.astype(np.int64) + p) // p)))


def steps_per_epoch(tables: Sequence[PatchTable], batch_size: int) -> int:
    """Steps of one paper epoch: ⌈patches of all ``tables`` / batch⌉ (at least 1)."""
    return max(1, math.ceil(sum(epoch_patches(t) for t in tables) / int(batch_size)))
