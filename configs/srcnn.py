"""SRCNN 9-1-5 (Dong et al. 2014) trained with jaxsr's pipeline on the 291 images, as VDSR's baseline.

The paper's SGD with per-layer rates (1e-4, 1e-5 last) is replaced by Adam at 1e-4, the common modern
recipe, which converges in far fewer steps; one model for x2, x3, x4 like VDSR's multi-scale training.
"""

from jaxsr.train.config import get_config as defaults, optimizer


def get_config():
    config = defaults("vdsr")
    config.model.name = "srcnn"  # SRCNN: three conv layers on the ILR.
    config.model.kwargs = {"filters": (9, 1, 5), "features": (64, 32), "channels": 1}  # 9-1-5, Y channel.
    config.data.patch_size = 33  # SRCNN's 33×33 sub-images.
    config.batch_size = 128  # More, smaller patches per step.
    config.loss = "l2"  # MSE objective, as the paper.
    # Adam at 1e-4 instead of the paper's per-layer SGD rates; no decay, no weight decay.
    config.optim = optimizer("adam", learning_rate=1e-4, schedule="constant", weight_decay=0.0)
    config.num_epochs = 200  # Longer: SRCNN converges slowly.
    return config
