"""Campaigns: a long training advanced in legs across sessions and machines (``python -m jaxsr.campaign``).

See ``jaxsr.research.campaign.runner`` for the folder layout and ``jaxsr.research.campaign.state`` for the state file.
"""

from jaxsr.research.campaign.runner import create, run_leg, status

__all__ = ["create", "run_leg", "status"]
