"""Re-measuring the zoo's scores (``python -m jaxsr.zoo measure``): every entry whose weights are at hand,
on the benchmark folders, under the zoo's protocol, through the same loading and evaluation as
``evaluate.py``; compared with (and optionally written into) ``zoo.json``."""

from __future__ import annotations

import json
from pathlib import Path

from jaxsr.weights import zoo
from jaxsr.base.errors import JaxsrError

__all__ = ["weights_at_hand", "measure", "differences", "write_scores"]


def _find(weights_dir: Path, f: zoo.ZooFile) -> Path | None:
    """``f`` under ``weights_dir``: by its name anywhere below, or at its published relative path."""
    if f.published_as and (weights_dir / f.published_as).is_file():
        return weights_dir / f.published_as
    return next((p for p in sorted(weights_dir.rglob(f.name)) if p.is_file()), None)


def weights_at_hand(entry: zoo.Entry, weights_dir=None) -> dict[int, str] | None:
    """``{scale: params source}`` for every scale of ``entry``: its own name for a shipped entry, else the
    files found under ``weights_dir``; None when some file is not there."""
    if entry.shipped:
        return {s: entry.name for s in entry.scales}
    if weights_dir is None:
        return None
    found = {}
    for f in entry.files:
        path = _find(Path(weights_dir), f)
        if path is None:
            return None
        found.update({s: str(path) for s in f.scales})
    return found


def measure(data_dir, names=None, datasets=None, scales=None, weights_dir=None, progress: bool = True,
            log=None) -> tuple[dict, list[str]]:
    """Score zoo entries on ``data_dir/<dataset>`` under the zoo's protocol.

    Args:
      names: entries to measure (default: all whose weights are at hand).
      datasets, scales: default: the zoo's (Set5, Set14, B100; 2, 3, 4); each entry at its own scales.
      weights_dir: where the published files of entries that are not shipped are looked for (by file name).
      log: ``callable(str)`` told each entry as it starts.
    Returns:
      (``{entry: {dataset: {"2": {"psnr", "ssim", "images"}}}}``, names of the entries left out and why).
    """
    from jaxsr.data.folder import find_dataset
    from jaxsr.data.sources import FolderImages
    from jaxsr.eval.evaluation import evaluate
    from jaxsr.weights.loading import ParamsSource
    from jaxsr.research.paper import FOLDERS

    cat = zoo.catalogue()
    datasets = list(datasets or cat["datasets"])
    scales = [int(s) for s in (scales or cat["scales"])]
    chosen = [zoo.get(n) for n in names] if names else zoo.entries()
    folders = {}
    for d in datasets:
        found = [n for n in FOLDERS.get(d, (d,)) if (Path(data_dir) / n).is_dir()]
        folders[d] = FolderImages(find_dataset(data_dir, found[0] if found else d))  # JaxsrError if absent
    results, skipped = {}, []
    for entry in chosen:
        sources = weights_at_hand(entry, weights_dir)
        at = [s for s in scales if s in entry.scales]
        if sources is None or not at:
            skipped.append(f"{entry.name} ({'weights not at hand' if sources is None else 'no such scale'})")
            continue
        if log:
            log(f"{entry.name}: {', '.join(datasets)} at {', '.join(f'x{s}' for s in at)}")
        by_source = {src: ParamsSource(entry.model, src) for src in set(sources.values())}
        upscalers = {s: by_source[sources[s]].upscaler(s) for s in at}  # every file read before scoring
        table = evaluate(upscalers.__getitem__, folders, at, progress=progress, protocol=cat["protocol"])
        results[entry.name] = {d: {k: {"psnr": round(r["psnr"], 6), "ssim": round(r["ssim"], 6),
                                        "images": r["images"]} for k, r in by_scale.items()}
                               for d, by_scale in table.items()}
    return results, skipped


def differences(measured: dict) -> list[dict]:
    """One row per measured cell: the stored and measured figures and their differences (stored None where
    the zoo has none)."""
    rows = []
    for name, by_dataset in measured.items():
        stored = zoo.get(name).scores
        for d, by_scale in by_dataset.items():
            for s, r in by_scale.items():
                old = stored.get(d, {}).get(s)
                rows.append({"entry": name, "dataset": d, "scale": int(s), "psnr": r["psnr"], "ssim": r["ssim"],
                             "stored_psnr": old and old["psnr"], "stored_ssim": old and old["ssim"],
                             "psnr_diff": old and r["psnr"] - old["psnr"],
                             "ssim_diff": old and r["ssim"] - old["ssim"]})
    return rows


def write_scores(measured: dict, path=None) -> Path:
    """Merge ``measured`` into the ``scores`` of ``zoo.json`` (``path``: another copy of it), atomically."""
    from jaxsr.base.io import atomic_write_bytes

    path = Path(path or zoo.ZOO_FILE)
    raw = json.loads(path.read_text())
    by_name = {e["name"]: e for e in raw["entries"]}
    for name, by_dataset in measured.items():
        if name not in by_name:
            raise JaxsrError(f"{path}: no entry {name!r}")
        scores = by_name[name].setdefault("scores", {})
        for d, by_scale in by_dataset.items():
            scores.setdefault(d, {}).update({s: {"psnr": r["psnr"], "ssim": r["ssim"]} for s, r in by_scale.items()})
    atomic_write_bytes(path, (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode())
    zoo.catalogue.cache_clear()
    return path
