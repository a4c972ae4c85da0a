"""Issue 21's hostile pass, replayed: never a number from a broken model, never a lost or replaced file, memory
bounded for every hostile file, one ``error:`` (or ``note:``) line for every failure.

Each case runs the command a user would run, in its own process, and checks: one line, the exit status,
nothing written that should not be, nothing replaced, and the peak RSS of that process (``os.wait4``), under
1 GB for every hostile file. The files come from ``tests/hostile_corpus.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

import hostile_corpus as corpus
from conftest import REPO, make_tiny_folder, read_until_step, tiny_config, tiny_flags
from jaxsr import models
from jaxsr.base.errors import JaxsrError, NonFiniteOutput

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
GB = 1 << 30
PEAKS: dict[str, float] = {}  # case → peak RSS in MB (printed at the end of the module: -s shows them)


# Runs the command as its own child and writes that child's peak RSS (KB) to argv[1]. The measuring process
# must be small: Linux counts in a child's ru_maxrss the memory of the process it was forked from (pytest's).
_MEASURE = """import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def replay(case: str, *args, timeout: float = 180, cwd=REPO):
    """Run ``python args…`` → (returncode, stdout, stderr, peak RSS in bytes of that process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err, peak_file = (Path(tmp) / n for n in ("out", "err", "peak"))
        with open(out, "w") as o, open(err, "w") as e:
            proc = subprocess.Popen([sys.executable, "-c", _MEASURE, str(peak_file), sys.executable, *map(str, args)],
                                    stdout=o, stderr=e, cwd=cwd, env=ENV, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        peak = int(peak_file.read_text()) * 1024 if peak_file.exists() else 0  # KB on Linux
        PEAKS[case] = peak / 2**20
        return proc.returncode, out.read_text(), err.read_text(), peak


def one_error(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module", autouse=True)
def _print_peaks():
    yield
    print("\npeak RSS per hostile case (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(PEAKS.items())))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    data = make_tiny_folder(root / "data" / "Tiny")
    return {"root": root, "data": data, **corpus.weights(root / "weights")}


# --- 1. broken weights: never a number, never an image ---------------------------------------------------


@pytest.mark.parametrize("name,needle", [("nan", "tensor conv_1/kernel has 1 non-finite value"),
                                         ("inf", "tensor conv_2/bias has 1 non-finite value"),
                                         ("x1e30", "the model's output is not finite")])
@pytest.mark.parametrize("protocol", ["matlab", "float"])
def test_broken_weights_score_nothing(files, tmp_path, name, needle, protocol):
    out = tmp_path / "r.json"
    rc, stdout, stderr, peak = replay(f"evaluate {name} {protocol}", "evaluate.py", "--weights", files[name],
                                      "--data_dir", files["data"].parent, "--datasets", "Tiny", "--scales", "2",
                                      "--protocol", protocol, "--results_json", out, "--no_progress")
    assert rc == 1 and "|" not in stdout and not out.exists(), stdout
    one_error(stderr, f"{name}.msgpack", needle)
    assert peak < GB


@pytest.mark.parametrize("name,needle", [("nan", "non-finite value"), ("x1e30", "the model's output is not finite")])
def test_broken_weights_upscale_nothing(files, tmp_path, name, needle):
    rc, _, stderr, peak = replay(f"upscale {name}", "-m", "jaxsr.cli.upscale", "--weights", files[name], "--scale", "2",
                                 files["data"], "--output_dir", tmp_path / "out", "--no_progress")
    assert rc == 1 and not list((tmp_path / "out").rglob("*.png"))
    one_error(stderr, f"{name}.msgpack", needle)
    assert "RuntimeWarning" not in stderr and peak < GB


def test_broken_output_in_the_api_training_validation_and_experiments(files):
    """jaxsr.super_resolve, training's validation and the experiments never return or record a number."""
    import jaxsr
    from jaxsr.research.experiments.runner import _evaluate as experiments_evaluate
    from jaxsr.data.sources import folder_images
    from jaxsr.train.sweep import Variant, _stack
    from jaxsr.train.training import _evaluate as validation

    model, params = jaxsr.load("vdsr", weights=str(files["good"]))
    broken = jax.tree_util.tree_map(lambda a: a * 1e30, params)
    with pytest.raises(NonFiniteOutput, match="not finite"):
        jaxsr.super_resolve(np.zeros((16, 16), np.uint8) + 100, model, broken, 2)
    from jaxsr.train.run_spec import Validation

    images = {"Tiny": folder_images([files["data"]])[:1]}
    spec = Validation(model, images, images, (2,), "matlab", ("psnr", "ssim"))
    with pytest.raises(NonFiniteOutput):
        validation(broken, spec, images, {})
    assert validation(params, spec, images, {})["Tiny"]["2"]["psnr"] > 0
    from types import SimpleNamespace

    group = SimpleNamespace(name="depth3", variants=[Variant("ok", 0.1, True, 0, (2,)),
                                                     Variant("bad", 0.1, True, 0, (2,))])
    state = SimpleNamespace(params=_stack([params, broken]))
    alive, diverged = np.ones(2, bool), {}
    c = SimpleNamespace(eval=SimpleNamespace(scales=(2,)))
    out = experiments_evaluate(group, model, state, alive, 7, 10, images, c, {}, diverged)
    assert out["results"]["bad"] is None and out["results"]["ok"]["Tiny"]["2"]["psnr"] > 0
    assert list(alive) == [True, False] and diverged == {"bad": 7}


def test_weights_kwargs_outside_the_models_ranges_are_refused_before_building(files):
    for name, needle in (("deep", "depth=10000000 is outside VDSR's range 2..1000"),
                         ("depth_str", "depth='x' is not an integer")):
        start = time.monotonic()
        rc, _, stderr, peak = replay(f"evaluate {name}", "evaluate.py", "--weights", files[name], "--data_dir",
                                     files["data"].parent, "--datasets", "Tiny", "--scales", "2", "--no_progress",
                                     timeout=120)
        assert rc == 1 and time.monotonic() - start < 60 and peak < GB
        one_error(stderr, f"{name}.msgpack", needle)
    rc, _, stderr, peak = replay("upscale deep", "-m", "jaxsr.cli.upscale", "--weights", files["deep"], "--scale", "2",
                                 files["data"], "--output_dir", files["root"] / "o", "--no_progress", timeout=120)
    assert rc == 1 and peak < GB
    one_error(stderr, "outside VDSR's range")


# --- 2. outputs are created exclusively ------------------------------------------------------------------


def test_concurrent_upscales_never_replace_each_others_outputs(files, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(6):
        shutil.copy(files["data"] / f"img{i % 3}.png", inputs / f"p{i}.png")
    args = [sys.executable, "-m", "jaxsr.cli.upscale", "--model", "bicubic", "--scale", "2", str(inputs), "--output_dir",
            str(tmp_path / "out"), "--no_progress"]
    procs = [subprocess.Popen(args, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    refused = sum(line.startswith("error:") and "exists (use --overwrite)" in line
                  for _, err in results for line in err.splitlines())
    assert refused == 36 - 6 and all("Traceback" not in err for _, err in results)  # each of 6 files written once
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"p{i}_x2.png" for i in range(6)]


def test_an_output_that_appears_after_the_check_is_not_replaced(files, tmp_path, monkeypatch, capsys):
    """The race the existence check cannot close: another writer creates the file while this one works."""
    from jaxsr.base import io
    from jaxsr.cli import upscale

    target = tmp_path / "out" / "img0_x2.png"
    real = io.read_image

    def read_and_race(*a, **kw):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"the other run's output")
        return real(*a, **kw)

    monkeypatch.setattr(io, "read_image", read_and_race)
    status = upscale.main(["--model", "bicubic", "--scale", "2", str(files["data"] / "img0.png"), "--output_dir",
                           str(tmp_path / "out"), "--no_progress"])
    assert status == 1 and target.read_bytes() == b"the other run's output"
    one_error(capsys.readouterr().err, "img0_x2.png exists")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_results_json_report_and_converted_weights_are_not_clobbered(files, tmp_path):
    out = tmp_path / "r.json"
    out.write_text("{}")
    base = ["evaluate.py", "--model", "bicubic", "--data_dir", files["data"].parent, "--datasets", "Tiny",
            "--scales", "2", "--no_progress"]
    rc, _, stderr, _ = replay("results_json exists", *base, "--results_json", out)
    assert rc == 1 and out.read_text() == "{}"
    one_error(stderr, "exists (pass --overwrite")
    rc, _, stderr, _ = replay("results_json overwrite", *base, "--results_json", out, "--overwrite")
    assert rc == 0 and json.loads(out.read_text())["results"]["Tiny"]["2"]["images"] == 3
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "index.html").write_text("mine")
    rc, _, stderr, _ = replay("report exists", *base, "--report", tmp_path / "rep")
    assert rc == 1 and (tmp_path / "rep" / "index.html").read_text() == "mine"
    one_error(stderr, "holds a report")
    from jaxsr.base.io import atomic_write_bytes
    from jaxsr.weights.params import save_params

    converted = tmp_path / "w.msgpack"
    converted.write_bytes(b"mine")
    with pytest.raises(FileExistsError):  # the last step of convert, export, --results_json, upscale
        save_params(converted, {"a": np.zeros(2)}, overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write_bytes(converted, b"theirs", overwrite=False)
    assert converted.read_bytes() == b"mine" and len(list(tmp_path.glob(".w.msgpack*"))) == 0


# --- 3. run folders: one owner, never adopted without their config ---------------------------------------


def _train(folder, work, *extra, timeout=300):
    return replay(f"train {Path(work).name}", "train.py", *tiny_flags(folder), f"--workdir={work}", *extra,
                  timeout=timeout)


@pytest.fixture(scope="module")
def run(files, tmp_path_factory):
    from jaxsr.train.training import train_and_evaluate

    work = tmp_path_factory.mktemp("hostile_run") / "run"
    train_and_evaluate(tiny_config(files["data"], total_steps=6), str(work))
    return work


def test_a_run_folder_without_config_json_is_refused(files, run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(run, work)
    (work / "config.json").unlink()
    before = {p: p.stat().st_mtime_ns for p in work.rglob("*")}
    rc, _, stderr, _ = _train(files["data"], work, "--config.total_steps=12", "--config.optim.learning_rate=0.01")
    assert rc == 1 and {p: p.stat().st_mtime_ns for p in work.rglob("*")} == before
    one_error(stderr, "holds checkpoints but no config.json", "refusing to adopt")


def test_checkpoints_that_is_a_file_is_one_line_fast(files, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "checkpoints").write_text("not a folder")
    start = time.monotonic()
    rc, _, stderr, _ = _train(files["data"], work, "--config.total_steps=6", timeout=120)
    assert rc == 1 and time.monotonic() - start < 60
    one_error(stderr, "checkpoints is not a folder")


def test_a_run_config_with_hostile_model_kwargs_is_refused(run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(run, work)
    config = json.loads((work / "config.json").read_text())
    config["model"]["kwargs"]["depth"] = 10**7
    (work / "config.json").write_text(json.dumps(config))
    rc, _, stderr, peak = replay("evaluate --workdir deep", "evaluate.py", f"--workdir={work}", "--no_progress",
                                 timeout=120)
    assert rc == 1 and peak < GB
    one_error(stderr, "config.json", "outside VDSR's range")


def test_two_trainings_in_one_folder_and_a_killed_holder(files, tmp_path):
    work = tmp_path / "w"
    flags = [*tiny_flags(files["data"]), "--config.total_steps=100000", "--config.log_every_steps=1",
             "--config.checkpoint_every_steps=100000", f"--workdir={work}"]
    first = subprocess.Popen([sys.executable, "train.py", *flags], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        assert read_until_step(first).startswith("step")  # the first one is training
        rc, _, stderr, _ = _train(files["data"], work, "--config.total_steps=100000", "--config.log_every_steps=1",
                                  "--config.checkpoint_every_steps=100000")
        assert rc == 1
        one_error(stderr, f"--workdir {work} is in use by another jaxsr process (pid {first.pid} on host")
    finally:
        first.send_signal(signal.SIGKILL)  # no chance to release anything: the kernel drops its lock
        first.wait(timeout=60)
    assert (work / ".jaxsr.lock").exists()  # left behind, but not held
    rc, stdout, stderr, _ = _train(files["data"], work, "--config.total_steps=3", "--config.log_every_steps=1",
                                   "--config.checkpoint_every_steps=100000")
    assert rc == 0 and "| Tiny | x2 |" in stdout, stderr[-2000:]
    assert not (work / ".jaxsr.lock").exists()  # released and removed at the end


def test_the_lock_covers_campaign_and_experiment_folders(tmp_path):
    """A second process on a folder held by a leg (or an experiment) is refused before it writes anything."""
    from jaxsr.research.campaign.runner import run_leg
    from jaxsr.research.experiments.driver import run_and_report
    from jaxsr.research.experiments.config import get_config

    campaign, paper = tmp_path / "campaign", tmp_path / "paper"
    campaign.mkdir()
    (campaign / "campaign.json").write_text("{}")
    (paper / "depth").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom jaxsr.base.io import folder_lock\n"
        f"with folder_lock({str(campaign)!r}), folder_lock({str(paper / 'depth')!r}):\n"
        "    print('held', flush=True)\n    time.sleep(120)\n")], cwd=REPO, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        held = rf"campaign {campaign} is in use by another jaxsr process \(pid {holder.pid}"
        with pytest.raises(JaxsrError, match=held):
            run_leg(campaign)
        assert sorted(p.name for p in campaign.iterdir()) == [".jaxsr.lock", "campaign.json"]  # no legs.jsonl
        c = get_config("depth")
        c.data.folders = str(tmp_path)
        with pytest.raises(JaxsrError, match="is in use by another jaxsr process"):
            run_and_report("depth", c, str(paper))
    finally:
        holder.kill()
        holder.wait()


def test_a_truncated_patch_cache_is_rebuilt_with_a_note(files, tmp_path):
    from jaxsr.weights.checkpoint import restore_params
    from jaxsr.train.training import train_and_evaluate

    clean, damaged = tmp_path / "clean", tmp_path / "damaged"
    train_and_evaluate(tiny_config(files["data"], total_steps=3), str(clean))
    shutil.copytree(clean / "cache", damaged / "cache")
    for cached in (damaged / "cache").glob("*.npz"):
        cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])
    rc, stdout, stderr, _ = _train(files["data"], damaged, "--config.total_steps=3")
    assert rc == 0 and "Traceback" not in stderr, stderr[-2000:]
    notes = [line for line in stderr.splitlines() if "cached training patches" in line]
    assert len(notes) == 1 and notes[0].startswith("note:") and "damaged" in notes[0] and "rebuilding" in notes[0]
    model = models.VDSR(depth=3, features=8)
    jax.tree_util.tree_map(np.testing.assert_array_equal, jax.device_get(restore_params(clean, model)),
                           jax.device_get(restore_params(damaged, model)))


# --- 4. scales below 2, no inf in a table or a JSON ------------------------------------------------------


def test_scale_1_is_refused_by_the_config_check(files, tmp_path):
    rc, _, stderr, _ = _train(files["data"], tmp_path / "w", "--config.data.scales=(1,2)", timeout=120)
    assert rc == 1 and not (tmp_path / "w").exists()
    one_error(stderr, "data.scales must be a non-empty list of distinct integers from 2 to 16")
    rc, _, stderr, _ = _train(files["data"], tmp_path / "w", "--config.eval.scales=(1,)", timeout=120)
    one_error(stderr, "eval.scales must be")


def test_an_image_bicubic_reproduces_exactly_is_reported_not_infinite(tmp_path):
    folder = make_tiny_folder(tmp_path / "Set")
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(folder / "flat.png")
    out = tmp_path / "r.json"
    rc, stdout, stderr, _ = replay("evaluate flat", "evaluate.py", "--model", "bicubic", "--data_dir", tmp_path,
                                   "--datasets", "Set", "--scales", "2", "--results_json", out, "--no_progress")
    assert rc == 0 and "inf" not in stdout.lower() and "Traceback" not in stderr, stderr
    assert "(1 of 4 reproduced exactly, left out)" in stdout
    notes = [line for line in stderr.splitlines() if "flat" in line]
    assert len(notes) == 1 and notes[0].startswith("note: Set/flat: x2: the") and "exactly" in notes[0]
    cell = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))["results"]["Set"]["2"]
    assert cell["images"] == 3 and cell["failed"] == 0 and cell["exact"] == ["flat"]


# --- 5. memory bombs: refused before anything is inflated -------------------------------------------------


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    return {"pt": corpus.pt_zip_bomb(root / "zip_bomb.pt"), "pkl": corpus.pt_pickle_bomb(root / "pickle_bomb.pt"),
            "mat": corpus.mat_bomb(root / "bomb.mat"), "png": corpus.png_bomb(root / "Set" / "bomb.png")}


@pytest.mark.parametrize("which,args,needle", [
    ("pt", ["--model", "edsr_baseline", "--scale", "2"], "declare 300,000,000 values, more than the model's"),
    ("pt", ["--model", "mdsr_baseline"], "declare 300,000,000 values, more than the model's"),
    ("pkl", ["--model", "edsr_baseline", "--scale", "2"], "data.pkl declares 67,108,868 bytes, over the limit"),
    ("mat", [], "inflates to more than 268,435,456 bytes"),
])
def test_weight_bombs_are_refused_before_inflating(bombs, tmp_path, which, args, needle):
    rc, _, stderr, peak = replay(f"convert {which} {' '.join(args)}", "-m", "jaxsr.convert", bombs[which],
                                 tmp_path / "o.msgpack", *args)
    assert rc == 1 and not (tmp_path / "o.msgpack").exists() and peak < GB, peak
    one_error(stderr, needle)


def test_a_zip_bomb_pt_without_a_model_is_refused_by_the_byte_cap(bombs):
    from jaxsr.weights.torch_import import read_torch_state_dict

    with pytest.raises(JaxsrError, match="tensors declare 1,200,000,000 bytes, over the limit of 1,073,741,824"):
        read_torch_state_dict(bombs["pt"])


def test_evaluate_refuses_an_image_bomb_before_decoding_as_upscale_does(bombs, files, tmp_path):
    shutil.copy(files["data"] / "img0.png", bombs["png"].parent / "img0.png")
    rc, stdout, stderr, peak = replay("evaluate png bomb", "evaluate.py", "--model", "bicubic", "--data_dir",
                                      bombs["png"].parent.parent, "--datasets", "Set", "--scales", "2", "--no_progress")
    assert rc == 1 and peak < GB and "| Set (1 of 2 failed) | x2 |" in stdout
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "bomb.png: over the limit of 50,000,000 pixels" in lines[0] and "before decoding" in lines[0]
    rc, _, stderr, peak = replay("upscale png bomb", "-m", "jaxsr.cli.upscale", "--model", "bicubic", "--scale", "2",
                                 bombs["png"], "--output_dir", tmp_path / "o", "--no_progress")
    assert rc == 1 and peak < GB
    one_error(stderr, "over the limit of 50,000,000 pixels")


# --- 6. one line where tracebacks and hangs were ---------------------------------------------------------


def test_pt_that_sets_attributes_on_its_state_dict_is_one_line(tmp_path):
    from jaxsr.weights.torch_import import read_torch_state_dict

    path = corpus.pt_attributes(tmp_path / "attributes.pt")
    rc, _, stderr, _ = replay("convert attributes.pt", "-m", "jaxsr.convert", path, tmp_path / "o.msgpack",
                              "--model", "edsr_baseline", "--scale", "2")
    assert rc == 1 and not (tmp_path / "o.msgpack").exists()
    one_error(stderr, "attributes.pt", "unexpected state for a state dict (['items'])")
    assert list(read_torch_state_dict(corpus.pt_metadata(tmp_path / "metadata.pt"))) == ["w"]  # torch's own BUILD


def test_disk_full_during_training_is_one_line(files, tmp_path):
    """A real full disk (a 400 KB tmpfs; needs root) while checkpoints are written."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400K", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); test_disk_full_while_saving_is_one_line covers it")
    try:
        rc, _, stderr, _ = _train(files["data"], disk / "run", "--config.model.kwargs.features=32",
                                  "--config.total_steps=400", "--config.checkpoint_every_steps=20",
                                  "--config.log_every_steps=50")
        assert rc == 1
        one_error(stderr, "No space left on device")
        assert "RuntimeError" not in stderr and "E1" not in stderr  # no orbax thread logs
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_full_disk_for_the_log_is_one_line(files, tmp_path, monkeypatch, capsys):
    import errno

    from jaxsr.cli import run_cli
    from jaxsr.train import summary
    from jaxsr.train.training import train_and_evaluate

    real = summary.MetricWriter.__init__

    def init(self, *a, **kw):
        real(self, *a, **kw)
        if self.enabled:
            class Full:
                closed = False

                def write(self, _):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

                def close(self):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._jsonl.close()
            self._jsonl = Full()

    monkeypatch.setattr(summary.MetricWriter, "__init__", init)
    assert run_cli(lambda: train_and_evaluate(tiny_config(files["data"]), str(tmp_path / "full"))) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == (
        f"error: cannot write the training log {tmp_path / 'full' / 'metrics.jsonl'}: No space left on device")


# --- 7. minor ---------------------------------------------------------------------------------------------


def test_16_bit_rgb_gets_a_note(tmp_path):
    from jaxsr.base.io import read_image

    image, note = read_image(corpus.png16_rgb(tmp_path / "rgb16.png"))
    assert image.shape == (40, 44, 3) and note == "16-bit RGB converted to 8-bit"


def test_evaluate_counts_failures_as_its_table_does(tmp_path):
    folder = make_tiny_folder(tmp_path / "Set", count=4)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    noise = np.random.default_rng(0).integers(0, 255, (17, 17), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "small.png")  # too small at x4 only
    rc, stdout, stderr, _ = replay("evaluate counts", "evaluate.py", "--model", "bicubic", "--data_dir", tmp_path,
                                   "--datasets", "Set", "--scales", "2,4", "--no_progress")
    assert rc == 1 and "| Set (1 of 6 failed) | x2 |" in stdout and "| Set (2 of 6 failed) | x4 |" in stdout
    last = [line for line in stderr.splitlines() if line.startswith("error:")][-1]
    assert last == "error: images could not be scored (Set x2: 1 of 6, Set x4: 2 of 6; listed above); the table " \
                   "scores the others"


def test_a_dangling_symlink_is_an_error_not_a_silent_skip(files, tmp_path):
    folder = tmp_path / "Set"
    shutil.copytree(files["data"], folder)
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    rc, _, stderr, _ = replay("upscale symlink", "-m", "jaxsr.cli.upscale", "--model", "bicubic", "--scale", "2", folder,
                              "--output_dir", tmp_path / "o", "--no_progress")
    assert rc == 1 and len(list((tmp_path / "o").glob("*.png"))) == 3
    one_error(stderr, "gone.png: broken symbolic link")
    rc, stdout, stderr, _ = replay("evaluate symlink", "evaluate.py", "--model", "bicubic", "--data_dir", tmp_path,
                                   "--datasets", "Set", "--scales", "2", "--no_progress")
    assert rc == 1 and "(1 of 4 failed)" in stdout and "gone.png: broken symbolic link" in stderr


@pytest.mark.parametrize("args,needle", [
    (["--scale", "2.5"], "argument --scale: invalid int value: '2.5'"),
    (["--scale", "1"], "--scale must be an integer >= 2, got 1"),
    (["--tile", "x"], "argument --tile: invalid int value: 'x'"),
    (None, "the following arguments are required: inputs"),
])
def test_upscale_usage_errors_are_one_line(tmp_path, args, needle):
    inputs = [tmp_path, "--output_dir", tmp_path / "o", *args] if args is not None else ["--scale", "2"]
    rc, stdout, stderr, _ = replay("upscale usage", "-m", "jaxsr.cli.upscale", *inputs)
    assert rc == 2 and stdout == "" and "usage:" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    one_error(stderr, needle)
