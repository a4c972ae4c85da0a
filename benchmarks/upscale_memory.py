"""Peak host memory (RSS) and time of ``jaxsr-upscale`` on one large image, tiled vs untiled, side by side.

  python benchmarks/upscale_memory.py --weights ../shared/weights/VDSR_Official.mat --image photo.png --scale 2

``--precision`` is passed to ``jaxsr-upscale`` (float32, bfloat16 or auto; run the script with another
interpreter to measure another jaxlib).

Without --image, a 1920×1080 picture is made from scikit-image's astronaut. Each mode runs in its own
process (so peaks do not mix); prints a table and, with --json, writes the numbers.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys, time
from jaxsr.cli.upscale import main
start = time.perf_counter()
rc = main(sys.argv[1:])
print("RESULT", rc, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def run(args, tile):
    cmd = [sys.executable, "-c", CHILD, str(args.image), "--output_dir", args.out, "--scale", str(args.scale),
           "--model", args.model, "--overwrite", "--no_progress", "--tile", str(tile)]
    if args.precision:
        cmd += ["--precision", args.precision]
    if args.weights:
        cmd += ["--weights", args.weights]
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT")), None)
    if line is None:
        return {"tile": tile, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "crashed"}
    _, rc, seconds, rss = line.split()
    return {"tile": tile, "exit": int(rc), "seconds": float(seconds), "peak_rss_gb": int(rss) / 2**30}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=None)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--model", default="vdsr")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--tiles", default="384,0", help="tile sizes to compare (0 = untiled)")
    ap.add_argument("--precision", default=None, help="jaxsr-upscale's --precision (default: its own)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    args.out = tmp
    if args.image is None:
        import skimage.data
        from PIL import Image

        args.image = Path(tmp) / "photo_1920x1080.png"
        Image.fromarray(skimage.data.astronaut()).resize((1920, 1080), Image.BICUBIC).save(args.image)
    rows = [{**run(args, int(t)), "precision": args.precision or "default"} for t in args.tiles.split(",")]
    print("| tile | seconds | peak RSS (GB) |\n|---|---|---|")
    for r in rows:
        print(f"| {r['tile'] or 'untiled'} | " + (f"{r['seconds']:.1f} | {r['peak_rss_gb']:.2f} |" if "error" not in r
                                                 else f"failed: {r['error']} | |"))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
