"""VDSR on the 91 images (the paper's §4 experiments, Kim, Lee & Lee 2016): the first training campaign.

  nice -n 19 python -m jaxsr.campaign run campaigns/vdsr_t91 --config configs/vdsr_t91.py --max_seconds 9000

The paper's recipe (configs/vdsr.py) on T91 only: x2/x3/x4 mixed in every batch, 41×41 patches, batch 64,
SGD momentum 0.9, weight decay 1e-4, lr 0.1 ÷10 every 20 epochs, 80 epochs = 10,000 steps (125 per epoch),
float32, seed 0. Set5 x2/x3/x4 is scored at the epochs of the paper's Table 1 and more; Set5, Set14 and B100
x2/x3/x4 at the end. Paths are relative to the repository root (the campaign stores them relative to its
folder).
"""

from jaxsr.train.config import get_config as defaults


def get_config():
    config = defaults("vdsr")  # The paper's recipe.
    config.data.folders = "../shared/data/train/T91"  # The 91 images (Yang et al. 2010).
    config.data.sampler = "device"  # Same patch stream as tf.data, bit for bit; no TensorFlow needed.
    config.log_every_steps = 25  # A log row every ≈1 minute on 2 CPU cores.
    config.eval.every_steps = 0  # Only at these epochs, and at the end:
    config.eval.epochs = (1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70)
    config.eval.data_dir = "../shared/data/test"
    config.eval.datasets = "Set5"
    config.eval.final_datasets = "Set5,Set14,B100"
    return config
