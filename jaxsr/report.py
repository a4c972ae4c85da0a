"""Results worth looking at: labeled HR | bicubic | model comparison crops and a self-contained HTML report.

* ``save_outputs``: per image and scale, the SR output ``<name>.png`` and ``<name>_compare.png``: three crops
  (HR, bicubic, model) of the window where the model differs most from bicubic, enlarged with nearest
  neighbour to at least ``min_side`` pixels each, each under a label with its whole-image score (the first
  evaluated metric: PSNR on Y, shaved, by default).
* ``write_report``: ``index.html`` with the run's metadata, the table and, per image, its comparison; images
  are referenced by relative paths, so the folder opens in a browser without a server and can be moved.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jaxsr.io import atomic_write_bytes, to_uint8, write_image
from jaxsr.metrics import format_scores, metric_label, result_metrics

__all__ = ["save_outputs", "comparison_image", "write_report", "COMPARE_SUFFIX"]

COMPARE_SUFFIX = "_compare.png"


def save_outputs(folder, stem: str, images: dict, scale: int, metrics: dict, label: str = "model",
                 overwrite: bool = True) -> None:
    """Write ``<stem>.png`` (the SR output: the model's RGB for colour input, for Y models with Cb/Cr bicubic
    from the LR; gray for gray input) and the labeled ``<stem>_compare.png`` into ``folder``. ``images``
    (from the evaluation) has the mod-cropped ``hr`` (H, W[, 3]), the (H, W) Y predictions ``sr_y`` and
    ``bicubic_y`` and, for colour input, ``sr_rgb`` and ``bicubic_rgb`` (H, W, 3), all in [0, 1]; ``metrics``
    has each metric and its ``bicubic_`` figure (the first one labels the crops). ``overwrite=False`` never
    replaces a file (``FileExistsError``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hr, sr_y, bicubic_y = images["hr"], images["sr_y"], images["bicubic_y"]
    if hr.ndim == 3:
        sr, bicubic = images["sr_rgb"], images["bicubic_rgb"]
    else:
        sr, bicubic = np.clip(sr_y, 0, 1), np.clip(bicubic_y, 0, 1)
    write_image(folder / f"{stem}.png", sr, overwrite=overwrite)
    first = result_metrics(metrics)[:1]
    name = metric_label(first[0]) + " " if first else ""
    labels = ("HR", f"bicubic: {name}{format_scores(metrics, first, 'bicubic_', units=True)}",
              f"{label}: {name}{format_scores(metrics, first, units=True)}")
    write_image(folder / f"{stem}{COMPARE_SUFFIX}", comparison_image(hr, bicubic, sr, sr_y, bicubic_y, labels),
                overwrite=overwrite)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def comparison_image(hr, bicubic, sr, sr_y, bicubic_y, labels=("HR", "bicubic", "model"), crop: int = 96,
                     min_side: int = 256, gap: int = 8, label_height: int = 28) -> np.ndarray:
    """HR | bicubic | model crops side by side at the ``crop``×``crop`` window where the model differs most
    from bicubic (largest summed |sr_y − bicubic_y|), each enlarged by an integer nearest-neighbour factor to
    at least ``min_side`` pixels and labeled above; white background. Returns (H', W', 3) float in [0, 1]."""
    h, w = sr_y.shape
    c = min(crop, h, w)
    diff = np.abs(np.clip(sr_y, 0, 1) - np.clip(bicubic_y, 0, 1))
    integral = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    window = integral[c:, c:] - integral[:-c, c:] - integral[c:, :-c] + integral[:-c, :-c]
    top, left = np.unravel_index(np.argmax(window), window.shape)
    zoom = -(-min_side // c)  # ceil
    tiles = []
    for a in (hr, bicubic, sr):
        t = to_uint8(np.asarray(a)[top:top + c, left:left + c])
        t = np.repeat(t[..., None], 3, axis=-1) if t.ndim == 2 else t
        tiles.append(t.repeat(zoom, axis=0).repeat(zoom, axis=1))
    side = c * zoom
    canvas = Image.new("RGB", (3 * side + 2 * gap, side + label_height), "white")
    draw, font = ImageDraw.Draw(canvas), _font(label_height * 2 // 3)
    for k, (tile, text) in enumerate(zip(tiles, labels)):
        x = k * (side + gap)
        canvas.paste(Image.fromarray(tile), (x, label_height))
        draw.text((x + 4, 4), text, fill="black", font=font)
    return np.asarray(canvas, np.float64) / 255.0


def _fmt(value, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def write_report(report_dir, results: dict, meta: dict, images_dir, overwrite: bool = True) -> Path:
    """Write ``report_dir/index.html``: metadata, the table (one row per dataset × scale) and per image the
    comparison from ``images_dir/<dataset>/x<s>/<name>_compare.png`` (linked relatively; rows whose image
    is missing, e.g. scored by another process, are listed without it). Returns the HTML path;
    ``overwrite=False`` never replaces an ``index.html`` (``FileExistsError``)."""
    report_dir, images_dir = Path(report_dir), Path(images_dir)
    e = html.escape
    label = meta.get("label", "model")
    weights = ", ".join(f"{w['name']} (sha256 {w['sha256'][:16]}…)" if "sha256" in w else w["path"]
                        for w in meta.get("weights", [])) or "none"
    facts = {"Model": label, "Weights": weights, "Scales": ", ".join(f"x{s}" for s in meta.get("scales", [])),
             **{k.replace("_", " ").capitalize(): v for k, v in meta.items()
                if k not in ("model", "label", "weights", "scales", "workdir") and v not in (None, False, [])}}
    out = ["<!doctype html><html><head><meta charset='utf-8'>",
           f"<title>jaxsr evaluation: {e(label)}</title><style>body{{font-family:sans-serif;margin:2em}}"
           "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
           "img{max-width:100%;image-rendering:pixelated}figure{margin:1em 0}</style></head><body>",
           f"<h1>jaxsr evaluation: {e(label)}</h1><ul>"]
    out += [f"<li><b>{e(k)}</b>: {e(', '.join(map(str, v)) if isinstance(v, list) else str(v))}</li>"
            for k, v in facts.items()]
    cells = [r for by_scale in results.values() for r in by_scale.values()]
    metrics = result_metrics(cells[0]) if cells else []
    heads = e(" / ".join(metric_label(m) for m in metrics))
    out.append(f"</ul><h2>Results ({heads})</h2><table><tr><th>Dataset</th><th>Scale</th>"
               f"<th>Images</th><th>Bicubic</th><th>{e(label)}</th><th>s / image</th>"
               "<th>s / image incl. compile</th></tr>")
    for dataset, by_scale in results.items():
        for scale, r in by_scale.items():
            failed = f" ({r['failed']} failed)" if r.get("failed") else ""
            failed += f" ({len(r['exact'])} reproduced exactly)" if r.get("exact") else ""
            out.append(f"<tr><td>{e(dataset)}</td><td>x{e(scale)}</td><td>{r['images']}{failed}</td>"
                       f"<td>{format_scores(r, metrics, 'bicubic_')}</td><td>{format_scores(r, metrics)}</td>"
                       f"<td>{_fmt(r['seconds_per_image'], 3)}</td>"
                       f"<td>{_fmt(r['seconds_per_image_with_compile'], 3)}</td></tr>")
    out.append("</table>")
    for dataset, by_scale in results.items():
        for scale, r in by_scale.items():
            out.append(f"<h2>{e(dataset)} x{e(scale)}</h2>")
            for im in r.get("per_image", []):
                caption = (f"{e(im['name'])}: bicubic {e(format_scores(im, metrics, 'bicubic_', units=True))}, "
                           f"{e(label)} {e(format_scores(im, metrics, units=True))}")
                path = images_dir / dataset / f"x{scale}" / f"{im['name']}{COMPARE_SUFFIX}"
                img = ""
                if path.is_file():
                    rel = Path(os.path.relpath(path, report_dir)).as_posix()
                    img = f"<img src='{e(quote(rel), quote=True)}' alt='{e(im['name'], quote=True)}'><br>"
                out.append(f"<figure>{img}<figcaption>{caption}</figcaption></figure>")
    out.append("</body></html>\n")
    target = report_dir / "index.html"
    atomic_write_bytes(target, "\n".join(out).encode(), overwrite=overwrite)
    return target
