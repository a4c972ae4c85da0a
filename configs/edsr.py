"""EDSR (Lim et al. 2017): the baseline model at x2 by default; the paper's training recipe, which is the
schema's "edsr" family defaults (L1, Adam β = (0.9, 0.999), ε = 1e-8, lr 1e-4 halved every 2·10^5 of 3·10^5
steps, batch 16, 48×48 LR patches; no SGD or clipping fields).

  python train.py --config configs/edsr.py --workdir runs/edsr_x2 --config.data.folders=DIV2K/DIV2K_train_HR
  python train.py --config configs/edsr.py --workdir runs/edsr_x3 --config.data.scales="(3,)" \
      --config.init_from=runs/edsr_x2 --config.data.folders=...

x3/x4 models start from a trained x2 model (everything but the upsampler), as the paper does. The full
EDSR: ``--config.model.name=edsr --config.model.kwargs.num_blocks=32 --config.model.kwargs.features=256
--config.model.kwargs.res_scale=0.1``.
"""

from jaxsr.train.config import get_config as defaults


def get_config():
    config = defaults("edsr")  # EDSR baseline: 16 residual blocks of 64 features, x2.
    config.data.source = "folders"  # DIV2K's HR folder (or data.source = "tfds" with TFDS div2k).
    return config
