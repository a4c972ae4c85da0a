"""ml_collections training configs: ``python train.py --config configs/<name>.py``."""
