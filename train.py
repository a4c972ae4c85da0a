"""Train a jaxsr model: ``python train.py --config configs/quickstart.py --workdir runs/quickstart``.

Any config field can be overridden, e.g. ``--config.total_steps=1000 --config.data.sampler=device``; the
fields, defaults and meanings are in ``jaxsr/train/config.py`` (``python -m jaxsr.config``). Re-running the same
command resumes from the newest verified checkpoint in ``--workdir``. ``--import my_pkg.sr_models`` imports
plug-in modules (models, metrics, losses) first; they are stored in the run's config (``imports``).
"""

from absl import flags
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "Training config file (configs/*.py).", lock_config=True)
flags.DEFINE_string("workdir", None, "Run folder: checkpoints, config.json, metrics, TensorBoard.")
flags.DEFINE_list("import", [], "Plug-in modules to import first (they register models, metrics, losses): dotted "
                  "names or .py files; added to the config's imports, so the run keeps them.")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def main(argv):
    from jaxsr.cli import absl_main

    def run():
        from jaxsr.train.config_check import check_fields
        from jaxsr.base.plugins import split

        if FLAGS["import"].value:
            FLAGS.config.imports = ",".join(dict.fromkeys(split(FLAGS.config.get("imports", "")) +
                                                          split(FLAGS["import"].value)))
        check_fields(FLAGS.config)  # a bad field fails before the training machinery is even imported
        from jaxsr.train.training import train_and_evaluate

        train_and_evaluate(FLAGS.config, FLAGS.workdir)

    return absl_main(argv, run)


if __name__ == "__main__":
    from jaxsr.cli import absl_run, parse_flags_or_exit

    absl_run(main, flags_parser=parse_flags_or_exit)
