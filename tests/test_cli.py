"""The ``jaxsr`` command: its subcommands, their help without importing JAX (names listed), the recipes by
name, the static name lists against the registries, the packages of setup.cfg, and a run by recipe name from
another folder ending with the line that says what it wrote."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, make_tiny_folder

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
RECIPES = sorted(p.stem for p in (REPO / "configs").glob("*.py") if not p.name.startswith("_"))

# run the command's main in this process, then say at exit whether JAX was imported
_PROBE = """
import atexit, sys
atexit.register(lambda: print("JAX IMPORTED" if "jax" in sys.modules else "NO JAX", file=sys.stderr))
from jaxsr.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

# subcommand → names its --help must show
HELP_NAMES = {
    "": ["train", "evaluate", "upscale", "convert", "zoo", "paper", "experiments", "campaign", "config"],
    "train": [*RECIPES, "vdsr", "edsr_baseline", "--config", "--workdir", "--import"],
    "evaluate": ["vdsr", "srcnn_955", "vdsr_official", "srcnn_955_imagenet", "no_progress", "--results_json"],
    "upscale": ["vdsr", "mdsr", "vdsr_official", "srcnn_955_imagenet", "--output_dir"],
    "convert": ["--model", "--scale"],
    "zoo": ["measure", "vdsr_official", "srcnn_955_imagenet", "vdsr_caffe_adam"],
    "paper": ["vdsr_table3", "vdsr_official", "srcnn_955_imagenet", "--data_dir"],
    "experiments": ["depth", "residual", "scales", "--workdir"],
    "campaign": ["run", "status", "curve", "export"],
    "config": ["vdsr", "edsr", *RECIPES],
}


def jaxsr(*args, cwd=REPO, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE, *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("command", list(HELP_NAMES))
def test_help_lists_the_names_without_importing_jax(command):
    r = jaxsr(*([command] if command else []), "--help")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "NO JAX", r.stderr
    missing = [name for name in HELP_NAMES[command] if name not in r.stdout]
    assert not missing, f"jaxsr {command} --help does not name {missing}:\n{r.stdout}"


def test_the_probe_sees_jax_when_it_is_imported():
    r = subprocess.run([sys.executable, "-c", _PROBE.replace("from jaxsr.cli.main", "import jax\nfrom jaxsr.cli.main"),
                        "--help"], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr.strip().splitlines()[-1] == "JAX IMPORTED", r.stderr


def test_top_level_help_has_one_line_per_command():
    from jaxsr.cli.main import COMMANDS, help_text

    lines = [l.split() for l in help_text().splitlines() if l.startswith("  ") and l.split()[0] in COMMANDS]
    assert [l[0] for l in lines] == list(COMMANDS)


def test_an_unknown_command_is_one_error_line():
    r = jaxsr("trian")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines()[0].startswith("error: unknown command 'trian' (commands: train, evaluate")


def test_the_static_names_are_the_registries():
    import jaxsr
    from jaxsr.cli import catalog
    from jaxsr.eval.protocol import PROTOCOLS
    from jaxsr.research.paper import paper_tables

    assert list(catalog.MODELS) == jaxsr.models.names()
    assert catalog.PROTOCOLS == PROTOCOLS
    assert catalog.paper_table_names() == sorted(paper_tables())


def test_recipes_by_name_and_paths(tmp_path):
    from jaxsr.base.errors import JaxsrError
    from jaxsr.cli import recipes

    assert list(recipes.recipes()) == RECIPES
    assert recipes.resolve("quickstart") == str(REPO / "configs" / "quickstart.py")
    assert recipes.resolve("vdsr:ARG") == f"{REPO / 'configs' / 'vdsr.py'}:ARG"
    for path in ("configs/vdsr.py", "mine.py", "../x/vdsr", "configs/vdsr.py:ARG"):
        assert recipes.resolve(path) == path  # a path is config_flags' business
    local = tmp_path / "myrecipe"
    local.write_text("")
    assert recipes.resolve(str(local)) == str(local)
    with pytest.raises(JaxsrError, match=r"--config vdsr2: no such recipe or config file \(recipes: edsr, mdsr, "):
        recipes.resolve("vdsr2")
    path = str(REPO / "configs" / "quickstart.py")
    assert recipes.resolve_flag(["p", "--config", "quickstart", "--config.total_steps=5", "--workdir", "w"]) == \
        ["p", "--config", path, "--config.total_steps=5", "--workdir", "w"]
    assert recipes.resolve_flag(["p", "--config=quickstart", "-config", "quickstart"]) == \
        ["p", f"--config={path}", "-config", path]
    assert recipes.headline("EDSR (x): the model at x2; the recipe, which is the\nschema's") == \
        "EDSR (x): the model at x2"


def test_an_unknown_recipe_is_one_error_line_listing_them():
    r = jaxsr("train", "--config", "nope", "--workdir", "w")
    assert r.returncode == 1 and r.stdout == "", r.stderr
    (line, probe) = r.stderr.strip().splitlines()
    assert line == f"error: --config nope: no such recipe or config file (recipes: {', '.join(RECIPES)})"
    assert probe == "NO JAX"


def test_setup_cfg_packages_are_the_folders_and_the_recipes():
    from setuptools import find_packages

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    options = cfg["options"]
    listed = [p.strip() for p in options["packages"].split() if p.strip()]
    assert sorted(listed) == sorted(find_packages(str(REPO), include=["jaxsr", "jaxsr.*"]) + ["jaxsr.configs"])
    assert [l.split("=") for l in options["package_dir"].split("\n") if l.strip()] == [["jaxsr.configs ", " configs"]]
    scripts = cfg["options.entry_points"]["console_scripts"]
    assert "jaxsr = jaxsr.cli.main:main" in scripts and "jaxsr-upscale = jaxsr.cli.upscale:main" in scripts


def test_train_by_recipe_name_from_another_folder_says_what_it_wrote(tmp_path):
    work = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "jaxsr", "train", "--config", "quickstart", "--workdir", work,
                        "--config.total_steps=3", "--config.model.kwargs.depth=3", "--config.model.kwargs.features=8",
                        "--config.checkpoint_every_steps=2"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines()[-1] == f"wrote {work}: checkpoint at step 3, config.json, metrics.jsonl, tensorboard/"
    assert json.loads((work / "config.json").read_text())["total_steps"] == 3


def test_evaluate_and_paper_say_what_they_wrote(tmp_path, capsys):
    from jaxsr.cli.paper import main as paper

    make_tiny_folder(tmp_path / "data" / "Tiny", count=1)
    base = ["evaluate", "--model", "bicubic", "--data_dir", tmp_path / "data", "--datasets", "Tiny", "--scales", "2",
            "--no_progress"]
    r = jaxsr(*base)
    assert r.returncode == 0 and r.stdout.splitlines()[-1].startswith("wrote nothing (--results_json"), r.stderr
    r = jaxsr(*base, "--results_json", tmp_path / "r.json", "--save_images", tmp_path / "img")
    assert r.returncode == 0, r.stderr
    count = sum(1 for p in (tmp_path / "img").rglob("*") if p.is_file())
    assert count and r.stdout.splitlines()[-1] == f"wrote {tmp_path / 'r.json'}, {count} images in {tmp_path / 'img'}"
    # jaxsr paper without weight flags: the shipped VDSR and SRCNN beside bicubic
    make_tiny_folder(tmp_path / "Set5", count=1)
    assert paper(["vdsr_table3", "--data_dir", str(tmp_path), "--datasets", "Set5", "--scales", "2",
                  "--no_progress", "--json", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"wrote {tmp_path / 't.json'}"
    methods = {row["method"] for row in json.loads((tmp_path / "t.json").read_text())["rows"]}
    assert methods == {"Bicubic", "SRCNN", "VDSR"}
    assert paper(["vdsr_table3", "--data_dir", str(tmp_path), "--datasets", "Set5", "--scales", "2",
                  "--no_progress", "--vdsr_weights", "none", "--srcnn_weights", "none"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "wrote nothing (--json keeps the numbers)"


def test_import_jaxsr_is_lazy_and_keeps_its_names():
    code = ("import sys, jaxsr\nassert 'jax' not in sys.modules and 'flax' not in sys.modules\n"
            "assert jaxsr.XLA_CPU_SETTING\nfrom jaxsr import load, super_resolve, models, zoo, JaxsrError, psnr\n"
            "assert zoo.__name__ == 'jaxsr.weights.zoo' and models.__name__ == 'jaxsr.models'\n"
            "assert all(hasattr(jaxsr, n) for n in jaxsr.__all__) and set(jaxsr.__all__) <= set(dir(jaxsr))\n"
            "assert jaxsr.eval.inference.super_resolve is super_resolve\n"
            "try:\n    jaxsr.nothing\nexcept AttributeError:\n    print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["config"], ["zoo"]])
def test_a_reader_that_closes_the_pipe_ends_it_quietly(args):
    """``jaxsr --help | head -1``: the reader is gone before the command writes; no traceback, no error line,
    status 141 (128 + SIGPIPE)."""
    read, write = os.pipe()
    os.close(read)  # the reader went away
    try:
        r = subprocess.run([sys.executable, "-c", "import sys; from jaxsr.cli.main import main; sys.exit(main())",
                            *args], stdout=write, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO, timeout=120)
    finally:
        os.close(write)
    assert r.returncode == 141 and r.stderr == "", (r.returncode, r.stderr[-2000:])
