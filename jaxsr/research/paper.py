"""The papers' tables reproduced side by side with their printed figures: :func:`reproduce` evaluates every
method of a table that has weights on every dataset of it found under a folder, at every scale, and
:func:`markdown` prints the measured PSNR / SSIM beside the paper's with the difference. The printed figures
live in one data file, ``jaxsr/research/paper_tables.json``; the command line is ``python -m jaxsr.paper``
(``jaxsr.cli.paper``).
"""

from __future__ import annotations

import json
from pathlib import Path

from jaxsr.base.errors import JaxsrError
from jaxsr.eval.metrics import DEFAULT_METRICS, check_metrics, format_scores, metric_label
from jaxsr.eval.protocol import DEFAULT_PROTOCOL, check_protocol

__all__ = ["TABLES_FILE", "paper_tables", "reproduce", "markdown"]

TABLES_FILE = Path(__file__).with_name("paper_tables.json")
MODELS = {"Bicubic": "bicubic", "SRCNN": "srcnn", "VDSR": "vdsr"}  # table method → registered model
FOLDERS = {"B100": ("B100", "BSD100")}  # dataset → folder names it is found under


def paper_tables() -> dict:
    """``{table: {"source", "methods", "values": {dataset: {scale: {method: [psnr, ssim]}}}}}``."""
    return json.loads(TABLES_FILE.read_text())


def _folder(data_dir: Path, dataset: str) -> str | None:
    for name in FOLDERS.get(dataset, (dataset,)):
        if (data_dir / name).is_dir():
            return name
    return None


def reproduce(table: str, data_dir, weights: dict, scales=None, datasets=None,
              protocol: str = DEFAULT_PROTOCOL, progress: bool = True, metrics=()) -> dict:
    """Measure a paper table.

    Args:
      table: a key of :func:`paper_tables`, e.g. ``"vdsr_table3"``.
      data_dir: folder with one sub-folder of HR images per dataset; the table's datasets found there
        are evaluated.
      weights: ``{method: weights path}`` (``{scale}`` substituted); methods without weights other than
        Bicubic are left out.
      scales, datasets: subsets of the table's (default: all).
      protocol: evaluation protocol (``jaxsr.eval.protocol``); the papers' is ``"matlab"``.
      metrics: registered metrics measured besides the papers' PSNR and SSIM.
    Returns:
      ``{"table", "source", "protocol", "methods", "metrics", "rows": [{"dataset", "scale", "method",
      "psnr", "ssim", <other metrics>..., "paper_psnr", "paper_ssim", "psnr_diff", "ssim_diff",
      "images"}]}``.
    """
    from jaxsr.data.sources import FolderImages
    from jaxsr.data.folder import find_dataset
    from jaxsr.eval.evaluation import evaluate
    from jaxsr.weights.loading import upscaler_factory

    check_protocol(protocol)
    metrics = check_metrics((*DEFAULT_METRICS, *metrics))
    tables = paper_tables()
    if table not in tables:
        raise JaxsrError(f"unknown table {table!r}; known: {', '.join(sorted(tables))}")
    spec, data_dir = tables[table], Path(data_dir)
    values = spec["values"]
    unknown = [d for d in datasets or () if d not in values]
    if unknown:
        raise JaxsrError(f"{table} has no dataset {unknown[0]!r}; it has {', '.join(values)}")
    found = {d: _folder(data_dir, d) for d in (datasets or values)}
    found = {d: f for d, f in found.items() if f is not None}
    if not found:
        raise JaxsrError(f"{data_dir}: none of the table's datasets ({', '.join(datasets or values)}) is there")
    all_scales = sorted({int(s) for by_scale in values.values() for s in by_scale})
    scales = [int(s) for s in scales] if scales else all_scales
    if set(scales) - set(all_scales):
        raise JaxsrError(f"{table} has scales {all_scales}, asked for {scales}")
    methods = [m for m in spec["methods"] if m == "Bicubic" or weights.get(m)]
    sets = {d: FolderImages(find_dataset(data_dir, f)) for d, f in found.items()}
    upscalers = {}  # every weights file is read (and checked) before the first image is scored
    for method in methods:
        factory, _ = upscaler_factory(MODELS[method], weights.get(method))
        upscalers[method] = {s: factory(s) for s in scales}
    rows = []
    for method in methods:
        results = evaluate(upscalers[method].__getitem__, sets, scales, progress=progress, protocol=protocol,
                           metrics=metrics)
        for d, by_scale in results.items():
            for s, r in by_scale.items():
                paper_psnr, paper_ssim = values[d][s][method]
                rows.append({"dataset": d, "scale": int(s), "method": method, **{m: r[m] for m in metrics},
                             "paper_psnr": paper_psnr, "paper_ssim": paper_ssim,
                             "psnr_diff": r["psnr"] - paper_psnr, "ssim_diff": r["ssim"] - paper_ssim,
                             "images": r["images"]})
    return {"table": table, "source": spec["source"], "protocol": protocol, "methods": methods,
            "metrics": list(metrics), "rows": rows}


def markdown(result: dict) -> str:
    """The measured table in Markdown: per method, the measured metrics (PSNR / SSIM, then any others), the
    paper's PSNR / SSIM, and the difference."""
    methods, metrics = result["methods"], result.get("metrics", list(DEFAULT_METRICS))
    measured = "" if list(metrics) == list(DEFAULT_METRICS) else " " + " / ".join(map(metric_label, metrics))
    head = "| Dataset | Scale | " + " | ".join(f"{m}{measured} | paper | Δ" for m in methods) + " |"
    lines = [head, "|---|---|" + "---|---|---|" * len(methods)]
    cells = {(r["dataset"], r["scale"], r["method"]): r for r in result["rows"]}
    for d, s in dict.fromkeys((r["dataset"], r["scale"]) for r in result["rows"]):
        parts = []
        for m in methods:
            r = cells[d, s, m]
            parts.append(f"{format_scores(r, metrics, digits=4)} | {r['paper_psnr']:.2f} / {r['paper_ssim']:.4f} | "
                         f"{r['psnr_diff']:+.3f} / {r['ssim_diff']:+.4f}")
        lines.append(f"| {d} | x{s} | " + " | ".join(parts) + " |")
    return "\n".join(lines)
