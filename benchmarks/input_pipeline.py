"""Patches per second of each input mode alone (no training step): tf.data on the host, and the
device-resident sampler (jit, on the default JAX device).

  python benchmarks/input_pipeline.py --folders ../shared/data/train/T91,../shared/data/train/BSD200
  python benchmarks/input_pipeline.py            # the embedded scikit-image photos

Both modes are measured in the same run, after warm-up, as the median of --repeats timings of --steps
batches. Prints a table and, with --json, writes the numbers.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from jaxsr.data.sampling import DeviceSampler, build_patch_table  # noqa: E402
from jaxsr.data.sources import embedded_images, folder_images  # noqa: E402


def timed(fn, steps, repeats):
    fn(2)  # warm-up (compilation, pipeline start)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(steps)
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", default="", help="comma-separated HR folders (default: embedded photos)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--patch", type=int, default=41)
    ap.add_argument("--scales", default="2,3,4")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache_dir", default=None, help="reuse the prepared table from here")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    scales = tuple(int(s) for s in args.scales.split(","))
    images = folder_images(args.folders.split(",")) if args.folders else embedded_images("train")
    start = time.perf_counter()
    table = build_patch_table([im.image for im in images], scales, args.patch, args.channels, "pre",
                              names=[im.name for im in images], cache_dir=args.cache_dir)
    prep = time.perf_counter() - start
    results = {"images": len(images), "prepare_seconds": prep, "device": str(jax.devices()[0])}

    sampler = DeviceSampler(table, 0, args.batch)
    sample = jax.jit(sampler.sample)

    def device_run(n):
        out = None
        for t in range(n):
            out = sample(t)
        jax.block_until_ready(out)

    results["device_patches_per_s"] = args.steps * args.batch / timed(device_run, args.steps, args.repeats)
    try:
        from jaxsr.data.tfdata import make_dataset

        it = make_dataset(table, 0, args.batch).as_numpy_iterator()

        def tf_run(n):
            for _ in range(n):
                next(it)

        results["tfdata_patches_per_s"] = args.steps * args.batch / timed(tf_run, args.steps, args.repeats)
    except Exception as e:  # no TensorFlow on this machine
        results["tfdata_patches_per_s"] = None
        results["tfdata_error"] = str(e)
    print(f"prepared {len(images)} images x {len(scales)} scales in {prep:.1f} s")
    print("| mode | patches/s |\n|---|---|")
    for mode in ("tfdata", "device"):
        v = results[f"{mode}_patches_per_s"]
        print(f"| {mode} | {v:,.0f} |" if v else f"| {mode} | n/a ({results.get('tfdata_error')}) |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
