"""SRCNN 9-1-5 (Dong et al. 2014) trained with jaxsr's pipeline on the 291 images, as VDSR's baseline.

The paper's SGD with per-layer rates (1e-4, 1e-5 last) is replaced by Adam at 1e-4, the common modern
recipe, which converges in far fewer steps; one model for x2, x3, x4 like VDSR's multi-scale training.
"""

from configs import vdsr


def get_config():
    config = vdsr.get_config()
    config.model.name = "srcnn"  # SRCNN: three conv layers on the ILR.
    config.model.kwargs = {"filters": (9, 1, 5), "features": (64, 32), "channels": 1}  # 9-1-5, Y channel.
    config.data.patch_size = 33  # SRCNN's 33×33 sub-images.
    config.batch_size = 128  # More, smaller patches per step.
    config.loss = "l2"  # MSE objective, as the paper.
    config.optim.name = "adam"  # Adam instead of the paper's per-layer SGD rates.
    config.optim.learning_rate = 1e-4  # Adam step size.
    config.optim.schedule = "constant"  # No decay.
    config.optim.weight_decay = 0.0  # None in the paper.
    config.optim.clip_theta = 0.0  # No clipping.
    config.num_epochs = 200  # Longer: SRCNN converges slowly.
    return config
