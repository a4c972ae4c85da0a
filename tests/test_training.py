"""Training end to end: tiny runs, evaluation of a workdir, exact resume, signals, bad configs."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from conftest import REPO, make_tiny_folder, tiny_config, tiny_flags
from jaxsr import models
from jaxsr.weights.checkpoint import restore_params
from jaxsr.base.errors import JaxsrError
from jaxsr.train.training import train_and_evaluate

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}


def final_params(workdir, depth=3, features=8):
    return jax.device_get(restore_params(workdir, models.VDSR(depth=depth, features=features)))


def assert_same_params(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("data") / "Tiny")


def test_train_then_evaluate_workdir(folder, tmp_path):
    work = tmp_path / "run"
    r = subprocess.run([sys.executable, "train.py", *tiny_flags(folder), "--config.total_steps=6",
                        "--config.log_every_steps=2", "--config.checkpoint_every_steps=3", f"--workdir={work}"],
                       cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "step       6/6" in r.stdout and "| Tiny | x2 |" in r.stdout
    assert sorted(p.name for p in (work / "checkpoints").iterdir() if p.name.isdigit()) == ["3", "6"]
    lines = [json.loads(l) for l in (work / "metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines if "train/loss" in l] == [1, 2, 4, 6]  # the first step, then every 2
    assert "val/Tiny/x2/psnr" in lines[-1]
    assert any((work / "tensorboard").iterdir())
    assert json.loads((work / "config.json").read_text())["total_steps"] == 6
    out = tmp_path / "eval.json"
    r = subprocess.run([sys.executable, "evaluate.py", f"--workdir={work}", "--scales=2,3",
                        f"--results_json={out}", "--no_progress"], cwd=REPO, env=ENV, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())["results"]
    assert set(res) == {"Tiny"} and set(res["Tiny"]) == {"2", "3"}
    assert res["Tiny"]["2"]["psnr"] == pytest.approx(lines[-1]["val/Tiny/x2/psnr"], abs=1e-9)


def test_a_run_says_what_it_does(folder, tmp_path, capsys, monkeypatch):
    """Devices first, then the compile line; the first step's time (compilation included) without an ETA;
    progress lines between logs when time passes (here: every step), naming the mean's window; log rows
    (metrics.jsonl) only at log steps."""
    from jaxsr.train import training

    monkeypatch.setattr(training, "PROGRESS_EVERY_SECONDS", 0)
    train_and_evaluate(tiny_config(folder, total_steps=5, log_every_steps=4), str(tmp_path / "run"))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "training on 1 cpu device (cpu) in 1 process: batch 4 (4 per device), float32"
    assert out[1].startswith("compiling the training step")
    steps = [l for l in out if l.startswith("step ")]
    assert [int(l.split()[1].split("/")[0]) for l in steps] == [1, 2, 3, 4, 5]
    assert "mean loss" in steps[0] and "(1 step)" in steps[0] and "(compilation included)" in steps[0]
    assert "ETA" not in steps[0] and all("steps/s  ETA" in l for l in steps[1:])
    assert "(2 steps)" in steps[2] and "(3 steps)" in steps[3]  # the window since step 1's log row
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "train/loss" in r]
    assert [r["step"] for r in train_rows] == [1, 4, 5] and "train/steps_per_s" not in train_rows[0]
    assert all(r["train/steps_per_s"] > 0 for r in train_rows[1:])


def test_a_named_validation_set_is_never_replaced_by_other_images(folder, tmp_path):
    config = tiny_config(folder, **{"eval.data_dir": ""})  # eval.datasets names "Tiny"
    with pytest.raises(JaxsrError, match=r"eval.datasets names Tiny, but eval.data_dir is empty"):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    config = tiny_config(folder, **{"eval.data_dir": "", "eval.datasets": "embedded", "total_steps": 0})
    assert set(train_and_evaluate(config, str(tmp_path / "run"))) == {"Embedded"}


def test_resume_equals_uninterrupted_and_tfdata_equals_device(folder, tmp_path):
    straight = tmp_path / "straight"
    train_and_evaluate(tiny_config(folder, total_steps=7), str(straight))
    resumed = tmp_path / "resumed"
    train_and_evaluate(tiny_config(folder, total_steps=4), str(resumed))  # stops at 4 (a checkpoint)
    train_and_evaluate(tiny_config(folder, total_steps=7), str(resumed))  # resumes 4 → 7
    assert_same_params(final_params(straight), final_params(resumed))
    pytest.importorskip("tensorflow")
    host = tmp_path / "tfdata"
    train_and_evaluate(tiny_config(folder, total_steps=7, **{"data.sampler": "tfdata"}), str(host))
    assert_same_params(final_params(straight), final_params(host))


def test_kill9_and_sigterm_then_resume_equal_uninterrupted(folder, tmp_path):
    """Slow enough steps (depth 6, batch 32) that the run can be killed after its first checkpoint."""
    flags = [*tiny_flags(folder), "--config.model.kwargs.depth=6", "--config.batch_size=32",
             "--config.data.patch_size=16", "--config.total_steps=60", "--config.checkpoint_every_steps=10",
             "--config.log_every_steps=5"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    r = subprocess.run([sys.executable, "train.py", *flags, f"--workdir={straight}"], cwd=REPO, env=ENV,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr

    def start():
        return subprocess.Popen([sys.executable, "train.py", *flags, f"--workdir={killed}"], cwd=REPO, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for(proc, predicate, what):
        deadline = time.time() + 300
        while not predicate():
            assert proc.poll() is None, f"run ended before {what}: {proc.stderr.read()}"
            assert time.time() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    proc = start()
    wait_for(proc, lambda: (killed / "checkpoints" / "10" / "jaxsr_digest.json").is_file(), "checkpoint 10")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc = start()
    assert proc.stdout.readline().startswith("training on 1 cpu device (cpu) in 1 process: batch 32")
    line = proc.stdout.readline()
    assert line.startswith("resumed from") and ("at step 10" in line or "at step 20" in line), line
    assert proc.stdout.readline().startswith("compiling the training step")
    line = proc.stdout.readline()  # the first progress line after resuming: its time, compilation included
    assert line.startswith("step ") and "(compilation included)" in line and "ETA" not in line, line
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0:  # it may have finished before the signal landed; otherwise it saved
        assert proc.returncode == 128 + signal.SIGTERM and "SIGTERM: saved a checkpoint" in err, err
    r = subprocess.run([sys.executable, "train.py", *flags, f"--workdir={killed}"], cwd=REPO, env=ENV,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert_same_params(final_params(straight, depth=6), final_params(killed, depth=6))
    table = lambda out: [l for l in out.splitlines() if l.startswith("| Tiny")]  # noqa: E731
    assert table(r.stdout) and [l.rsplit("|", 2)[0] for l in table(r.stdout)] == \
        [l.rsplit("|", 2)[0] for l in table(subprocess.run(
            [sys.executable, "evaluate.py", f"--workdir={straight}", "--scales=2,3", "--no_progress"],
            cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300).stdout)]


@pytest.mark.parametrize("overrides,needle", [
    ({"model.name": "nope"}, "model.name must be one of"),
    ({"data.scales": (2, 0)}, "data.scales must be a non-empty list of distinct integers from 2 to 16"),
    ({"data.folders": "/nonexistent/folder"}, "data.folders: /nonexistent/folder: no such folder"),
    ({"data.patch_size": 100}, "data.patch_size=100 is larger than"),
    ({"data.sampler": "gpu"}, "data.sampler must be"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"eval.protocol": "uint16"}, "eval.protocol must be one of 'matlab', 'float'"),
])
def test_bad_config_fails_at_start_naming_the_field(folder, tmp_path, overrides, needle):
    with pytest.raises(JaxsrError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        train_and_evaluate(tiny_config(folder, **overrides), str(tmp_path / "bad"))


def test_empty_folder_one_line_error_from_the_command_line(tmp_path):
    empty = tmp_path / "Empty"
    empty.mkdir()
    r = subprocess.run([sys.executable, "train.py", *tiny_flags(empty), f"--workdir={tmp_path / 'w'}"],
                       cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: data.folders:")
    assert "no images" in r.stderr
