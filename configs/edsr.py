"""EDSR (Lim et al. 2017): the baseline model at x2 by default; the paper's training recipe.

  python train.py --config configs/edsr.py --workdir runs/edsr_x2 --config.data.folders=DIV2K/DIV2K_train_HR
  python train.py --config configs/edsr.py --workdir runs/edsr_x3 --config.data.scales="(3,)" \
      --config.init_from=runs/edsr_x2 --config.data.folders=...

x3/x4 models start from a trained x2 model (everything but the upsampler), as the paper does. The full
EDSR: ``--config.model.name=edsr --config.model.kwargs.num_blocks=32 --config.model.kwargs.features=256
--config.model.kwargs.res_scale=0.1``.
"""

from configs import vdsr


def get_config():
    config = vdsr.get_config()
    config.model.name = "edsr_baseline"  # EDSR baseline: 16 residual blocks of 64 features.
    config.model.kwargs = {"num_blocks": 16, "features": 64, "res_scale": 1.0}  # Architecture (RGB).
    config.data.scales = (2,)  # One scale per EDSR model.
    config.data.patch_size = 48  # LR patch side (HR patch = 48·scale).
    config.data.source = "folders"  # DIV2K's HR folder (or data.source = "tfds" with TFDS div2k).
    config.batch_size = 16  # As the paper.
    config.loss = "l1"  # L1 loss.
    config.optim.name = "adam"  # Adam, β = (0.9, 0.999), ε = 1e-8.
    config.optim.learning_rate = 1e-4  # Initial step size.
    config.optim.schedule = "step"  # Halved every 200k steps.
    config.optim.decay_factor = 0.5  # Halving.
    config.optim.decay_every_steps = 200_000  # Every 2·10^5 updates.
    config.optim.weight_decay = 0.0  # None.
    config.optim.clip_theta = 0.0  # No clipping.
    config.total_steps = 300_000  # 3·10^5 updates.
    config.checkpoint_every_steps = 5000  # Checkpoints.
    config.eval.every_steps = 10_000  # Validation PSNR.
    return config
