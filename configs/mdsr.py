"""MDSR (Lim et al. 2017): one baseline model for x2, x3 and x4; each batch is drawn from one scale
chosen at random (a pure function of (seed, step)), so every scale compiles once.

  python train.py --config configs/mdsr.py --workdir runs/mdsr --config.data.folders=DIV2K/DIV2K_train_HR
"""

from jaxsr.train.config import get_config as defaults


def get_config():
    config = defaults("edsr")  # EDSR's recipe: L1, Adam.
    config.model.name = "mdsr_baseline"  # Shared body of 16 blocks, per-scale heads and upsamplers.
    config.model.kwargs = {"num_blocks": 16, "features": 64}  # 80 blocks for the full MDSR ("mdsr").
    config.data.scales = (2, 3, 4)  # All three, one per batch.
    config.eval.scales = (2, 3, 4)  # Validation PSNR per scale.
    return config
