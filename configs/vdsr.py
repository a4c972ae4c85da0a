"""VDSR, the paper's recipe (Kim, Lee & Lee, CVPR 2016, §4.1).

  python train.py --config configs/vdsr.py --workdir runs/vdsr \
      --config.data.folders=../shared/data/train/T91,../shared/data/train/BSD200

One model for x2, x3 and x4 (scales mixed in every batch), 41×41 ILR patches, batch 64, SGD with momentum
0.9 and weight decay 1e-4, learning rate 0.1 divided by 10 every 20 epochs for 80 epochs, adjustable
gradient clipping, He initialisation, loss ½‖r − f(x)‖² per patch.

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

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.seed = 0  # Seed of parameter initialisation and of the training patch stream.

    config.model = ml_collections.ConfigDict()
    config.model.name = "vdsr"  # Registered model name (jaxsr.models.names()).
    # Constructor arguments of the model: 20 layers of 64 3×3 filters, residual, Y channel.
    config.model.kwargs = ml_collections.ConfigDict({"depth": 20, "features": 64, "residual": True, "channels": 1})

    config.data = ml_collections.ConfigDict()
    config.data.source = "folders"  # "folders" (data.folders), "embedded" (scikit-image photos) or "tfds".
    config.data.folders = ""  # Comma-separated folders of HR images, e.g. .../T91,.../BSD200 (the 291 images).
    config.data.tfds_name = "div2k"  # TFDS dataset with bicubic_x{s} configs (source = "tfds").
    config.data.tfds_data_dir = ""  # TFDS data_dir holding the prepared dataset ("" = TFDS default).
    config.data.scales = (2, 3, 4)  # Scales mixed within each batch.
    config.data.patch_size = 41  # Input patch side (ILR = HR side for pre-upsampling models).
    config.data.sampler = "tfdata"  # "tfdata" (host pipeline) or "device" (patches drawn inside jit).
    config.data.cache_dir = ""  # Where the prepared LR/ILR table is kept ("" = <workdir>/cache).

    config.batch_size = 64  # Global batch size (all devices and hosts together); a multiple of the devices.
    config.compute_dtype = "float32"  # "float32" or "bfloat16" (activations/matmuls; params stay float32).
    config.loss = "l2"  # "l2": ½‖target − prediction‖² summed per patch, batch mean (paper); "l1": mean |·|.

    config.optim = ml_collections.ConfigDict()
    config.optim.name = "sgd"  # "sgd" (momentum) or "adam".
    config.optim.learning_rate = 0.1  # Initial learning rate γ.
    config.optim.schedule = "step"  # "step" (×decay_factor every decay_every_*) or "constant".
    config.optim.decay_factor = 0.1  # Learning-rate factor at each decay.
    config.optim.decay_every_epochs = 20  # Decay period in epochs (used when decay_every_steps = -1).
    config.optim.decay_every_steps = -1  # Decay period in steps; -1 = decay_every_epochs × steps_per_epoch.
    config.optim.weight_decay = 1e-4  # L2 weight decay on kernels (added to the gradient).
    config.optim.momentum = 0.9  # SGD momentum.
    config.optim.clip_theta = 1e-3  # Adjustable clipping θ: gradients clipped to ±θ/γ_t (0 = off).
    config.optim.b1 = 0.9  # Adam β1.
    config.optim.b2 = 0.999  # Adam β2.
    config.optim.eps = 1e-8  # Adam ε.

    config.init_from = ""  # Workdir of a run to start from (all params but the upsampler), e.g. EDSR x2 → x3.

    config.num_epochs = 80  # Training length in epochs (used when total_steps = -1).
    config.steps_per_epoch = -1  # -1 = the paper's epoch: non-overlapping patches of the data / batch.
    config.total_steps = -1  # Training steps; -1 = num_epochs × steps_per_epoch; 0 = only evaluate.

    config.log_every_steps = 100  # Progress line and TensorBoard scalars every N steps.
    config.checkpoint_every_steps = 2000  # Orbax checkpoint every N steps (and at the end).
    config.keep_checkpoints = 3  # Number of checkpoints kept.

    config.eval = ml_collections.ConfigDict()
    config.eval.every_steps = 5000  # Validation PSNR every N steps (and at the end); 0 = only at the end.
    config.eval.data_dir = ""  # Benchmark root with <name>/ folders; "" = the embedded held-out photos.
    config.eval.datasets = "Set5"  # Comma-separated dataset names under eval.data_dir.
    config.eval.scales = (2, 3, 4)  # Scales evaluated.
    config.eval.protocol = "matlab"  # 'matlab': uint8 Y as the papers' tables; 'float': no quantization.
    return config
