"""VDSR, the paper's recipe (Kim, Lee & Lee, CVPR 2016, §4.1): the schema's "vdsr" family defaults.

  python train.py --config configs/vdsr.py --workdir runs/vdsr \
      --config.data.folders=../shared/data/train/T91,../shared/data/train/BSD200

One model for x2, x3 and x4 (scales mixed in every batch), 41×41 ILR patches, batch 64, SGD with momentum
0.9 and weight decay 1e-4, learning rate 0.1 divided by 10 every 20 epochs for 80 epochs, adjustable
gradient clipping, He initialisation, loss ½‖r − f(x)‖² per patch. Every field and its meaning:
``python -m jaxsr.config vdsr`` (jaxsr/config.py).

Epoch (defined in jaxsr.data.epochs): the non-overlapping 41×41 patches of the training images at all three
scales, divided by the batch — 54,192 patches, 847 steps on the 291 images, so 67,760 steps in all (T91
alone: 7,992 patches, 125 steps per epoch, 10,000 steps; the paper quotes ≈9,960 for 80 epochs on T91).

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
