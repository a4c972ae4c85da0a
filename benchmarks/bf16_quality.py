"""bfloat16 against float32 inference: what bfloat16 compute changes in the outputs, image by image.

  python benchmarks/bf16_quality.py --data_dir ../shared/data/test --weights ../shared/weights/VDSR_Official.mat \
      --datasets Set5,Set14,B100 --scales 2,3,4 --json bf16_quality.json

For every image and scale, the same LR (the evaluation protocol's: mod-crop, MATLAB-bicubic ↓, ``matlab``
protocol) goes through the model twice, ``precision="float32"`` and ``precision="bfloat16"``
(:class:`jaxsr.eval.inference.Upscaler`), and the table gives per dataset and scale:

* the paper metric of each (PSNR/SSIM on Y against HR, as ``jaxsr.eval.evaluation`` scores it) and their difference;
* bfloat16's output against float32's: PSNR on Y, the largest difference of a uint8 value (Y and the RGB output
  as ``jaxsr-upscale`` writes it: Y merged with the bicubic CbCr), the share of RGB values that differ and the
  share of Y values that differ by more than one level.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jaxsr  # noqa: E402  (first: jaxsr's CPU compiler settings)
import numpy as np  # noqa: E402

from jaxsr.data.folder import list_images  # noqa: E402
from jaxsr.eval.evaluation import _score_image  # noqa: E402
from jaxsr.base.io import read_image  # noqa: E402
from jaxsr.weights.loading import ParamsSource  # noqa: E402
from jaxsr.eval.metrics import psnr  # noqa: E402


def compare(data_dir, datasets, scales, model, weights):
    source = ParamsSource(model, weights)
    rows = []
    for name in datasets:
        files = list_images(Path(data_dir) / name)
        for s in scales:
            ups = {p: source.upscaler(s, precision=p) for p in ("float32", "bfloat16")}
            acc = {k: [] for k in ("psnr32", "psnr16", "ssim32", "ssim16", "psnr_vs32", "maxdiff_y",
                                   "maxdiff_rgb", "differ_rgb", "over1_y")}
            seconds = {p: 0.0 for p in ups}
            for f in files:
                hr = read_image(f)[0]
                out = {}
                for p, up in ups.items():
                    out[p] = _score_image(hr, up, "matlab", ("psnr", "ssim"), rgb=True)
                    seconds[p] += up.last_seconds
                (a, ia), (b, ib) = out["float32"], out["bfloat16"]
                y32, y16 = np.round(ia["sr_y"] * 255), np.round(ib["sr_y"] * 255)
                rgb32, rgb16 = np.round(ia["sr_rgb"] * 255), np.round(ib["sr_rgb"] * 255)
                acc["psnr32"].append(a["psnr"])
                acc["psnr16"].append(b["psnr"])
                acc["ssim32"].append(a["ssim"])
                acc["ssim16"].append(b["ssim"])
                acc["psnr_vs32"].append(min(psnr(y16, y32, 255.0), 99.0))  # identical images: 99 (∞)
                acc["maxdiff_y"].append(np.abs(y16 - y32).max())
                acc["maxdiff_rgb"].append(np.abs(rgb16 - rgb32).max())
                acc["differ_rgb"].append(float((rgb16 != rgb32).mean()))
                acc["over1_y"].append(float((np.abs(y16 - y32) > 1).mean()))
            row = {"dataset": name, "scale": s, "images": len(files),
                   **{k: float(np.mean(v)) for k, v in acc.items() if not k.startswith("maxdiff")},
                   "maxdiff_y": int(max(acc["maxdiff_y"])), "maxdiff_rgb": int(max(acc["maxdiff_rgb"])),
                   "seconds_float32": seconds["float32"], "seconds_bfloat16": seconds["bfloat16"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def table(rows) -> str:
    lines = ["| set | scale | PSNR f32 | PSNR bf16 | Δ dB | SSIM f32 | SSIM bf16 | Δ | bf16 vs f32 PSNR (Y) | "
             "max uint8 Δ Y / RGB | RGB values differing | Y values off by > 1 |", "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r['dataset']} | x{r['scale']} | {r['psnr32']:.4f} | {r['psnr16']:.4f} | "
                     f"{r['psnr16'] - r['psnr32']:+.4f} | {r['ssim32']:.4f} | {r['ssim16']:.4f} | "
                     f"{r['ssim16'] - r['ssim32']:+.5f} | {r['psnr_vs32']:.1f} dB | {r['maxdiff_y']} / "
                     f"{r['maxdiff_rgb']} | {100 * r['differ_rgb']:.1f} % | {100 * r['over1_y']:.3f} % |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--model", default="vdsr")
    ap.add_argument("--datasets", default="Set5,Set14,B100")
    ap.add_argument("--scales", default="2,3,4")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    print(f"jaxlib {jaxsr.base.xla_cpu._jaxlib_version()}; {jaxsr.XLA_CPU_SETTING}", file=sys.stderr)
    rows = compare(args.data_dir, args.datasets.split(","), [int(s) for s in args.scales.split(",")],
                   args.model, args.weights)
    print(table(rows))
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
