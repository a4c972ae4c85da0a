"""Super-resolve your own images: ``python -m jaxsr.upscale`` / ``jaxsr-upscale``.

  jaxsr-upscale --model vdsr --weights VDSR_Official.mat --scale 3 photo.jpg more/ --output_dir out/

Files and folders (searched recursively for image files); each output is ``<stem>_x<scale>.<ext>`` in
``--output_dir`` (sub-folders of a folder input are kept), written atomically. Large images are processed
in overlapping tiles whose result equals the untiled one. Every input that fails gets one line
``error: <path>: <reason>`` on stderr and the others go on; exit status 1 if any failed, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["main", "collect_inputs", "DEFAULT_MAX_PIXELS"]

DEFAULT_MAX_PIXELS = 50_000_000  # input pixels; larger files are refused (decompression bombs)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jaxsr-upscale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("--output_dir", required=True, help="folder for the results (created if needed)")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor, e.g. 2, 3 or 4")
    p.add_argument("--model", default="vdsr", help="registered model name (default: vdsr)")
    p.add_argument("--weights", default=None,
                   help="params (.msgpack, the VDSR authors' .mat) or a training run folder; default: shipped")
    p.add_argument("--format", choices=("png", "jpg", "same"), default="png", help="output format")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--tile", type=int, default=None,
                   help="tile side in model-input pixels (default: automatic; 0: whole images)")
    p.add_argument("--tile_batch", type=int, default=4, help="tiles per device call")
    p.add_argument("--self_ensemble", action="store_true", help="average the 8 flips/rotations")
    p.add_argument("--max_pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse inputs with more pixels (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def collect_inputs(paths, errors: list) -> list[tuple[Path, Path]]:
    """[(input file, path relative to the output folder without suffix)]; missing paths go to ``errors``."""
    from jaxsr.io import IMAGE_EXTENSIONS

    out = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            out += [(f, f.relative_to(path).with_suffix("")) for f in files]
        elif path.is_file():
            out.append((path, Path(path.stem)))
        else:
            errors.append(f"{path}: no such file or folder")
    return out


def _output_path(output_dir: Path, rel: Path, source: Path, scale: int, fmt: str) -> Path:
    ext = {"png": ".png", "jpg": ".jpg"}.get(fmt) or source.suffix.lower()
    return output_dir / rel.parent / f"{rel.name}_x{scale}{ext}"


def main(argv=None) -> int:
    args = _parser().parse_args(argv)  # exits with status 2 on usage errors
    if args.scale < 1 or args.max_pixels < 1 or (args.tile is not None and args.tile < 0):
        print("error: --scale and --max_pixels must be positive and --tile >= 0", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from jaxsr.errors import JaxsrError
    from jaxsr.inference import AUTO_TILE, Upscaler
    from jaxsr.io import IMAGE_EXTENSIONS, read_image, write_image
    from jaxsr.loading import load

    try:
        model, params = load(args.model, args.weights, scale=args.scale)
        upscaler = Upscaler(model, params, args.scale, args.self_ensemble,
                            tile=AUTO_TILE if args.tile is None else (args.tile or None), tile_batch=args.tile_batch)
    except (JaxsrError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    output_dir = Path(args.output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / ".jaxsr-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        print(f"error: {output_dir}: cannot write there ({e.strerror or e})", file=sys.stderr)
        return 1
    errors: list[str] = []
    jobs = collect_inputs(args.inputs, errors)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    failed, pixels, start = bool(errors), 0, time.perf_counter()
    bar = tqdm(jobs, unit="img", file=sys.stderr, disable=args.no_progress, dynamic_ncols=True)
    for source, rel in bar:
        target = _output_path(output_dir, rel, source, args.scale, args.format)
        try:
            if source.suffix.lower() not in IMAGE_EXTENSIONS:
                raise JaxsrError(f"{source}: unsupported format {source.suffix or '(none)'!r} "
                                 f"(supported: {', '.join(IMAGE_EXTENSIONS)})")
            if target.exists() and not args.overwrite:
                raise JaxsrError(f"{source}: output {target} exists (use --overwrite)")
            image, note = read_image(source, max_pixels=args.max_pixels)
            if note:
                bar.write(f"note: {source}: {note}", file=sys.stderr)
            result = upscaler.upscale(image)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_image(target, result)
            pixels += result.shape[0] * result.shape[1]
            bar.set_postfix_str(f"{pixels / 1e6 / (time.perf_counter() - start):.2f} MP/s out")
        except JaxsrError as e:
            failed = True
            bar.write(f"error: {e}", file=sys.stderr)
        except OSError as e:
            failed = True
            bar.write(f"error: {source}: cannot write {target} ({e.strerror or e})", file=sys.stderr)
    bar.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
