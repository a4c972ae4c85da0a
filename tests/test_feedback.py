"""Feedback on long work and project hygiene: data-preparation progress, flushed metrics, quiet TensorFlow,
the TensorBoard extra, ``runs/`` ignored by git, scale notes."""

import configparser
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from jaxsr.data.sampling import build_patch_table
from jaxsr.weights.provenance import scale_note, trained_scales
from jaxsr.train.summary import MetricWriter


def test_patch_preparation_reports_progress_and_cache(tmp_path, capsys):
    images = [np.random.default_rng(i).random((24, 20)) for i in range(3)]
    build_patch_table(images, [2], 8, 1, "pre", cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert "preparing training patches" in err and "/3 [" in err
    assert "note: prepared the training patches of 3 images at x2 in " in err
    assert f" s, cached in {tmp_path}" in err and " MB)" in err
    build_patch_table(images, [2], 8, 1, "pre", cache_dir=tmp_path)  # again: from the cache, and says so
    err = capsys.readouterr().err
    assert f"note: training patches from the cache {tmp_path}" in err and "preparing" not in err


def test_metrics_survive_a_killed_run(tmp_path):
    """A run killed (SIGKILL: no cleanup at all) keeps the scalars it wrote: jsonl and TensorBoard events."""
    code = ("import os, signal, time; from jaxsr.train.summary import MetricWriter, FLUSH_SECONDS\n"
            f"w = MetricWriter({str(tmp_path)!r})\n"
            "for s in range(3): w.write(s, {'loss': 1.0 / (s + 1)})\n"
            "time.sleep(FLUSH_SECONDS + 1.5); os.kill(os.getpid(), signal.SIGKILL)")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].read_bytes().count(b"loss") == 3


def test_tensorflow_starts_quietly():
    pytest.importorskip("tensorflow")
    code = "from jaxsr.data.tfdata import import_tf; tf = import_tf(); print(int(tf.constant(2) + 1))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "3"
    assert r.stderr == ""


def test_tensorboard_extra_and_runs_ignored():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert "tensorboard" in cfg["options.extras_require"]["tensorboard"]
    assert "pip install -e '.[tensorboard]'" in (REPO / "README.md").read_text()
    if (REPO / ".git").exists():
        r = subprocess.run(["git", "check-ignore", "-q", "runs/quickstart/metrics.jsonl"], cwd=REPO)
        assert r.returncode == 0


def test_scale_notes():
    assert trained_scales("vdsr", "VDSR_Official.mat") == (2, 3, 4)
    assert trained_scales("vdsr", None) == (2, 3, 4)
    assert trained_scales("vdsr", "mine.msgpack") is None  # a params file does not say
    # The SRCNN authors publish one model per scale: one file for several scales is noted, a pattern is not.
    assert trained_scales("srcnn", "w/SRCNN_9-5-5_ImageNet_x2.mat") == (2,)
    assert trained_scales("srcnn", "w/SRCNN_9-5-5_ImageNet_x{scale}.mat") is None
    assert scale_note("srcnn", "w/SRCNN_9-5-5_ImageNet_x2.mat", [2, 3]).startswith("srcnn was trained for x2; x3")
    assert trained_scales("edsr_baseline", None) is None  # built per scale
    assert scale_note("vdsr", "VDSR_Official.mat", [2, 4]) is None
    assert scale_note("vdsr", "VDSR_Official.mat", [3, 8]) == \
        "vdsr was trained for x2, x3, x4; x8 is outside that, expect poorer results"


@pytest.mark.parametrize("cli", [["evaluate.py"], ["-m", "jaxsr.cli.upscale"], ["-m", "jaxsr.convert"]])
def test_help_exits_zero(cli):
    r = subprocess.run([sys.executable, *cli, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ("usage" if cli[-1] == "jaxsr.convert" else "no_progress") in r.stdout


def test_run_cli_statuses(capsys):
    from jaxsr.cli import run_cli
    from jaxsr.base.errors import JaxsrError, UsageError

    def fail(e):
        raise e

    assert run_cli(lambda: 3) == 3 and run_cli(lambda: "not a status") == 0
    assert run_cli(lambda: fail(UsageError("bad flags"))) == 2
    assert run_cli(lambda: fail(JaxsrError("bad input"))) == 1
    assert run_cli(lambda: fail(KeyboardInterrupt()), "stopped here") == 130
    assert capsys.readouterr().err.splitlines() == ["error: bad flags", "error: bad input", "error: stopped here"]


@pytest.mark.parametrize("cli", [["-m", "jaxsr.config", "nope"], ["-m", "jaxsr.convert", "missing.mat", "o.msgpack"]])
def test_module_clis_print_one_error_line(cli, tmp_path):
    r = subprocess.run([sys.executable, *cli], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"})
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error: ")
