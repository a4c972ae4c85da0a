"""Training: the config schema and its checks, the config resolved once (``run_spec``), losses, optimizers, the
pure step, feeding batches, the one loop, monitoring, a training run, vmapped sweeps."""
