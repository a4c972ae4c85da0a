"""Campaigns: a long training advanced in legs across sessions and machines (``python -m jaxsr.campaign``).

See ``jaxsr.campaign.runner`` for the folder layout and ``jaxsr.campaign.state`` for the state file.
"""

from jaxsr.campaign.runner import create, run_leg, status

__all__ = ["create", "run_leg", "status"]
