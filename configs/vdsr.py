"""VDSR, the paper's recipe (Kim, Lee & Lee, CVPR 2016, §4.1): the schema's "vdsr" family defaults.

  python train.py --config configs/vdsr.py --workdir runs/vdsr \
      --config.data.folders=../shared/data/train/T91,../shared/data/train/BSD200

One model for x2, x3 and x4 (scales mixed in every batch), 41×41 ILR patches, batch 64, SGD with momentum
0.9 and weight decay 1e-4, learning rate 0.1 divided by 10 every 20 epochs for 80 epochs, adjustable
gradient clipping, He initialisation, loss ½‖r − f(x)‖² per patch. Every field and its meaning:
``python -m jaxsr.config vdsr`` (jaxsr/train/config.py).

Epoch (defined in jaxsr.data.epochs): the non-overlapping 41×41 patches of the training images at all three
scales, divided by the batch — 54,192 patches, 847 steps on the 291 images, so 67,760 steps in all (T91
alone: 7,992 patches, 125 steps per epoch, 10,000 steps; the paper quotes ≈9,960 for 80 epochs on T91).

θ (clip_theta): not printed in the paper. With the summed-per-patch L2 loss, early gradients are far above
θ/γ, so most elements are clipped and every one moves by ≈θ per step (≈10θ once momentum 0.9 builds up):
θ must be small against the He weight scale (std ≈ 0.06 in the 64→64 layers). jaxsr uses θ = 1e-4, chosen
on the training loss only (never on test images). Measured on T91 (x2/x3/x4, batch 64, lr 0.1, seed 0,
the vdsr_t91 campaign's patch stream, where predicting a zero residual gives loss ≈ 1.6):
θ = 1e-3 (jaxsr's first choice) blows up (loss 11.5 at step 1, mean 176 over steps 2–10, gradient norm 1e4)
and leaves a dead network: after 150 steps the loss is back at the zero-residual level, 82–99.9% of the
ReLUs of the inner layers are off, the predicted residual is ~constant (std 0.002 against 0.038), and Set5
x2 is 33.13 dB, below bicubic's 33.66. θ = 1e-4 does not blow up (mean loss 2.7 over steps 2–10) and
learns: at step 80 the loss is 0.915× the zero-residual loss, every layer has 22–52% of its ReLUs on, and
the predicted residual correlates 0.32 with the true one. (An earlier 60-step check on the 291 images at
batch 16 had read θ = 1e-3's fall to the zero-residual level as training.) θ = 1e-2 and above diverge.
"""

from jaxsr.train.config import get_config as defaults


def get_config():
    return defaults("vdsr")  # The paper's values are the family's defaults.
