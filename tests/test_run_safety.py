"""Nothing lost, nothing silently wrong: verified checkpoints, the honest last good state, config changes
on rerun, prompt signals, and one `error:` line for every bad input of train.py."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from conftest import REPO, make_tiny_folder, read_until_step, tiny_config, tiny_flags
from jaxsr import models
from jaxsr.weights.checkpoint import DIGEST, digest, restore_params
from jaxsr.base.errors import JaxsrError
from jaxsr.train.monitor import eta as _eta
from jaxsr.train.training import train_and_evaluate

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}
MODEL = models.VDSR(depth=3, features=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("safety") / "Tiny")


@pytest.fixture(scope="module")
def run6(folder, tmp_path_factory):
    """A finished 6-step run with verified checkpoints at steps 3 and 6."""
    work = tmp_path_factory.mktemp("run6") / "run"
    train_and_evaluate(tiny_config(folder, total_steps=6), str(work))
    return work


def cli(script, *args, cwd=REPO, env=None, timeout=120):
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, env=env or ENV,
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(r, needle):
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], r.stderr[-2000:]


def damage(step_dir, how):
    """Truncate, delete, or flip bytes in the largest data file of the params item."""
    files = sorted((p for p in (step_dir / "params").rglob("*") if p.is_file() and "/d/" in str(p)),
                   key=lambda p: p.stat().st_size)
    target = files[-1]
    if how == "delete":
        target.unlink()
    elif how == "truncate":
        target.write_bytes(target.read_bytes()[:50])
    else:
        data = bytearray(target.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 64):
            data[i] ^= 0xFF
        target.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncate", "delete", "flip"])
def test_damaged_latest_checkpoint_is_skipped_with_a_note(run6, tmp_path, capfd, how):
    work = tmp_path / "run"
    shutil.copytree(run6, work)
    damage(work / "checkpoints" / "6", how)
    params = restore_params(work, MODEL)
    err = capfd.readouterr().err
    notes = [l for l in err.splitlines() if l.startswith("note:")]
    assert "Exception ignored" not in err and len(notes) == 1 and "checkpoints/6" in notes[0] and "damaged" in notes[0], notes
    expected = json.loads((work / "checkpoints" / "3" / DIGEST).read_text())["params"]
    assert digest(params)[0] == expected  # the newest intact one: step 3


def test_resume_after_damage_equals_undamaged_and_evaluate_skips_it(run6, folder, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(run6, work)
    damage(work / "checkpoints" / "6", "flip")
    r = cli("evaluate.py", f"--workdir={work}", "--scales=2", "--no_progress")
    assert r.returncode == 0 and "nan" not in r.stdout.lower(), r.stderr
    assert [l for l in r.stderr.splitlines() if l.startswith("note:")][0].count("checkpoints/6") == 1
    train_and_evaluate(tiny_config(folder, total_steps=6), str(work))  # resumes at 3, trains 3 → 6 again
    jax.tree_util.tree_map(np.testing.assert_array_equal, jax.device_get(restore_params(run6, MODEL)),
                           jax.device_get(restore_params(work, MODEL)))


def test_no_intact_checkpoint_is_one_error_line(run6, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(run6, work)
    for step in ("3", "6"):
        damage(work / "checkpoints" / step, "flip")
    r = cli("evaluate.py", f"--workdir={work}", "--scales=2", "--no_progress")
    one_error_line(r, "no intact checkpoint")
    assert r.stderr.count("note: skipped checkpoint") == 2


def test_a_checkpoint_is_good_only_once_its_loss_is_finite(folder, tmp_path):
    """lr ×1e12 from step 3 on: params of step 4 are huge and their loss (step 5) is inf."""
    work = tmp_path / "diverge"
    config = tiny_config(folder, total_steps=20, log_every_steps=1, checkpoint_every_steps=1,
                         **{"optim.decay_factor": 1e12, "optim.decay_every_steps": 3})
    with pytest.raises(JaxsrError, match=r"non-finite loss or gradient at step 5 .*the latest checkpoint "
                                         r"\(step 3\) is the last good state"):
        train_and_evaluate(config, str(work))
    assert sorted(int(p.name) for p in (work / "checkpoints").iterdir()) == [1, 2, 3]
    params = jax.device_get(restore_params(work, MODEL))
    assert all(np.isfinite(p).all() and np.abs(p).max() < 100 for p in jax.tree_util.tree_leaves(params))


def test_lr_1e9_keeps_no_checkpoint_and_evaluate_says_so(folder, tmp_path):
    work = tmp_path / "lr1e9"
    config = tiny_config(folder, total_steps=10, checkpoint_every_steps=1, **{"optim.learning_rate": 1e9})
    with pytest.raises(JaxsrError, match="no checkpoint was good"):
        train_and_evaluate(config, str(work))
    assert not list((work / "checkpoints").iterdir())
    one_error_line(cli("evaluate.py", f"--workdir={work}", "--no_progress"), "no checkpoint yet")


def test_rerun_with_another_model_config_changes_nothing(run6, folder, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(run6, work)
    before = {p: p.stat().st_mtime_ns for p in work.rglob("*")}
    r = cli("train.py", *tiny_flags(folder), f"--workdir={work}", "--config.model.kwargs.depth=4",
            "--config.data.patch_size=10")
    one_error_line(r, "another config")
    assert "model.kwargs.depth (3 → 4)" in r.stderr and "data.patch_size (12 → 10)" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in work.rglob("*")} == before
    assert cli("evaluate.py", f"--workdir={work}", "--scales=2", "--no_progress").returncode == 0


def test_sigterm_saves_within_a_step_not_at_the_next_log_step(folder, tmp_path):
    work = tmp_path / "sig"
    flags = [*tiny_flags(folder), "--config.total_steps=100000", "--config.log_every_steps=100000",
             "--config.checkpoint_every_steps=100000", f"--workdir={work}"]
    proc = subprocess.Popen([sys.executable, "train.py", *flags], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert read_until_step(proc).startswith("step       1/100000")  # compiled, stepping
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "SIGTERM: saved a checkpoint at step" in err, err
    assert time.monotonic() - start < 30
    saved = [int(p.name) for p in (work / "checkpoints").iterdir()]
    assert len(saved) == 1 and (work / "checkpoints" / str(saved[0]) / DIGEST).is_file()
    assert f"at step {saved[0]};" in err


def test_eta_prints_days():
    assert _eta(5 * 86400 + 14 * 3600 + 97) == "5d 14:01:37" and _eta(3661) == "01:01:01"


@pytest.mark.parametrize("args,needle", [
    (["--config.batchsize=8"], "unknown config field 'batchsize'"),
    (["--config.optim.name=rmsprop"], "optim.name must be one of 'sgd', 'adam'"),
    (["--config.optim.schedule=cosine"], "optim.schedule must be one of"),
    (["--config.model.kwargs.depth=0"], "model.kwargs.depth must be >= 1"),
    (["--config.eval.protocol=exact"], "eval.protocol must be one of 'matlab', 'float'"),
])
def test_config_errors_are_one_line_fast_and_write_nothing(folder, tmp_path, args, needle):
    start = time.monotonic()
    r = cli("train.py", *tiny_flags(folder), f"--workdir={tmp_path / 'w'}", *args)
    one_error_line(r, needle)
    assert time.monotonic() - start < 5 + 5  # < 5 s of work, plus interpreter start on a loaded machine
    assert not (tmp_path / "w").exists()


def test_workdir_problems_are_one_line(folder, tmp_path):
    file = tmp_path / "afile"
    file.write_text("x")
    one_error_line(cli("train.py", *tiny_flags(folder), f"--workdir={file}"), "not a folder")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    target = readonly if os.geteuid() != 0 else "/proc/jaxsr_run"  # root ignores permissions
    one_error_line(cli("train.py", *tiny_flags(folder), f"--workdir={target}"), "cannot write there")


def test_invalid_config_json_is_one_line(run6, folder, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(run6, work)
    (work / "config.json").write_text("{not json")
    one_error_line(cli("evaluate.py", f"--workdir={work}", "--no_progress"), "config.json: not a readable JSON")
    one_error_line(cli("train.py", *tiny_flags(folder), f"--workdir={work}"), "config.json: not a readable JSON")


def test_disk_full_while_saving_is_one_line(folder, tmp_path, monkeypatch, capsys):
    import orbax.checkpoint as ocp

    from jaxsr.cli import run_cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    assert run_cli(lambda: train_and_evaluate(tiny_config(folder), str(tmp_path / "full"))) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot save checkpoint 3") and "No space left on device" in err[-1]


def test_init_timeout_and_absent_peers_are_one_line(folder, tmp_path):
    base = [*tiny_flags(folder), f"--workdir={tmp_path / 'w'}"]
    dist = {**ENV, "JAX_COORDINATOR_ADDRESS": "127.0.0.1:29541", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"}
    one_error_line(cli("train.py", *base, env={**dist, "JAXSR_INIT_TIMEOUT": "abc"}), "JAXSR_INIT_TIMEOUT must be")
    start = time.monotonic()
    r = cli("train.py", *base, env={**dist, "JAXSR_INIT_TIMEOUT": "2"}, timeout=60)
    one_error_line(r, "did not join")
    assert r.returncode == 1 and "Check failure" not in r.stderr and time.monotonic() - start < 30


def test_train_py_does_not_import_from_the_current_folder(folder, tmp_path):
    fake = tmp_path / "jaxsr"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise SystemExit('the jaxsr in the current folder was imported')\n")
    r = cli("train.py", *tiny_flags(folder), f"--workdir={tmp_path / 'w'}", "--config.optim.name=bad",
            cwd=tmp_path, env={**ENV, "PYTHONPATH": str(REPO)})
    one_error_line(r, "optim.name must be one of")


def test_os_errors_are_one_line(tmp_path, capsys):
    from jaxsr.cli import run_cli

    assert run_cli(lambda: open(tmp_path / "missing" / "x", "w")) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing' / 'x'}: No such file or directory\n"


def test_periodic_actions_fire_when_the_loop_always_did():
    from jaxsr.train.loop import Every

    total, first = 23, 4
    for every in (0, 1, 5, 7, 30):
        log, ckpt, val = (Every(every, print, first=True, last=True), Every(every, print, last=True),
                          Every(every, print))
        for step in range(first + 1, total + 1):
            multiple = bool(every) and step % every == 0
            assert log.due(step, first, total) == (multiple or step == total or step == first + 1)
            assert ckpt.due(step, first, total) == (multiple or step == total)
            assert val.due(step, first, total) == (multiple and step < total)
