"""Where a result comes from: the weights file and its digest, the scales a model was trained for, and the
metadata written next to evaluation results (model, weights, protocol, scales, jaxsr version, date)."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

__all__ = ["weights_record", "trained_scales", "scale_note", "results_metadata"]

# Scales the published weights of a paper were trained for (VDSR: one model for x2, x3 and x4).
PAPER_SCALES = {"vdsr": (2, 3, 4)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_record(weights: str | None, scales=(), model: str | None = None) -> list[dict]:
    """[{"path", "name", "sha256"}] for a weights file ({scale} substituted for each scale); a zoo entry
    (by name, or ``model``'s shipped default for None) adds ``"zoo": <entry>``; a training run folder is
    recorded by path (its checkpoint is verified when restored); [] for no weights."""
    from jaxsr.weights import zoo

    entry = zoo.resolve(model, weights) if model is not None else None
    if entry is not None:
        paths = {str(entry.path(s)): entry.name for s in scales}
    elif not weights:
        return []
    elif "{scale}" in str(weights):
        paths = dict.fromkeys(str(weights).format(scale=s) for s in scales)
    else:
        paths = {str(weights): None}
    out = []
    for p, name in ((Path(p), name) for p, name in paths.items()):
        if p.is_file():
            out.append({"path": str(p), "name": p.name, "sha256": _sha256(p), **({"zoo": name} if name else {})})
        else:
            out.append({"path": str(p), "name": p.name, "kind": "training run" if p.is_dir() else "missing"})
    return out


def trained_scales(model: str, weights: str | None = None) -> tuple[int, ...] | None:
    """Scales the weights were trained for, where that is known: a training run's ``data.scales``, or the
    paper's published model (the authors' ``.mat``; a zoo entry, ``jaxsr.weights.zoo``, or the shipped default:
    its scales; VDSR: 2, 3, 4); None when unknown (a ``.msgpack`` file) or not applicable (models built per
    scale, one file per scale)."""
    from jaxsr import models
    from jaxsr.weights import zoo

    if model in models.names() and models.contract(model).upsampling == "post":
        return None  # EDSR is built for its scale, MDSR refuses scales it has no branch for
    entry = zoo.resolve(model, weights) if model in models.names() else None
    if entry is not None:
        return None if entry.per_scale else entry.scales
    if weights and Path(weights).is_dir():
        from jaxsr.weights.checkpoint import read_run_config

        try:
            return tuple(int(s) for s in read_run_config(weights).data.scales)
        except Exception:  # an unreadable run is reported by the loader itself
            return None
    if weights is not None and "{scale}" in str(weights):
        return None  # one file per scale
    if weights is not None and model.startswith("srcnn") and str(weights).lower().endswith(".mat"):
        import re  # the SRCNN authors release one model per scale, named ..._x<scale>.mat or x<scale>.mat

        match = re.search(r"x(\d+)$", Path(weights).stem)
        return (int(match.group(1)),) if match else None
    if weights is not None and str(weights).lower().endswith(".mat"):  # the authors' own release
        return PAPER_SCALES.get(model)
    return None  # a params file says nothing about the scales it was trained for


def scale_note(model: str, weights: str | None, scales) -> str | None:
    """A ``note:`` text when some of ``scales`` are outside the scales the model was trained for."""
    known = trained_scales(model, weights)
    other = [s for s in scales if known is not None and s not in known]
    if not other:
        return None
    listed = ", ".join(f"x{s}" for s in known)
    return (f"{model} was trained for {listed}; {', '.join(f'x{s}' for s in other)} "
            f"{'is' if len(other) == 1 else 'are'} outside that, expect poorer results")


def results_metadata(model: str, label: str, weights: str | None, workdir: str | None, scales,
                     **settings) -> dict:
    """The ``meta`` record of a results JSON: what was evaluated, how, by which jaxsr, when (UTC)."""
    from jaxsr.base.version import __version__

    return {"model": model, "label": label,
            "weights": weights_record(workdir or weights, scales, None if workdir else model), "workdir": workdir,
            "scales": [int(s) for s in scales], **settings, "jaxsr_version": __version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
