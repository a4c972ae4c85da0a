"""Quickstart: a small x2 VDSR trained in two to three minutes on 2 CPU cores, offline.

Trains on the photos that ship with scikit-image and evaluates on two held-out ones (astronaut, chelsea):
  python train.py --config configs/quickstart.py --workdir runs/quickstart

One scale only: a network this small (8 layers, receptive field 17×17) cannot tell the scales apart well,
and trained on x2/x3/x4 mixed it over-sharpens x2 (measured: 0.0 to −0.3 dB against bicubic at x2 after
900–2,500 steps, while x2 alone gains +1.4 dB in 900 steps). The paper-size model is multi-scale
(configs/vdsr.py).
"""

from jaxsr.train.config import get_config as defaults, optimizer


def get_config():
    config = defaults("vdsr")
    config.model.kwargs = {"depth": 8, "features": 32, "residual": True, "channels": 1}  # Small VDSR.
    config.data.source = "embedded"  # scikit-image photos: nothing to download.
    config.data.sampler = "device"  # Patches drawn inside jit: fastest on CPU, needs no TensorFlow.
    config.data.scales = (2,)  # x2 only (see above).
    config.data.patch_size = 32  # Smaller patches, more steps per minute.
    config.batch_size = 16  # Small batches for 2 CPU cores.
    # Adam at 1e-3 (converges fast without tuning), ×0.1 after 1,200 steps, no weight decay, no clipping.
    config.optim = optimizer("adam", learning_rate=1e-3, decay_every_steps=1200, weight_decay=0.0)
    config.total_steps = 1500  # 2 min 37 s on 2 busy CPU cores, evaluation included.
    config.log_every_steps = 50  # Frequent progress lines.
    config.checkpoint_every_steps = 500  # A few checkpoints.
    config.eval.every_steps = 0  # Evaluate at the end only.
    config.eval.datasets = "embedded"  # Two held-out scikit-image photos (astronaut, chelsea).
    config.eval.scales = (2,)  # The scale it was trained for.
    return config
