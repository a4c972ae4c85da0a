"""Paper-style PSNR/SSIM tables for a jaxsr model on benchmark folders.

  python evaluate.py --model vdsr --weights ../shared/weights/VDSR_Official.mat \
      --data_dir ../shared/data/test --datasets Set5,Set14,B100 --scales 2,3,4 --results_json out.json

``--weights`` takes a ``.msgpack`` params file or an authors' ``.mat`` (VDSR's MatConvNet model, SRCNN's
models, e.g. ``'.../SRCNN_9-5-5_ImageNet_x{scale}.mat'`` with ``--model srcnn``); ``{scale}`` in the path
is replaced by each scale. ``--protocol`` picks the quantization (``jaxsr.protocol``): ``matlab`` (default,
the papers' tables) or ``float``. ``--workdir`` evaluates the latest checkpoint
of a training run with that run's own config.
"""

from __future__ import annotations

import json

from absl import app, flags

flags.DEFINE_string("model", "vdsr", "Registered model name (see jaxsr.models.names()).")
flags.DEFINE_string("weights", None, "Params file (.msgpack or MatConvNet .mat); '{scale}' is substituted.")
flags.DEFINE_string("workdir", None, "Training run folder: evaluate its latest checkpoint with its config.")
flags.DEFINE_string("data_dir", None, "Folder with one sub-folder of HR images per dataset "
                    "(with --workdir: default = the run's own validation images).")
flags.DEFINE_list("datasets", ["Set5", "Set14", "B100"], "Dataset folder names under --data_dir.")
flags.DEFINE_list("scales", ["2", "3", "4"], "Upscaling factors.")
flags.DEFINE_string("results_json", None, "Write the table's numbers to this JSON file.")
flags.DEFINE_string("save_images", None, "Write SR outputs and comparison crops under this folder.")
flags.DEFINE_bool("self_ensemble", False, "Average over the 8 flips/rotations (the '+' results).")
flags.DEFINE_bool("gray_as_rgb", False, "Score grayscale images as 3-channel RGB (cv2/PIL-style loaders) "
                  "instead of using the gray value as Y (the papers' MATLAB protocol).")
flags.DEFINE_enum("protocol", "matlab", ["matlab", "float"], "Evaluation protocol: 'matlab' scores uint8 Y "
                  "as the papers' MATLAB scripts (their tables); 'float' quantizes nothing "
                  "(with --workdir: default = the run's own eval.protocol).")
flags.DEFINE_bool("progress", True, "Show a progress bar on stderr.")
FLAGS = flags.FLAGS


def main(argv):
    from jaxsr.cli import absl_main, parse_scales
    from jaxsr.checkpoint import read_run_config
    from jaxsr.data.sources import eval_datasets, folder_datasets
    from jaxsr.errors import JaxsrError
    from jaxsr.evaluation import evaluate, markdown_table
    from jaxsr.io import atomic_write_bytes
    from jaxsr.loading import run_eval_scales, upscaler_factory

    def run():
        scales = parse_scales(FLAGS.scales)
        factory, label = upscaler_factory(FLAGS.model, FLAGS.weights, FLAGS.workdir, FLAGS.self_ensemble)
        run_config = read_run_config(FLAGS.workdir) if FLAGS.workdir else None
        if run_config is not None and not FLAGS["scales"].present:
            scales = run_eval_scales(run_config)  # the run's own validation scales
        protocol = FLAGS.protocol
        if run_config is not None and not FLAGS["protocol"].present:
            protocol = run_config.eval.get("protocol", protocol)  # the run's own validation protocol
        if FLAGS.data_dir:
            datasets = folder_datasets(FLAGS.data_dir, FLAGS.datasets)
        elif run_config is not None:
            datasets = eval_datasets(run_config.eval)
        else:
            raise JaxsrError("--data_dir is required (or --workdir of a training run)")
        results = evaluate(factory, datasets, scales, save_images=FLAGS.save_images, progress=FLAGS.progress,
                           gray_as_rgb=FLAGS.gray_as_rgb, protocol=protocol)
        print(markdown_table(results, label))
        if FLAGS.results_json:
            atomic_write_bytes(FLAGS.results_json, (json.dumps(results, indent=2) + "\n").encode())

    return absl_main(argv, run)


if __name__ == "__main__":
    app.run(main)
