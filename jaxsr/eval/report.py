"""Results worth looking at: labeled HR | bicubic | model comparison crops and a self-contained HTML report.

* ``save_outputs``: per image and scale, the SR output ``<name>.png``, the whole bicubic and (mod-cropped) HR
  images ``bicubic/<name>.png`` and ``hr/<name>.png``, and ``<name>_compare.png``: three crops (HR, bicubic,
  model) of the window where the model differs most from bicubic, enlarged with nearest neighbour to at
  least ``min_side`` pixels each, each under a label with its whole-image score (the first evaluated
  metric: PSNR on Y, shaved, by default) and above a line giving the crop's window; that window is also
  recorded in ``<name>_compare.json``.
* ``write_report``: ``index.html`` with the run's metadata, the table and, per image, a before/after slider
  over the whole images and the labeled crops (``jaxsr.eval.report_page``); images are referenced by relative
  paths, so the folder opens in a browser without a server and can be moved.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jaxsr.base.io import atomic_write_bytes, to_uint8, write_image
from jaxsr.eval.metrics import format_scores, metric_label, result_metrics
from jaxsr.eval.report_page import SCRIPT, STYLE, image_card

__all__ = ["save_outputs", "comparison_image", "crop_window", "write_report", "COMPARE_SUFFIX", "WINDOW_SUFFIX",
           "WHOLE_DIRS"]

COMPARE_SUFFIX = "_compare.png"
WINDOW_SUFFIX = "_compare.json"  # the crops' window: {"x", "y", "size", "zoom", "width", "height"}
WHOLE_DIRS = {"bicubic": "bicubic", "hr": "hr"}  # sub-folders of the whole bicubic and HR images


def save_outputs(folder, stem: str, images: dict, scale: int, metrics: dict, label: str = "model",
                 crop: int = 96, min_side: int = 256, overwrite: bool = True) -> dict:
    """Write into ``folder``: ``<stem>.png`` (the SR output: the model's RGB for colour input, for Y models
    with Cb/Cr bicubic from the LR; gray for gray input), the whole ``bicubic/<stem>.png`` and
    ``hr/<stem>.png`` beside it, the labeled ``<stem>_compare.png`` and its window ``<stem>_compare.json``.
    ``images`` (from the evaluation) has the mod-cropped ``hr`` (H, W[, 3]), the (H, W) Y predictions
    ``sr_y`` and ``bicubic_y`` and, for colour input, ``sr_rgb`` and ``bicubic_rgb`` (H, W, 3), all in
    [0, 1]; ``metrics`` has each metric and its ``bicubic_`` figure (the first one labels the crops).
    Returns the window record: the crops' top-left ``x``, ``y`` and ``size`` in HR pixels, their ``zoom``
    and the image's ``width`` and ``height``. ``overwrite=False`` never replaces a file (``FileExistsError``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hr, sr_y, bicubic_y = images["hr"], images["sr_y"], images["bicubic_y"]
    if hr.ndim == 3:
        sr, bicubic = images["sr_rgb"], images["bicubic_rgb"]
    else:
        sr, bicubic = np.clip(sr_y, 0, 1), np.clip(bicubic_y, 0, 1)
    write_image(folder / f"{stem}.png", sr, overwrite=overwrite)
    for key, whole in (("bicubic", bicubic), ("hr", hr)):
        path = folder / WHOLE_DIRS[key] / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, whole, overwrite=overwrite)
    first = result_metrics(metrics)[:1]
    name = metric_label(first[0]) + " " if first else ""
    labels = ("HR", f"bicubic: {name}{format_scores(metrics, first, 'bicubic_', units=True)}",
              f"{label}: {name}{format_scores(metrics, first, units=True)}")
    top, left, size = crop_window(sr_y, bicubic_y, crop)
    h, w = sr_y.shape
    window = {"x": int(left), "y": int(top), "size": size, "zoom": -(-min_side // size), "width": w, "height": h}
    note = (f"crops {size}x{size} px at x={left}, y={top} of the {w}x{h} image, enlarged {window['zoom']}x "
            "(nearest neighbour); scores: whole image")
    write_image(folder / f"{stem}{COMPARE_SUFFIX}", comparison_image(
        hr, bicubic, sr, sr_y, bicubic_y, labels, crop=crop, min_side=min_side, note=note, window=(top, left)),
        overwrite=overwrite)
    atomic_write_bytes(folder / f"{stem}{WINDOW_SUFFIX}", (json.dumps(window) + "\n").encode(), overwrite=overwrite)
    return window


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def crop_window(sr_y, bicubic_y, crop: int = 96) -> tuple[int, int, int]:
    """``(top, left, size)`` of the ``size``×``size`` window (``size = min(crop, H, W)``) where the model
    differs most from bicubic: the largest sum of ``|sr_y − bicubic_y|`` over (H, W) Y images in [0, 1]
    (values outside are clipped); the first such window in row-major order on ties."""
    h, w = sr_y.shape
    c = min(crop, h, w)
    diff = np.abs(np.clip(sr_y, 0, 1) - np.clip(bicubic_y, 0, 1))
    integral = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    window = integral[c:, c:] - integral[:-c, c:] - integral[c:, :-c] + integral[:-c, :-c]
    top, left = np.unravel_index(np.argmax(window), window.shape)
    return int(top), int(left), c


def comparison_image(hr, bicubic, sr, sr_y, bicubic_y, labels=("HR", "bicubic", "model"), crop: int = 96,
                     min_side: int = 256, gap: int = 8, label_height: int = 28, note: str | None = None,
                     window: tuple[int, int] | None = None) -> np.ndarray:
    """HR | bicubic | model crops side by side at the ``crop``×``crop`` window ``(top, left)`` (default: where
    the model differs most from bicubic, ``crop_window``), each enlarged by an integer nearest-neighbour
    factor to at least ``min_side`` pixels and labeled above; ``note``, if given, is a line of text below
    (e.g. the window). White background. Returns (H', W', 3) float in [0, 1]."""
    h, w = sr_y.shape
    c = min(crop, h, w)
    top, left = window if window is not None else crop_window(sr_y, bicubic_y, crop)[:2]
    zoom = -(-min_side // c)  # ceil
    tiles = []
    for a in (hr, bicubic, sr):
        t = to_uint8(np.asarray(a)[top:top + c, left:left + c])
        t = np.repeat(t[..., None], 3, axis=-1) if t.ndim == 2 else t
        tiles.append(t.repeat(zoom, axis=0).repeat(zoom, axis=1))
    side = c * zoom
    note_height = label_height * 3 // 4 if note else 0
    canvas = Image.new("RGB", (3 * side + 2 * gap, side + label_height + note_height), "white")
    draw, font = ImageDraw.Draw(canvas), _font(label_height * 2 // 3)
    for k, (tile, text) in enumerate(zip(tiles, labels)):
        x = k * (side + gap)
        canvas.paste(Image.fromarray(tile), (x, label_height))
        draw.text((x + 4, 4), text, fill="black", font=font)
    if note:
        draw.text((4, label_height + side + 3), note, fill="black", font=_font(label_height // 2))
    return np.asarray(canvas, np.float64) / 255.0


def _fmt(value, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _window(path: Path) -> dict | None:
    """The crops' window recorded beside them (``save_outputs``), or None when the file is absent or does not
    hold one (six non-negative integers)."""
    try:
        window = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    keys = ("x", "y", "size", "zoom", "width", "height")
    ok = isinstance(window, dict) and all(type(window.get(k)) is int and window[k] >= 0 for k in keys)
    return {k: window[k] for k in keys} if ok and window["width"] > 0 and window["height"] > 0 else None


def _size(path: Path) -> tuple[int, int] | None:
    """An image's (width, height) from its header, or None when it cannot be read."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def write_report(report_dir, results: dict, meta: dict, images_dir, overwrite: bool = True) -> Path:
    """Write ``report_dir/index.html``: metadata, the table (one row per dataset × scale) and per image a
    card (``jaxsr.eval.report_page.image_card``) with a before/after slider over the whole images
    ``images_dir/<dataset>/x<s>/{<name>, bicubic/<name>, hr/<name>}.png`` and the crops
    ``<name>_compare.png`` labeled with their window (``<name>_compare.json``). Images are linked by
    relative, URL-quoted paths; every name and value is HTML-escaped; an image whose files are missing
    (e.g. scored by another process) is listed without them. Returns the HTML path; ``overwrite=False``
    never replaces an ``index.html`` (``FileExistsError``)."""
    report_dir, images_dir = Path(report_dir), Path(images_dir)
    e = html.escape
    label = meta.get("label", "model")
    weights = ", ".join(f"{w['name']} (sha256 {w['sha256'][:16]}…)" if "sha256" in w else w["path"]
                        for w in meta.get("weights", [])) or "none"
    facts = {"Model": label, "Weights": weights, "Scales": ", ".join(f"x{s}" for s in meta.get("scales", [])),
             **{k.replace("_", " ").capitalize(): v for k, v in meta.items()
                if k not in ("model", "label", "weights", "scales", "workdir") and v not in (None, False, [])}}
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width,initial-scale=1'>",
           f"<title>jaxsr evaluation: {e(label)}</title><style>{STYLE}</style></head><body>",
           f"<h1>jaxsr evaluation: {e(label)}</h1><dl class='facts'>"]
    out += [f"<div><dt>{e(k)}</dt><dd>{e(', '.join(map(str, v)) if isinstance(v, list) else str(v))}</dd></div>"
            for k, v in facts.items()]
    cells = [r for by_scale in results.values() for r in by_scale.values()]
    metrics = result_metrics(cells[0]) if cells else []
    names = " / ".join(metric_label(m) for m in metrics)
    out.append(f"</dl><h2>Results ({e(names)})</h2><div class='scroll'><table><tr><th>Dataset</th><th>Scale</th>"
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
    out.append("</table></div><p class='howto'>Per image: a slider over the whole images as scored (HR cropped "
               "to a multiple of the scale): drag it, or focus it and use the arrow keys; <code>#pos=30</code> "
               "after the address starts every slider at 30 % (<code>&amp;left=hr</code> puts HR on its left). "
               "Beside it, crops of the window where the model differs most from bicubic.</p>")

    def url(path: Path) -> str | None:
        return quote(Path(os.path.relpath(path, report_dir)).as_posix()) if path.is_file() else None

    index = 0
    for dataset, by_scale in results.items():
        for scale, r in by_scale.items():
            out.append(f"<section><h2>{e(dataset)} x{e(scale)}</h2>")
            folder = images_dir / dataset / f"x{scale}"
            for im in r.get("per_image", []):
                index += 1
                stem = im["name"]
                scores = (f"{names}: bicubic {format_scores(im, metrics, 'bicubic_', units=True)}, "
                          f"{label} {format_scores(im, metrics, units=True)}")
                files = {"bicubic": ("bicubic", folder / WHOLE_DIRS["bicubic"] / f"{stem}.png"),
                         "model": (label, folder / f"{stem}.png"),
                         "hr": ("HR", folder / WHOLE_DIRS["hr"] / f"{stem}.png")}
                sources = {k: (text, url(path)) for k, (text, path) in files.items() if url(path)}
                crops = folder / f"{stem}{COMPARE_SUFFIX}"
                out.append(image_card(index, stem, scores, sources, _size(files["model"][1]), url(crops),
                                      _size(crops), _window(folder / f"{stem}{WINDOW_SUFFIX}"), label))
            out.append("</section>")
    out.append(f"<script>{SCRIPT}</script></body></html>\n")
    target = report_dir / "index.html"
    atomic_write_bytes(target, "\n".join(out).encode(), overwrite=overwrite)
    return target
