"""The model contract: what every registered model declares, checked at registration, and the one way to
call a model at a scale.

A model class declares (class attributes, ``typing.ClassVar``):

* ``upsampling``: ``"pre"`` — takes the MATLAB-bicubic upsampled image (ILR) and keeps its size; ``"post"`` —
  takes the LR image, output ``scale`` times larger.
* ``scale_mode``: ``"any"`` — one network for every scale (pre-upsampling models); ``"fixed"`` — built for
  one scale, a constructor field ``scale`` (EDSR); ``"call"`` — the scale is an argument of the call,
  ``apply(v, x, scale)``, for the branches in a constructor field ``scales`` (MDSR).
* ``scale_params``: prefixes of the top-level parameter names whose presence or shape depends on the scale
  (EDSR's ``"upsampler"``, MDSR's ``"up_"``); training's ``init_from`` leaves them freshly initialised.

and has a constructor field ``channels`` (1 = Y, 3 = RGB; input and output channels) and a method
``receptive_radius()`` (input pixels of context each output pixel sees on each side, exactly: tiling uses
it). Optionally, ``tiny`` (ClassVar, a dict): constructor arguments of a small instance, with which
``tests/test_model_contract.py`` checks every registered model (default: the registered arguments). And
optionally ``kwarg_ranges`` (ClassVar): ``{argument: (lo, hi)}`` for its integer (or integer tuple)
constructor arguments; :func:`check_kwargs` checks arguments from outside (a weights file, a run's config)
against the fields, their types and these ranges before anything is built (``depth=10**7`` never hangs).

:func:`spec_of` gives a built model's :class:`ModelSpec`; :func:`apply` calls any model at a scale. The
registry (names, ``build``, ``contract`` of a name) is :mod:`jaxsr.models.registry`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import flax.errors
import flax.linen as nn

__all__ = ["ModelSpec", "UPSAMPLING", "SCALE_MODES", "missing_contract", "spec_of", "apply", "check_kwargs"]

UPSAMPLING = ("pre", "post")
SCALE_MODES = ("any", "fixed", "call")


@dataclass(frozen=True)
class ModelSpec:
    """A model's declared contract, read from one model instance (see the module docstring)."""

    upsampling: str  # "pre" | "post"
    scale_mode: str  # "any" | "fixed" | "call"
    channels: int  # input and output channels
    receptive_radius: int  # input pixels of context on each side of an output pixel
    scale_params: tuple[str, ...]  # top-level param-name prefixes that belong to one scale
    scales: tuple[int, ...] | None  # the scales the model can run at; None = any
    kind: str = "model"  # the class name, for messages

    def factor(self, scale: int) -> int:
        """Output pixels per input pixel at ``scale`` (1 for pre-upsampling models)."""
        return int(scale) if self.upsampling == "post" else 1

    def is_scale_specific(self, key: tuple[str, ...] | str) -> bool:
        """Whether the parameter at ``key`` (a flattened params path or its first name) belongs to one scale."""
        first = key if isinstance(key, str) else key[0]
        return any(first.startswith(p) for p in self.scale_params)

    def check_scale(self, scale: int | None) -> None:
        """ValueError unless the model can run at ``scale`` (None: only models that need no scale)."""
        if scale is None:
            if self.scale_mode == "call":
                raise ValueError(f"{self.kind} takes the scale at call time, one of {self.scales}: pass scale")
            return
        if self.scale_mode == "fixed" and int(scale) not in self.scales:
            raise ValueError(f"{self.kind} was built for x{self.scales[0]}, asked for x{scale}")
        if self.scale_mode == "call" and int(scale) not in self.scales:
            raise ValueError(f"{self.kind} has branches for {self.scales}, not x{scale}")


def missing_contract(cls: type) -> list[str]:
    """What ``cls`` lacks of the contract (empty when it declares all of it), one phrase each."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    missing = []
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        missing.append("a flax.linen.Module subclass")
    if getattr(cls, "upsampling", None) not in UPSAMPLING:
        missing.append(f"upsampling (ClassVar, one of {UPSAMPLING})")
    mode = getattr(cls, "scale_mode", None)
    if mode not in SCALE_MODES:
        missing.append(f"scale_mode (ClassVar, one of {SCALE_MODES})")
    prefixes = getattr(cls, "scale_params", None)
    if not (isinstance(prefixes, tuple) and all(isinstance(p, str) and p for p in prefixes)):
        missing.append("scale_params (ClassVar, a tuple of parameter-name prefixes, () for none)")
    if "channels" not in fields:
        missing.append("a channels field")
    if not callable(getattr(cls, "receptive_radius", None)):
        missing.append("a receptive_radius() method")
    if mode == "fixed" and "scale" not in fields:
        missing.append("a scale field (scale_mode 'fixed')")
    if mode == "call" and "scales" not in fields:
        missing.append("a scales field (scale_mode 'call')")
    if mode == "any" and getattr(cls, "upsampling", None) == "post":
        missing.append("a scale (a post-upsampling model needs scale_mode 'fixed' or 'call')")
    return missing


def spec_of(model) -> ModelSpec:
    """The :class:`ModelSpec` of a built model (or an object that forwards the contract's attributes)."""
    mode = model.scale_mode
    scales = {"any": None, "fixed": (int(getattr(model, "scale", 0)),),
              "call": tuple(int(s) for s in getattr(model, "scales", ()))}[mode]
    return ModelSpec(model.upsampling, mode, int(model.channels), int(model.receptive_radius()),
                     tuple(model.scale_params), scales, type(model).__name__)


def apply(model, params, x, scale: int | None = None):
    """``model`` on ``x`` at ``scale``: the one way to call any model (MDSR gets the scale as an argument,
    EDSR is checked to be built for it, other models ignore it). ``params`` is the params pytree.

    Raises ValueError for a scale the model cannot run at, including MDSR params that were initialised
    without the branch of ``scale`` (flax's raw ScopeParamNotFoundError otherwise).
    """
    spec = spec_of(model)
    spec.check_scale(scale)
    call = {"scale": int(scale)} if spec.scale_mode == "call" else {}
    try:
        return model.apply({"params": params}, x, **call)
    except flax.errors.ScopeParamNotFoundError as e:
        if spec.scale_mode != "call":
            raise
        raise ValueError(f"the params have no x{scale} branch ({type(e).__name__}); they were initialised at "
                         f"another scale: initialise without a scale (jaxsr.weights.params.init_params) to create "
                         f"every branch of {spec.scales}") from None


def check_kwargs(cls: type, kwargs: dict) -> None:
    """ValueError (naming the argument) unless every ``kwargs`` entry is a constructor field of ``cls`` with
    a value of its default's type, within the class's declared ``kwarg_ranges``."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("parent", "name", "dtype")}
    ranges = getattr(cls, "kwarg_ranges", {})
    for key, value in kwargs.items():
        if key not in fields:
            raise ValueError(f"{cls.__name__} has no argument {key!r}")
        default = fields[key].default
        ints = value if isinstance(value, (tuple, list)) else (value,)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, tuple)):
            ok = (isinstance(value, (tuple, list)) == isinstance(default, tuple) and len(ints) <= 64
                  and all(isinstance(v, int) and not isinstance(v, bool) for v in ints))
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default)) if default is not dataclasses.MISSING else True
        if not ok:
            kind = {"bool": "a bool", "int": "an integer", "tuple": "a list of integers", "float": "a number",
                    "str": "a string"}.get(type(default).__name__, type(default).__name__)
            raise ValueError(f"{key}={value!r:.60} is not {kind}, as {cls.__name__}'s {key} must be")
        if key in ranges:
            lo, hi = ranges[key]
            if not all(lo <= v <= hi for v in ints):
                raise ValueError(f"{key}={value!r:.60} is outside {cls.__name__}'s range {lo}..{hi}")
