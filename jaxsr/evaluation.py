"""Paper-style benchmark evaluation: PSNR/SSIM tables against the bicubic baseline.

The protocol for one HR test image at scale s (VDSR/EDSR papers, ``docs`` in the README):
1. HR is mod-cropped to a multiple of s;
2. LR = MATLAB-bicubic ``imresize(HR, 1/s)`` in float64, no rounding (of the Y channel for Y models,
   of RGB for RGB models);
3. the model super-resolves LR (pre-upsampling models see ``imresize(LR, s)``);
4. PSNR and SSIM on Y in [0, 255], prediction clipped to [0, 1], ``s`` pixels shaved from each border;
   the bicubic row is ``imresize(imresize(HR_Y, 1/s), s)`` scored the same way;
5. dataset figures are plain means over its images.
Quantization follows the ``protocol`` (``jaxsr.protocol``): ``"matlab"`` (default) scores uint8 Y as the
papers' MATLAB scripts do, ``"float"`` quantizes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Collection, Mapping

import jax
import numpy as np
from tqdm import tqdm

from jaxsr.inference import Upscaler, colorize
from jaxsr.io import write_image
from jaxsr.metrics import sr_metrics
from jaxsr.parallel import allgather
from jaxsr.protocol import DEFAULT_PROTOCOL, check_protocol, hr_y as protocol_hr_y, as_stored, scored
from jaxsr.ops.color import rgb_to_ycbcr
from jaxsr.ops.crop import modcrop
from jaxsr.ops.resize import imresize

__all__ = ["evaluate_image", "evaluate", "markdown_table", "comparison_image"]


_KEYS = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "seconds")


def _summary(rows: np.ndarray) -> dict:
    """Means of an (images, 5) array of per-image metrics, in the ``--results_json`` layout."""
    mean = rows.mean(axis=0) if len(rows) else np.full(len(_KEYS), np.nan)
    out = {k: float(v) for k, v in zip(_KEYS, mean)}
    return {**{k: out[k] for k in _KEYS[:4]}, "images": int(len(rows)), "seconds_per_image": out["seconds"]}


def evaluate_image(hr: np.ndarray, upscaler: Upscaler, protocol: str = DEFAULT_PROTOCOL):
    """Score one HR image (H, W) or (H, W, 3) in [0, 1] at ``upscaler.scale`` under ``protocol``.

    Returns:
      (metrics dict with psnr/ssim/bicubic_psnr/bicubic_ssim/seconds, sr_y, bicubic_y, hr) where the
      images are the mod-cropped HR and the (sH, sW) Y predictions in [0, 1] as scored.
    """
    s = upscaler.scale
    hr = modcrop(hr, s)
    hr_y = protocol_hr_y(hr, protocol)
    lr_y = imresize(hr_y, 1 / s)
    bicubic_y = scored(imresize(lr_y, s), protocol)
    if upscaler.channels == 1:
        sr_y = upscaler.upscale_channels(lr_y[..., None])[..., 0]
    else:  # RGB models: LR made in RGB; a gray image stays gray through Upscaler.upscale
        lr = as_stored(imresize(as_stored(hr, protocol), 1 / s), protocol)
        sr_y = protocol_hr_y(upscaler.upscale(lr), protocol)  # 'matlab': Y of the uint8 RGB output
    sr_y = scored(sr_y, protocol)
    seconds = upscaler.last_seconds
    psnr, ssim = sr_metrics(sr_y, hr_y, s)
    bpsnr, bssim = sr_metrics(bicubic_y, hr_y, s)
    metrics = {"psnr": psnr, "ssim": ssim, "bicubic_psnr": bpsnr, "bicubic_ssim": bssim, "seconds": seconds}
    return metrics, sr_y, bicubic_y, hr


def evaluate(upscaler_for_scale: Callable[[int], Upscaler], datasets: Mapping[str, Collection],
             scales, save_images=None, progress: bool = True, gray_as_rgb: bool = False,
             protocol: str = DEFAULT_PROTOCOL) -> dict:
    """Evaluate on datasets; returns the ``--results_json`` dict.

    Args:
      upscaler_for_scale: ``scale → Upscaler`` (called once per scale).
      datasets: ``{name: sized iterable of HRImage}``, e.g. ``sources.folder_datasets(data_dir, names)``
        (which reads images lazily) or plain lists.
      scales: integer scales.
      save_images: folder for ``<dataset>/x<s>/<name>.png`` SR outputs and ``<name>_compare.png`` crops.
      gray_as_rgb: score grayscale images as if they were RGB with three equal channels (Y = 16/255 +
        219/255·gray), as pipelines that load every image as colour (cv2, PIL ``convert("RGB")``) do.
        The papers' MATLAB protocol uses the gray value itself (default), which matches their tables.
      protocol: ``"matlab"`` (uint8 quantization as the papers' scripts) or ``"float"``; see
        ``jaxsr.protocol``.

    Returns:
      ``{dataset: {str(scale): {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "images",
      "seconds_per_image", "protocol"}}}``.
    """
    check_protocol(protocol)
    upscalers = {s: upscaler_for_scale(s) for s in scales}
    rank, ranks = jax.process_index(), jax.process_count()  # images are split across processes
    rows = {(d, s): np.zeros((len(images), len(_KEYS))) for d, images in datasets.items() for s in scales}
    mine = sum(len(range(rank, len(images), ranks)) for images in datasets.values())
    bar = tqdm(total=mine * len(scales), disable=not progress, file=sys.stderr, unit="img", dynamic_ncols=True)
    for name, images in datasets.items():
        for i, item in enumerate(images):
            if i % ranks != rank:
                continue
            if item.note:
                bar.write(f"note: {name}/{item.name}: {item.note}", file=sys.stderr)
            image = item.image
            if gray_as_rgb and image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=-1)
            for s in scales:
                bar.set_description(f"{name} x{s} {item.name}")
                metrics, sr_y, bicubic_y, hr = evaluate_image(image, upscalers[s], protocol)
                rows[name, s][i] = [metrics[k] for k in _KEYS]
                if save_images:
                    _save(Path(save_images) / name / f"x{s}", item.name, hr, sr_y, bicubic_y, s)
                bar.update(1)
    bar.close()
    results = {}
    for (d, s), local in rows.items():
        gathered = allgather(local)  # (processes, images, keys); image i was scored by process i % ranks
        owned = gathered[np.arange(len(local)) % ranks, np.arange(len(local))]
        results.setdefault(d, {})[str(s)] = {**_summary(owned), "protocol": protocol}
    return results


def _save(folder: Path, stem: str, hr, sr_y, bicubic_y, scale: int) -> None:
    """SR output (RGB for colour input: Cb/Cr bicubic from the LR) and an HR/bicubic/model crop."""
    folder.mkdir(parents=True, exist_ok=True)
    if hr.ndim == 3:
        cbcr = imresize(imresize(rgb_to_ycbcr(hr)[..., 1:], 1 / scale), scale)
        sr, bicubic = colorize(sr_y[..., None], cbcr), colorize(bicubic_y[..., None], cbcr)
    else:
        sr, bicubic = np.clip(sr_y, 0, 1), np.clip(bicubic_y, 0, 1)
    write_image(folder / f"{stem}.png", sr)
    write_image(folder / f"{stem}_compare.png", comparison_image(hr, bicubic, sr, sr_y, bicubic_y))


def comparison_image(hr, bicubic, sr, sr_y, bicubic_y, crop: int = 96, gap: int = 4) -> np.ndarray:
    """HR | bicubic | model crops side by side, at the ``crop``×``crop`` window where the model differs
    most from bicubic (largest summed |sr_y − bicubic_y|); white ``gap`` between; values in [0, 1]."""
    h, w = sr_y.shape
    c = min(crop, h, w)
    diff = np.abs(np.clip(sr_y, 0, 1) - np.clip(bicubic_y, 0, 1))
    integral = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    window = integral[c:, c:] - integral[:-c, c:] - integral[c:, :-c] + integral[:-c, :-c]
    top, left = np.unravel_index(np.argmax(window), window.shape)
    tiles = [np.asarray(a)[top:top + c, left:left + c] for a in (hr, bicubic, sr)]
    spacer = np.ones((c, gap) + tiles[0].shape[2:])
    return np.concatenate([tiles[0], spacer, tiles[1], spacer, tiles[2]], axis=1)


def markdown_table(results: dict, model_name: str = "model") -> str:
    """A paper-style Markdown table: one row per dataset × scale."""
    lines = [f"| Dataset | Scale | Bicubic PSNR / SSIM | {model_name} PSNR / SSIM | s / image |",
             "|---|---|---|---|---|"]
    for dataset, by_scale in results.items():
        for scale, r in by_scale.items():
            lines.append(f"| {dataset} | x{scale} | {r['bicubic_psnr']:.2f} / {r['bicubic_ssim']:.4f} | "
                         f"{r['psnr']:.2f} / {r['ssim']:.4f} | {r['seconds_per_image']:.3f} |")
    return "\n".join(lines)
