"""Super-resolve your own images: ``jaxsr upscale`` (``jaxsr-upscale``, ``python -m jaxsr.cli.upscale``).

  jaxsr upscale photo.jpg                      # x2 with the shipped VDSR: writes photo_x2.png beside it
  jaxsr upscale --scale 3 photo.jpg more/ --output_dir out/
  jaxsr upscale --model srcnn --scale 4 photo.jpg

Files and folders (searched recursively for image files; jaxsr's own outputs inside an input folder are
skipped); each output is ``<stem>_x<scale>.<ext>`` beside its input, or in ``--output_dir`` (sub-folders of a
folder input are kept), written atomically and never over an existing file (unless ``--overwrite``); each
written path is printed on stdout, and last a count (``wrote 3 images (1 failed)``). Without ``--weights``
the model's shipped weights are used (the zoo's default: ``jaxsr zoo``); inputs whose outputs would have the
same name are refused. Photos are turned upright by their EXIF orientation. Large images are processed in
overlapping tiles whose result equals the untiled one. Every input that fails gets one line ``error:
<path>: <reason>`` on stderr and the others go on; exit status 1 if any failed, 2 for usage errors, 130 when interrupted (no partial files are
left).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from jaxsr.base.io import DEFAULT_MAX_PIXELS  # input pixels; larger files are refused (decompression bombs)

__all__ = ["main", "collect_inputs", "DEFAULT_MAX_PIXELS", "DEFAULT_MAX_OUTPUT_PIXELS"]

DEFAULT_MAX_OUTPUT_PIXELS = 100_000_000  # output pixels (memory: roughly 170 bytes per output pixel on CPU)


def _parser(prog: str = "jaxsr-upscale") -> argparse.ArgumentParser:
    from jaxsr.cli import OneLineParser
    from jaxsr.cli.catalog import models_help, weights_help

    p = OneLineParser(prog=prog, description=__doc__, epilog=f"{models_help('--model')}\n{weights_help()}\n(--weights NAME)",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("--output_dir", default=None,
                   help="folder for the results (created if needed); default: beside each input")
    p.add_argument("--scale", type=int, default=2, help="upscaling factor, e.g. 2, 3 or 4 (default: 2)")
    p.add_argument("--model", default="vdsr", help="registered model name (listed below; default: vdsr)")
    p.add_argument("--weights", default=None,
                   help="a zoo entry (listed below; jaxsr zoo), params (.msgpack, an authors' .mat, an EDSR-PyTorch "
                        ".pt) or a training run folder; default: the weights shipped for --model")
    p.add_argument("--format", choices=("png", "jpg", "same"), default="png", help="output format")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--tile", type=int, default=None,
                   help="tile side in model-input pixels (default: automatic; 0: whole images)")
    p.add_argument("--tile_batch", type=int, default=4, help="tiles per device call")
    p.add_argument("--self_ensemble", action="store_true", help="average the 8 flips/rotations")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="compute dtype (default auto: bfloat16 for VDSR at x2 on a CPU with AMX under jaxlib >= 0.12, "
                        "where it is several times faster and changes outputs by a few levels in few pixels; "
                        "float32 elsewhere)")
    p.add_argument("--max_pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse inputs with more pixels (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--max_output_pixels", type=int, default=DEFAULT_MAX_OUTPUT_PIXELS,
                   help=f"refuse inputs whose output would have more pixels (default {DEFAULT_MAX_OUTPUT_PIXELS:,})")
    p.add_argument("--no_progress", action="store_true", help="no progress bars")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="plug-in modules to import first (they register models): dotted names or .py files; "
                   "a training run's own imports are imported too")
    return p


def collect_inputs(paths, errors: list, skip=None) -> list[tuple[Path, Path]]:
    """[(input file, path relative to the output folder without suffix)], each file once; missing paths
    and folders without images go to ``errors``. Inside the folder(s) ``skip`` (where outputs go: the
    output folder, or the input folders when outputs go beside the inputs), files named like jaxsr's own
    results (``<name>_x<scale>.<ext>``) are left out of folder inputs, so a rerun never upscales its own
    outputs (and an output folder that is the input folder still works)."""
    import re

    from jaxsr.base.io import IMAGE_EXTENSIONS

    out, seen = [], set()
    skips = [] if skip is None else [skip] if isinstance(skip, (str, Path)) else list(skip)
    skips = [Path(s).resolve() for s in skips]
    own = re.compile(r".+_x\d+$")

    def ours(p: Path) -> bool:
        return bool(own.match(p.stem)) and any(p.resolve().is_relative_to(s) for s in skips)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                           and not ours(p))
            broken = sorted(p for p in path.rglob("*") if p.is_symlink() and not p.exists()
                            and p.suffix.lower() in IMAGE_EXTENSIONS)
            errors += [f"{p}: broken symbolic link (its target is missing)" for p in broken]
            if not files and not broken:
                errors.append(f"{path}: no images to upscale in this folder")
            found = [(f, f.relative_to(path).with_suffix("")) for f in files]
        elif path.is_file():
            found = [(path, Path(path.stem))]
        else:
            errors.append(f"{path}: " + ("broken symbolic link (its target is missing)" if path.is_symlink()
                                         else "no such file or folder"))
            continue
        for f, rel in found:
            if f.resolve() not in seen:  # the same file given twice (or via two folders) is one input
                seen.add(f.resolve())
                out.append((f, rel))
    return out


def _output_path(output_dir: Path | None, rel: Path, source: Path, scale: int, fmt: str) -> Path:
    """``<stem>_x<scale>.<ext>`` in ``output_dir`` (at ``rel``), or beside ``source`` for None."""
    ext = {"png": ".png", "jpg": ".jpg"}.get(fmt) or source.suffix.lower()
    folder = source.parent if output_dir is None else output_dir / rel.parent
    return folder / f"{rel.name}_x{scale}{ext}"


def _usage_error(args) -> str | None:
    if args.scale < 2:
        return f"--scale must be an integer >= 2, got {args.scale}"
    for flag, default in (("max_pixels", DEFAULT_MAX_PIXELS), ("max_output_pixels", DEFAULT_MAX_OUTPUT_PIXELS)):
        if getattr(args, flag) < 1:
            return f"--{flag} must be a positive number of pixels (jaxsr's default: {default:,})"
    if args.tile is not None and args.tile < 0 or args.tile_batch < 1:
        return "--tile must be >= 0 and --tile_batch >= 1"
    return None


def main(argv=None, prog: str = "jaxsr-upscale") -> int:
    """The command (``argv`` default: ``sys.argv[1:]``); returns the exit status."""
    from jaxsr.cli import run_cli

    args = _parser(prog).parse_args(argv)  # exits with status 2 on usage errors
    # outputs are written atomically: an interrupted run leaves nothing partial behind
    return run_cli(lambda: _run(args), "interrupted (outputs written so far are complete; no partial files)")


def _run(args) -> int:
    from jaxsr.base.errors import JaxsrError, NonFiniteOutput, UsageError

    problem = _usage_error(args)
    if problem:
        raise UsageError(problem)
    from tqdm import tqdm

    from jaxsr.eval.inference import AUTO_TILE
    from jaxsr.base.io import IMAGE_EXTENSIONS, read_image, writable_dir, write_image
    from jaxsr.weights.loading import ParamsSource
    from jaxsr.base.plugins import import_modules, run_imports
    from jaxsr.weights.provenance import scale_note

    import_modules(args.imports)
    import_modules(run_imports(args.weights), f"{args.weights}: imports")
    try:  # the weights first: a bad --weights leaves no new output folder behind
        upscaler = ParamsSource(args.model, args.weights).upscaler(
            args.scale, args.self_ensemble, tile=AUTO_TILE if args.tile is None else (args.tile or None),
            tile_batch=args.tile_batch, precision=args.precision)
        output_dir = None if args.output_dir is None else writable_dir(args.output_dir, "--output_dir")
    except (JaxsrError, ValueError) as e:  # messages of the Python API name its arguments; name the flags
        message = str(e).replace("pass weights=", "pass --weights").replace("pass scale=", "pass --scale")
        raise JaxsrError(message) from None
    note = scale_note(args.model, args.weights, [args.scale])
    if note:
        print(f"note: {note}", file=sys.stderr)
    errors: list[str] = []
    beside = [p for p in args.inputs if Path(p).is_dir()]  # where outputs go without --output_dir
    jobs = collect_inputs(args.inputs, errors, skip=beside if output_dir is None else output_dir)
    jobs = [(source, _output_path(output_dir, rel, source, args.scale, args.format)) for source, rel in jobs]
    by_target: dict = {}
    for source, target in jobs:
        by_target.setdefault(target, []).append(source)
    for target, sources in by_target.items():
        if len(sources) > 1:
            for i, s in enumerate(sources):
                others = ", ".join(map(str, sources[:i] + sources[i + 1:]))
                errors.append(f"{s}: output {target} would also be written for {others} (rename one, or use "
                              "--format same)")
    jobs = [(s, t) for s, t in jobs if len(by_target[t]) == 1]
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    failed, written, pixels, start = len(errors), 0, 0, time.perf_counter()  # failed and written: inputs
    bar = tqdm(jobs, unit="img", file=sys.stderr, disable=args.no_progress, dynamic_ncols=True)
    tiles = {"bar": None}

    def on_tiles(done: int, total: int) -> None:  # per-tile progress of one large image
        if tiles["bar"] is None:
            tiles["bar"] = tqdm(total=total, unit="tile", file=sys.stderr, leave=False, position=1,
                                dynamic_ncols=True)
        tiles["bar"].update(done - tiles["bar"].n)

    if not args.no_progress:
        upscaler.on_tiles = on_tiles
    limit = args.max_output_pixels

    def check_size(w: int, h: int) -> None:
        out = w * h * args.scale ** 2
        if out > limit:
            raise JaxsrError(f"{w}x{h} at x{args.scale} gives {out:,} output pixels, over the limit of {limit:,} "
                             "(raise --max_output_pixels to allow it)")

    try:
        for source, target in bar:
            try:
                if source.suffix.lower() not in IMAGE_EXTENSIONS:
                    raise JaxsrError(f"{source}: unsupported format {source.suffix or '(none)'!r} "
                                     f"(supported: {', '.join(IMAGE_EXTENSIONS)})")
                if target.exists() and not args.overwrite:
                    raise JaxsrError(f"{source}: output {target} exists (use --overwrite)")
                image, note = read_image(source, max_pixels=args.max_pixels, check_size=check_size)
                if note:
                    bar.write(f"note: {source}: {note}", file=sys.stderr)
                result = upscaler.upscale(image)
                target.parent.mkdir(parents=True, exist_ok=True)
                write_image(target, result, overwrite=args.overwrite)  # exclusive: never over a new file
                bar.write(str(target), file=sys.stdout)  # the written paths, one a line
                written += 1
                pixels += result.shape[0] * result.shape[1]
                bar.set_postfix_str(f"{pixels / 1e6 / (time.perf_counter() - start):.2f} MP/s out")
            except NonFiniteOutput as e:  # the model, not this image: nothing more is upscaled
                raise JaxsrError(f"{e} (first seen on {source})") from None
            except JaxsrError as e:
                failed += 1
                bar.write(f"error: {e}", file=sys.stderr)
            except FileExistsError:  # written by another run since the check above
                failed += 1
                bar.write(f"error: {source}: output {target} exists (use --overwrite)", file=sys.stderr)
            except OSError as e:
                failed += 1
                bar.write(f"error: {source}: cannot write {target} ({e.strerror or e})", file=sys.stderr)
            except MemoryError:
                failed += 1
                bar.write(f"error: {source}: out of memory (try a smaller --tile or --max_output_pixels)",
                          file=sys.stderr)
            finally:
                if tiles["bar"] is not None:
                    tiles["bar"].close()
                    tiles["bar"] = None
    finally:
        bar.close()
        # the last line, also when interrupted or stopped: what is on disk now
        print(f"wrote {written} image{'' if written == 1 else 's'}" + (f" ({failed} failed)" if failed else ""),
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
