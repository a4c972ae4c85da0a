"""Paper-style benchmark evaluation: tables of the registered metrics (``jaxsr.eval.metrics``; PSNR/SSIM by
default) against the bicubic baseline.

The protocol for one HR test image at scale s (VDSR/EDSR papers, ``docs`` in the README):
1. HR is mod-cropped to a multiple of s;
2. LR = MATLAB-bicubic ``imresize(HR, 1/s)`` in float64, no rounding (of the Y channel for Y models,
   of RGB for RGB models);
3. the model super-resolves LR (pre-upsampling models see ``imresize(LR, s)``);
4. PSNR and SSIM on Y in [0, 255], prediction clipped to [0, 1], ``s`` pixels shaved from each border;
   the bicubic row is ``imresize(imresize(HR_Y, 1/s), s)`` scored the same way; RGB metrics score the
   model's RGB output (Y models: the SR Y merged with the bicubic CbCr; the bicubic row likewise);
5. dataset figures are plain means over its images.
Quantization follows the ``protocol`` (``jaxsr.eval.protocol``): ``"matlab"`` (default) scores uint8 Y as the
papers' MATLAB scripts do, ``"float"`` quantizes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Collection, Mapping

import jax
import numpy as np
from tqdm import tqdm

from jaxsr.base.errors import JaxsrError, NonFiniteOutput
from jaxsr.eval.inference import Upscaler, colorize
from jaxsr.eval.metrics import (DEFAULT_METRICS, check_metrics, format_scores, get_metric, metric_label,
                           result_metrics)
from jaxsr.ops.color import rgb_to_ycbcr
from jaxsr.base.parallel import allgather
from jaxsr.eval.protocol import DEFAULT_PROTOCOL, as_stored, check_protocol, hr_y as protocol_hr_y, scored
from jaxsr.ops.crop import modcrop
from jaxsr.ops.resize import imresize

__all__ = ["evaluate_image", "evaluate", "markdown_table"]


_TIMES = ("seconds", "seconds_with_compile")


_EXACT = -1.0  # "ok" of an image some output reproduces exactly (an infinite PSNR): left out, not failed


class _Exact(JaxsrError):
    """An output equals the HR image exactly, so a metric (PSNR) is infinite: reported, not averaged."""


def _keys(metrics) -> tuple[str, ...]:
    """Per-image row layout: each metric, its bicubic figure, the times, and "ok" (0 for an image that
    could not be read or scored, ``_EXACT`` for one reproduced exactly; both left out of the means)."""
    return (*metrics, *(f"bicubic_{m}" for m in metrics), *_TIMES, "ok")


def _summary(rows: np.ndarray, names: list[str], keys: tuple[str, ...]) -> dict:
    """Means over the scored images of an (images, len(keys)) array, in the ``--results_json`` layout;
    figures are None when no image could be scored; ``exact`` (only when some) lists the images an output
    reproduced exactly (PSNR infinite), which are left out of the means but not failed."""
    ok, exact = rows[:, -1] > 0, rows[:, -1] == _EXACT
    mean = rows[ok].mean(axis=0) if ok.any() else [None] * len(keys)
    out = {k: None if v is None else float(v) for k, v in zip(keys, mean)}
    per_image = [{"name": n, **{k: float(v) for k, v in zip(keys[:-1], r)}} for n, r, good in zip(names, rows, ok)
                 if good]
    return {**{k: out[k] for k in keys[:-3]}, "images": int(ok.sum()), "failed": int((~ok & ~exact).sum()),
            **({"exact": [n for n, e in zip(names, exact) if e]} if exact.any() else {}),
            "seconds_per_image": out["seconds"], "seconds_per_image_with_compile": out["seconds_with_compile"],
            "per_image": per_image}


def evaluate_image(hr: np.ndarray, upscaler: Upscaler, protocol: str = DEFAULT_PROTOCOL,
                   metrics=DEFAULT_METRICS):
    """Score one HR image (H, W) or (H, W, 3) in [0, 1] at ``upscaler.scale`` under ``protocol``.

    Returns:
      (metrics dict with each of ``metrics``, ``bicubic_<metric>``, seconds and seconds_with_compile, sr_y,
      bicubic_y, hr) where the images are the mod-cropped HR and the (sH, sW) Y predictions in [0, 1] as
      scored.
    Raises:
      JaxsrError: the image is too small to score at this scale (SSIM's 11×11 window after shaving), an
        unknown metric, or an output that reproduces the HR image exactly (an infinite PSNR: no number).
      NonFiniteOutput: the model's output is not finite (broken weights).
    """
    scores, images = _score_image(hr, upscaler, protocol, check_metrics(metrics))
    return scores, images["sr_y"], images["bicubic_y"], images["hr"]


def _score_image(hr: np.ndarray, upscaler: Upscaler, protocol: str, metrics, rgb: bool = False):
    """(scores, images) of one HR image: ``images`` has "hr" (mod-cropped), "hr_y", "sr_y", "bicubic_y" and,
    when an RGB metric is asked for or ``rgb``, "hr_rgb", "sr_rgb", "bicubic_rgb" ((sH, sW, 3) as scored;
    gray images as three equal channels)."""
    s = upscaler.scale
    hr = modcrop(hr, s)
    problem = _too_small(hr.shape, s)
    if problem:
        raise JaxsrError(problem)
    hr_y = protocol_hr_y(hr, protocol)
    lr_y = imresize(hr_y, 1 / s)
    bicubic_y = scored(imresize(lr_y, s), protocol)
    sr_rgb = None
    if upscaler.channels == 1:
        sr_y = upscaler.upscale_channels(lr_y[..., None])[..., 0]
    else:  # RGB models: LR made in RGB; a gray image stays gray through Upscaler.upscale
        lr = as_stored(imresize(as_stored(hr, protocol), 1 / s), protocol)
        sr_rgb = upscaler.upscale(lr)
        sr_y = protocol_hr_y(sr_rgb, protocol)  # 'matlab': Y of the uint8 RGB output
    if not np.isfinite(sr_y).all():  # never scored: 'matlab' would round NaN to 0 as MATLAB does
        raise NonFiniteOutput(f"{getattr(upscaler, 'source', 'the model')}: the model's output is not finite "
                              f"(NaN or inf) at x{s}: broken weights; nothing scored or written")
    sr_y = scored(sr_y, protocol)
    seconds, compiling = upscaler.last_seconds, upscaler.last_compile_seconds
    images = {"hr": hr, "hr_y": hr_y, "sr_y": sr_y, "bicubic_y": bicubic_y}
    if rgb or any(get_metric(m).space == "rgb" for m in metrics):
        images.update(_rgb_images(hr, sr_rgb, sr_y, bicubic_y, s, protocol))
    scores = {}
    for prefix, which in (("", "sr"), ("bicubic_", "bicubic")):
        for m in metrics:
            metric = get_metric(m)
            scores[prefix + m] = float(metric.fn(images[f"{which}_{metric.space}"], images[f"hr_{metric.space}"], s))
            if np.isnan(scores[prefix + m]):
                raise JaxsrError(f"metric {m!r} gave NaN for the {'bicubic' if prefix else 'model'} output")
            if np.isinf(scores[prefix + m]):
                raise _Exact(f"the {'bicubic' if prefix else 'model'} output equals the HR image exactly "
                             f"({metric.label} infinite)")
    return {**scores, "seconds": seconds, "seconds_with_compile": seconds + compiling}, images


def _rgb_images(hr, sr_rgb, sr_y, bicubic_y, s: int, protocol: str) -> dict:
    """HR, SR and bicubic RGB (sH, sW, 3) as the protocol scores them: an RGB model's own output, else the
    Y merged with the bicubic-upsampled CbCr of the LR (as saved); gray images as three equal channels."""
    hr = scored(hr, protocol)  # 'matlab': the uint8 image; 'float': as is, in [0, 1]
    if hr.ndim == 2:
        return {k: np.repeat(v[..., None], 3, axis=-1)
                for k, v in (("hr_rgb", hr), ("sr_rgb", sr_y), ("bicubic_rgb", bicubic_y))}
    cbcr = imresize(imresize(rgb_to_ycbcr(hr)[..., 1:], 1 / s), s)
    sr = colorize(sr_y[..., None], cbcr) if sr_rgb is None else sr_rgb
    return {"hr_rgb": hr, "sr_rgb": scored(sr, protocol),
            "bicubic_rgb": scored(colorize(bicubic_y[..., None], cbcr), protocol)}


def _too_small(shape, s: int) -> str | None:
    """Why an image of ``shape`` cannot be scored at scale ``s`` (SSIM's 11×11 window after shaving ``s``
    pixels from the mod-cropped HR), or None."""
    h, w = shape[0] - shape[0] % s, shape[1] - shape[1] % s
    if min(h, w) < 2 * s + 11:
        return f"{w}x{h} (mod-cropped) is too small to score at x{s}: needs {2 * s + 11} pixels a side"
    return None


def evaluate(upscaler_for_scale: Callable[[int], Upscaler], datasets: Mapping[str, Collection],
             scales, save_images=None, progress: bool = True, gray_as_rgb: bool = False,
             errors: list | None = None, label: str = "model", protocol: str = DEFAULT_PROTOCOL,
             metrics=DEFAULT_METRICS, overwrite: bool = True) -> dict:
    """Evaluate on datasets; returns the ``--results_json`` dict.

    Args:
      upscaler_for_scale: ``scale → Upscaler`` (called once per scale).
      datasets: ``{name: sized iterable of HRImage}``, e.g. ``sources.folder_datasets(data_dir, names)``
        (which reads images lazily) or plain lists.
      scales: integer scales.
      save_images: folder for ``<dataset>/x<s>/<name>.png`` SR outputs and labeled
        ``<name>_compare.png`` crops (``jaxsr.eval.report.save_outputs``; ``label`` names the model there).
      gray_as_rgb: score grayscale images as if they were RGB with three equal channels (Y = 16/255 +
        219/255·gray), as pipelines that load every image as colour (cv2, PIL ``convert("RGB")``) do.
        The papers' MATLAB protocol uses the gray value itself (default), which matches their tables.
      errors: if given, an image that cannot be read or scored is reported on stderr (``error: ...``),
        appended here and left out; the others are still scored. None: the JaxsrError propagates.
      protocol: ``"matlab"`` (uint8 quantization as the papers' scripts) or ``"float"``; see
        ``jaxsr.eval.protocol``.
      metrics: names of registered metrics (``jaxsr.eval.metrics.register_metric``), in table order.
      overwrite: False never replaces a file under ``save_images`` (``FileExistsError``).

    Returns:
      ``{dataset: {str(scale): {<metric>..., "bicubic_<metric>"..., "images", "failed",
      "seconds_per_image", "seconds_per_image_with_compile", "per_image": [{"name", <metric>, ...}],
      "protocol"}}}`` (default metrics: "psnr", "ssim"); seconds exclude (or include) the one-off
      compilations.
    """
    from jaxsr.eval.report import save_outputs

    check_protocol(protocol)
    metrics = check_metrics(metrics)
    keys = _keys(metrics)
    upscalers = {s: upscaler_for_scale(s) for s in scales}
    rank, ranks = jax.process_index(), jax.process_count()  # images are split across processes
    rows = {(d, s): np.zeros((len(images), len(keys))) for d, images in datasets.items() for s in scales}
    mine = sum(len(range(rank, len(images), ranks)) for images in datasets.values())
    bar = tqdm(total=mine * len(scales), disable=not progress, file=sys.stderr, unit="img", dynamic_ncols=True)
    names = {d: [] for d in datasets}
    broken = None  # the NonFiniteOutput that stops this process's scoring (raised on every process below)

    def failed(message: str) -> None:
        if errors is None:
            raise JaxsrError(message)
        errors.append(message)
        bar.write(f"error: {message}", file=sys.stderr)

    for name, images in datasets.items():
        for i, item in enumerate(images):
            names[name].append(item.name)
            problems = [item.error] if getattr(item, "error", None) else \
                [f"{name}/{item.name}: {p}" for p in (_too_small(item.image.shape, s) for s in scales) if p]
            if problems and errors is None:
                raise JaxsrError(problems[0])  # on every process, before any collective
            if i % ranks != rank or broken is not None:
                continue
            if getattr(item, "error", None):
                failed(item.error)
                bar.update(len(scales))
                continue
            if item.note:
                bar.write(f"note: {name}/{item.name}: {item.note}", file=sys.stderr)
            image = item.image
            if gray_as_rgb and image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=-1)
            for s in scales:
                bar.set_description(f"{name} x{s} {item.name}")
                try:
                    scores, out = _score_image(image, upscalers[s], protocol, metrics, rgb=bool(save_images))
                except NonFiniteOutput as e:
                    broken = NonFiniteOutput(f"{e} (first seen on {name}/{item.name})")
                    break
                except _Exact as e:
                    rows[name, s][i, -1] = _EXACT
                    bar.write(f"note: {name}/{item.name}: x{s}: {e}; left out of the means", file=sys.stderr)
                except JaxsrError as e:
                    failed(f"{name}/{item.name}: {e}")
                else:
                    rows[name, s][i] = [*(scores[k] for k in keys[:-1]), 1.0]
                    if save_images:
                        save_outputs(Path(save_images) / name / f"x{s}", item.name, out, s, scores, label,
                                     overwrite=overwrite)
                bar.update(1)
    bar.close()
    if allgather(np.array([broken is not None], np.float64)).any():  # every process stops, none hangs
        raise broken or NonFiniteOutput("the model's output is not finite (NaN or inf) on another process")
    results = {}
    for (d, s), local in rows.items():
        gathered = allgather(local)  # (processes, images, keys); image i was scored by process i % ranks
        owned = gathered[np.arange(len(local)) % ranks, np.arange(len(local))]
        results.setdefault(d, {})[str(s)] = {**_summary(owned, names[d], keys), "protocol": protocol}
    return results


def markdown_table(results: dict, model_name: str = "model") -> str:
    """A paper-style Markdown table: one row per dataset × scale, the metrics of the results (PSNR / SSIM by
    default) for bicubic and the model; the last column is the mean seconds per image without (and, in
    parentheses, with) the one-off compilations. Images that could not be scored are counted after the
    dataset's name."""
    cells = [r for by_scale in results.values() for r in by_scale.values()]
    metrics = result_metrics(cells[0]) if cells else list(DEFAULT_METRICS)
    heads = " / ".join(metric_label(m) for m in metrics)
    lines = [f"| Dataset | Scale | Bicubic {heads} | {model_name} {heads} | s / image (incl. compile) |",
             "|---|---|---|---|---|"]
    for dataset, by_scale in results.items():
        for scale, r in by_scale.items():
            total = r["failed"] + r["images"] + len(r.get("exact", ()))
            name = dataset + (f" ({r['failed']} of {total} failed)" if r.get("failed") else "")
            if r.get("exact"):
                name += f" ({len(r['exact'])} of {total} reproduced exactly, left out)"
            if not r["images"]:
                lines.append(f"| {name} | x{scale} | – | – | – |")
                continue
            lines.append(f"| {name} | x{scale} | {format_scores(r, metrics, 'bicubic_')} | "
                         f"{format_scores(r, metrics)} | {r['seconds_per_image']:.3f} "
                         f"({r['seconds_per_image_with_compile']:.3f}) |")
    return "\n".join(lines)
