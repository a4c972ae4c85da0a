"""Model zoo: Flax Linen modules with pure ``init``/``apply``, NHWC float32 in [0, 1].

Every registered model declares the contract of :mod:`jaxsr.models.contract` (upsampling, scale mode,
channels, receptive radius, scale-specific parameters) and registers itself in its own module with the
decorator of :mod:`jaxsr.models.registry` (``@register("vdsr")``), which rejects a class that does not
declare the contract. :func:`contract` reads it from a model or a registered name, :func:`apply` calls any
model at a scale, :func:`build` constructs a registered model for a scale and ``get(name, **kwargs)`` with
explicit arguments. Adding a model = its module (declaring the contract, registering itself) + its import
below (or ``--import`` of a plug-in module outside jaxsr) + its config.
"""

from __future__ import annotations

from jaxsr.models import registry
from jaxsr.models.bicubic import Bicubic
from jaxsr.models.contract import ModelSpec, apply
from jaxsr.models.edsr import EDSR, pixel_shuffle
from jaxsr.models.mdsr import MDSR
from jaxsr.models.registry import arguments, build, contract, defaults, get, names, register, upsampling
from jaxsr.models.srcnn import SRCNN
from jaxsr.models.vdsr import VDSR

__all__ = ["VDSR", "SRCNN", "Bicubic", "EDSR", "MDSR", "pixel_shuffle", "get", "names", "upsampling",
           "register", "defaults", "arguments", "contract", "apply", "build", "ModelSpec", "registry"]
