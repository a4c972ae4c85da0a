"""Weights: params files and the published formats (``.mat``, EDSR-PyTorch ``.pt``), verified checkpoints, the
model zoo's catalogue and shipped weights (``jaxsr/pretrained/``), loading a model by name, provenance."""
