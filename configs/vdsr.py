"""VDSR, the paper's recipe (Kim, Lee & Lee, CVPR 2016, §4.1): the schema's "vdsr" family defaults.

  python train.py --config configs/vdsr.py --workdir runs/vdsr \
      --config.data.folders=../shared/data/train/T91,../shared/data/train/BSD200

One model for x2, x3 and x4 (scales mixed in every batch), 41×41 ILR patches, batch 64, SGD with momentum
0.9 and weight decay 1e-4, learning rate 0.1 divided by 10 every 20 epochs for 80 epochs, adjustable
gradient clipping, He initialisation, loss ½‖r − f(x)‖² per patch. Every field and its meaning:
``python -m jaxsr.config vdsr`` (jaxsr/config.py).

Epoch: the paper cuts the 291 images (all three scales) into non-overlapping 41×41 patches; that count
divided by the batch is one epoch (≈1,050 steps on the 291 images, so ≈84k steps in all).

θ (clip_theta): not printed in the paper. With the summed-per-patch L2 loss, gradients early in training are
O(1) per element, so lr 0.1 alone would move weights (He std ≈ 0.06) by O(0.1) per step and diverge.
Clipping at θ/γ bounds every element's step to θ before momentum; θ = 1e-3 keeps the worst case
(≈ θ/(1 − 0.9) = 0.01 with momentum) well under the weight scale while leaving most gradients unclipped
once training settles. Measured on the 291 images (batch 16, lr 0.1, 60 steps, CPU): θ = 1e-3 trains
(loss 255 → 2.1, 0.3% of elements clipped), θ = 1e-2 diverges (loss 1e16), θ = 0.1 and no clipping
give NaN within the first steps.
"""

from jaxsr.config import get_config as defaults


def get_config():
    return defaults("vdsr")  # The paper's values are the family's defaults.
