"""Evaluation: metrics (the registry), the test protocol, inference (upscaling, exact tiles), ``evaluate``
and its reports."""
