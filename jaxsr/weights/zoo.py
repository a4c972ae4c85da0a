"""The model zoo: the weights jaxsr ships and the published weights it imports, with where each comes from.

One data file, ``jaxsr/pretrained/zoo.json``, holds every entry: its name (``vdsr_official``), the registered
models it loads as (``vdsr``), architecture, training data, scales, source and citation, license note, and
its files (shipped: ``jaxsr/pretrained/<file>``, with size, sha256 and the published file it was converted
from; importable only: the published file name and where to get it), plus its Set5/Set14/B100 PSNR/SSIM
under the default protocol (re-measured by ``python -m jaxsr.zoo measure``, ``jaxsr.research.zoo_measure``).
``defaults`` names, per registered model, the best shipped entry: what ``jaxsr.load(model)``,
``evaluate.py --model`` and ``jaxsr-upscale --model`` use without weights. A weights argument that is not an
existing path but an entry's name (``jaxsr.load("vdsr", weights="vdsr_official")``) loads that entry.
``python -m jaxsr.zoo`` lists it all.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from jaxsr.base.errors import JaxsrError

__all__ = ["PRETRAINED", "ZOO_FILE", "ZooFile", "Entry", "entries", "get", "names", "default", "resolve",
           "catalogue"]

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"  # the shipped weights (package data of jaxsr)
ZOO_FILE = PRETRAINED / "zoo.json"


@dataclasses.dataclass(frozen=True)
class ZooFile:
    """One weights file of an entry. ``name``: in ``jaxsr/pretrained/`` for a shipped entry, else the
    published file's name; ``scales``: the scales it holds a model for; ``bytes``/``sha256``: of that file
    (None where unknown); ``source``: for shipped files, the published file converted (``name``, ``sha256``,
    ``published_as``); ``url``: a direct download, where there is one."""

    name: str
    scales: tuple[int, ...]
    bytes: int | None = None
    sha256: str | None = None
    source: dict | None = None
    url: str | None = None
    published_as: str | None = None


@dataclasses.dataclass(frozen=True)
class Entry:
    """A zoo entry (fields as in ``zoo.json``); ``scores``: ``{dataset: {"2": {"psnr", "ssim"}}}`` under
    ``protocol``, empty where not measured."""

    name: str
    models: tuple[str, ...]
    architecture: str
    trained_on: str
    shipped: bool
    source: str
    urls: tuple[str, ...]
    citation: str
    license: str
    files: tuple[ZooFile, ...]
    scores: dict
    protocol: str

    @property
    def model(self) -> str:
        """The registered model it is first loaded as."""
        return self.models[0]

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(sorted({s for f in self.files for s in f.scales}))

    @property
    def per_scale(self) -> bool:
        """True when each scale has its own file (SRCNN, EDSR), False for one model of all scales."""
        return len(self.files) > 1

    @property
    def bytes(self) -> int | None:
        sizes = [f.bytes for f in self.files]
        return None if None in sizes else sum(sizes)

    def file_for(self, scale: int) -> ZooFile:
        """The file holding the model for ``scale``: the only one of a one-file entry (at any scale; other
        scales than its own get a note from ``jaxsr.weights.provenance``), else the one trained for ``scale``."""
        if not self.per_scale:
            return self.files[0]
        for f in self.files:
            if scale in f.scales:
                return f
        raise JaxsrError(f"zoo entry {self.name!r} has one model per scale, for "
                         f"{', '.join(f'x{s}' for s in self.scales)} only, not x{scale}")

    def path(self, scale: int) -> Path:
        """The shipped file for ``scale``; JaxsrError for an entry that is not shipped (saying where its
        files come from)."""
        f = self.file_for(scale)
        if not self.shipped:
            where = f.url or (self.urls[0] if self.urls else self.source)
            raise JaxsrError(f"zoo entry {self.name!r} is not shipped with jaxsr: get {f.name} from {where} "
                             f"and pass that file as the weights")
        return PRETRAINED / f.name


def _file(raw: dict) -> ZooFile:
    return ZooFile(raw["name"], tuple(raw["scales"]), raw.get("bytes"), raw.get("sha256"), raw.get("source"),
                   raw.get("url"), raw.get("published_as"))


@functools.lru_cache(maxsize=1)
def catalogue() -> dict:
    """The parsed ``zoo.json``: ``{"protocol", "datasets", "scales", "defaults", "entries": [Entry, ...]}``."""
    raw = json.loads(ZOO_FILE.read_text())
    found = tuple(Entry(e["name"], tuple(e["models"]), e["architecture"], e["trained_on"], bool(e["shipped"]),
                        e["source"], tuple(e["urls"]), e["citation"], e["license"],
                        tuple(_file(f) for f in e["files"]), e.get("scores", {}), raw["protocol"])
                  for e in raw["entries"])
    return {**raw, "entries": found}


def entries() -> list[Entry]:
    """Every entry, shipped ones first (the order of ``zoo.json``)."""
    return list(catalogue()["entries"])


def names() -> list[str]:
    return [e.name for e in entries()]


def get(name: str) -> Entry:
    """The entry called ``name``; JaxsrError naming the known ones otherwise."""
    for e in entries():
        if e.name == name:
            return e
    raise JaxsrError(f"no zoo entry {name!r}; the zoo has {', '.join(names())} (jaxsr zoo)")


def default(model: str) -> Entry | None:
    """The entry ``model`` loads without weights (the best shipped one), or None (no weights shipped)."""
    name = catalogue()["defaults"].get(model)
    return None if name is None else get(name)


def _looks_like_a_name(weights: str) -> bool:
    return not any(c in weights for c in "/\\.{") and weights != ""


def resolve(model: str, weights=None) -> Entry | None:
    """The zoo entry a params source means for ``model``: ``default(model)`` for None, the entry named
    ``weights`` when that is not an existing path; None for paths (they are read as files or run folders).

    Raises:
      JaxsrError: a bare name that is neither a path nor an entry, or an entry of another model.
    """
    if weights is None:
        return default(model)
    text = str(weights)
    if Path(text).exists() or not _looks_like_a_name(text):
        return None  # an existing path wins over a zoo name
    if text not in names():
        raise JaxsrError(f"{text}: no such file, and no zoo entry of that name; the zoo has "
                         f"{', '.join(names())} (jaxsr zoo)")
    entry = get(text)
    if model not in entry.models:
        raise JaxsrError(f"zoo entry {entry.name!r} holds a {'/'.join(entry.models)} model, not {model!r}")
    return entry
