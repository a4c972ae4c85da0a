"""Paper-style PSNR/SSIM tables (or any registered metrics, ``--metrics``) for a jaxsr model on benchmark
folders.

  jaxsr evaluate --model vdsr --data_dir DATA/test --datasets Set5,Set14,B100 --scales 2,3,4 \
      --results_json out.json

(``python evaluate.py`` is the same command.) Without ``--weights`` the model's shipped weights are used (the
zoo's default, ``jaxsr zoo``: VDSR and SRCNN, the authors' models). ``--weights`` takes a zoo entry's name, a ``.msgpack`` params file,
an authors' ``.mat`` (VDSR's MatConvNet model, SRCNN's models, e.g.
``'.../SRCNN_9-5-5_ImageNet_x{scale}.mat'`` with ``--model srcnn``), an EDSR-PyTorch ``.pt`` or a training
run folder; ``{scale}`` in the path is replaced by each scale. ``--protocol`` picks the
quantization (``jaxsr.eval.protocol``): ``matlab`` (default, the papers' tables) or ``float``. ``--workdir``
evaluates the latest checkpoint of a training run with that run's own config. Output paths are checked
before any work; an unreadable image is reported (``error: ...``), the others are scored, and the exit
status is 1. The last line says what was written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from absl import flags

__all__ = ["main", "cli", "summary", "help_text"]

flags.DEFINE_string("model", "vdsr", "Registered model name (the built-in ones are listed below; plug-ins: --import).")
flags.DEFINE_string("weights", None, "A zoo entry (listed below; jaxsr zoo), a params file (.msgpack, an authors' "
                    ".mat, an EDSR-PyTorch .pt) or a training run folder; '{scale}' is substituted. Default: the "
                    "weights shipped for --model.")
flags.DEFINE_string("workdir", None, "Training run folder: evaluate its latest checkpoint with its config.")
flags.DEFINE_string("data_dir", None, "Folder with one sub-folder of HR images per dataset "
                    "(with --workdir: default = the run's own validation images).")
flags.DEFINE_list("datasets", ["Set5", "Set14", "B100"], "Dataset folder names under --data_dir.")
flags.DEFINE_list("scales", ["2", "3", "4"], "Upscaling factors (2 to 16).")
flags.DEFINE_string("results_json", None, "Write the table's numbers, per-image figures and the run's "
                    "metadata (model, weights digest, scales, jaxsr version, date) to this JSON file.")
flags.DEFINE_string("save_images", None, "Write SR outputs, the whole bicubic and HR images and labeled "
                    "comparison crops under this folder.")
flags.DEFINE_string("report", None, "Write an HTML report (index.html: the table and per image a "
                    "before/after slider and the comparison crops) into this folder; opens from disk.")
flags.DEFINE_bool("self_ensemble", False, "Average over the 8 flips/rotations (the '+' results).")
flags.DEFINE_bool("gray_as_rgb", False, "Score grayscale images as 3-channel RGB (cv2/PIL-style loaders) "
                  "instead of using the gray value as Y (the papers' MATLAB protocol).")
flags.DEFINE_enum("protocol", "matlab", ["matlab", "float"], "Evaluation protocol: 'matlab' scores uint8 Y "
                  "as the papers' MATLAB scripts (their tables); 'float' quantizes nothing "
                  "(with --workdir: default = the run's own eval.protocol).")
flags.DEFINE_list("metrics", ["psnr", "ssim"], "Metrics to score, in table order: names registered in "
                  "jaxsr.eval.metrics (built in: psnr, ssim on Y; with --workdir: default = the run's "
                  "own eval.metrics).")
flags.DEFINE_bool("no_progress", False, "No progress bar on stderr.")
flags.DEFINE_list("import", [], "Plug-in modules to import first (they register models, metrics, losses): dotted "
                  "names or .py files; a training run's own imports are imported too.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --results_json, --report and --save_images outputs "
                  "(without it they are never replaced, even by another run writing them at the same time).")
FLAGS = flags.FLAGS

MAX_SCALE = 16


def summary(results_json, report_dir, images_dir, datasets, scales) -> str:
    """The last line: ``wrote out.json, report/index.html, 12 images in report/`` (the images of this run's
    datasets and scales), or that nothing was written."""
    written = [str(results_json)] if results_json else []
    written += [str(Path(report_dir) / "index.html")] if report_dir else []
    if images_dir:
        folders = [Path(images_dir) / d / f"x{s}" for d in datasets for s in scales]
        count = sum(1 for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file())
        written.append(f"{count} images in {images_dir}")
    return ("wrote " + ", ".join(written) if written else
            "wrote nothing (--results_json, --report or --save_images keep the results)")


def main(argv):
    """The absl ``main`` (flags parsed): check every input and output, evaluate, print the table and what it
    wrote."""
    from jaxsr.cli import absl_main, parse_scales
    from jaxsr.weights.checkpoint import read_run_config
    from jaxsr.data.sources import eval_datasets, folder_datasets
    from jaxsr.base.errors import JaxsrError
    from jaxsr.eval.evaluation import evaluate, markdown_table
    from jaxsr.base.io import atomic_write_bytes, writable_dir, writable_file
    from jaxsr.base.plugins import import_modules, run_imports
    from jaxsr.train.run_spec import eval_scales as run_eval_scales
    from jaxsr.weights.loading import upscaler_factory
    from jaxsr.eval.metrics import check_metrics
    from jaxsr.weights.provenance import results_metadata, scale_note
    from jaxsr.eval.report import write_report

    def run():
        import_modules(FLAGS["import"].value)
        import_modules(run_imports(FLAGS.workdir or FLAGS.weights), f"{FLAGS.workdir or FLAGS.weights}: imports")
        scales = parse_scales(FLAGS.scales)
        if not all(2 <= s <= MAX_SCALE for s in scales):
            raise JaxsrError(f"--scales must be integers from 2 to {MAX_SCALE}, got {','.join(FLAGS.scales)!r}")
        try:
            metrics = check_metrics(FLAGS.metrics)
        except JaxsrError as e:
            raise JaxsrError(f"--metrics: {e}") from None
        if FLAGS.workdir and (FLAGS.weights or FLAGS["model"].present):
            raise JaxsrError("--workdir evaluates a training run with its own model and params: drop --weights and "
                             "--model (or pass the run folder as --weights RUN with its --model)")
        # Every output is checked before any work, so that nothing is lost at the end.
        overwrite = FLAGS.overwrite
        if FLAGS.results_json:
            writable_file(FLAGS.results_json, "--results_json")
            if Path(FLAGS.results_json).exists() and not overwrite:
                raise JaxsrError(f"--results_json {FLAGS.results_json}: exists (pass --overwrite to replace it)")
        images_dir = FLAGS.save_images and writable_dir(FLAGS.save_images, "--save_images")
        report_dir = FLAGS.report and writable_dir(FLAGS.report, "--report")
        if report_dir and (report_dir / "index.html").exists() and not overwrite:
            raise JaxsrError(f"--report {report_dir}: holds a report (index.html; pass --overwrite to replace it)")
        images_dir = images_dir or report_dir  # the report's crops go into its own folder by default
        factory, label = upscaler_factory(FLAGS.model, FLAGS.weights, FLAGS.workdir, FLAGS.self_ensemble)
        run_config = read_run_config(FLAGS.workdir) if FLAGS.workdir else None
        if run_config is not None and not FLAGS["scales"].present:
            scales = run_eval_scales(run_config)  # the run's own validation scales
        protocol = FLAGS.protocol
        if run_config is not None and not FLAGS["protocol"].present:
            protocol = run_config.eval.get("protocol", protocol)  # the run's own validation protocol
        if run_config is not None and not FLAGS["metrics"].present:
            metrics = check_metrics(run_config.eval.get("metrics", metrics))  # the run's own metrics
        if FLAGS.data_dir:
            datasets = folder_datasets(FLAGS.data_dir, FLAGS.datasets)
        elif run_config is not None:
            datasets = eval_datasets(run_config.eval)
        else:
            raise JaxsrError("--data_dir is required (or --workdir of a training run)")
        for dataset in datasets if images_dir and not overwrite else ():
            for s in scales:
                folder = Path(images_dir) / dataset / f"x{s}"
                if folder.is_dir() and any(folder.iterdir()):
                    flag = "--save_images" if FLAGS.save_images else "--report"
                    raise JaxsrError(f"{flag} {images_dir}: {folder} holds earlier outputs (pass --overwrite to "
                                     "replace them)")
        model = run_config.model.name if run_config is not None else FLAGS.model
        note = scale_note(model, FLAGS.workdir or FLAGS.weights, scales)
        if note:
            print(f"note: {note}", file=sys.stderr)
        errors: list[str] = []
        results = evaluate(factory, datasets, scales, save_images=images_dir, progress=not FLAGS.no_progress,
                           gray_as_rgb=FLAGS.gray_as_rgb, errors=errors, label=label,
                           protocol=protocol, metrics=metrics, overwrite=overwrite)
        print(markdown_table(results, label))
        settings = {"self_ensemble": FLAGS.self_ensemble, "gray_as_rgb": FLAGS.gray_as_rgb,
                    "datasets": list(datasets)}
        settings.update(protocol=protocol, metrics=list(metrics))
        settings.update({"note": note, "errors": errors} if note or errors else {})
        meta = results_metadata(model, label, FLAGS.weights, FLAGS.workdir, scales, **settings)
        if FLAGS.results_json:
            record = {"meta": meta, "results": results}
            atomic_write_bytes(FLAGS.results_json, (json.dumps(record, indent=2) + "\n").encode(),
                               overwrite=overwrite)
        if report_dir:
            print(f"report: {write_report(report_dir, results, meta, images_dir, overwrite)}", file=sys.stderr)
        print(summary(FLAGS.results_json, report_dir, images_dir, datasets, scales), flush=True)
        if errors:  # counted as the table counts them: per dataset and scale
            counts = [f"{d} x{sc}: {r['failed']} of {r['failed'] + r['images'] + len(r.get('exact', ()))}"
                      for d, by_scale in results.items() for sc, r in by_scale.items() if r["failed"]]
            raise JaxsrError(f"images could not be scored ({', '.join(counts) or f'{len(errors)} error(s)'}; "
                             "listed above); the table scores the others")

    return absl_main(argv, run)


def help_text(prog: str) -> str:
    """``--help``: this docstring, the flags, the models and weights by name — without importing JAX."""
    from jaxsr.cli import absl_flags_help
    from jaxsr.cli.catalog import models_help, weights_help

    return (f"usage: {prog} --data_dir DIR [--model NAME] [--weights W] [flags]  |  {prog} --workdir RUN\n\n"
            f"{__doc__.strip()}\n\nflags:\n{absl_flags_help(__name__)}\n\n{models_help('--model')}\n"
            f"{weights_help()}\n(--weights NAME)")


def cli(argv: list[str] | None = None, prog: str = "jaxsr evaluate") -> None:
    """The command: ``argv`` (default ``sys.argv``, program name first); ``--help`` answered without JAX,
    then absl's parse and :func:`main`; exits."""
    from jaxsr.cli import absl_run, parse_flags_or_exit

    absl_run(main, argv=list(sys.argv if argv is None else argv), flags_parser=parse_flags_or_exit,
             help=lambda: help_text(prog))
