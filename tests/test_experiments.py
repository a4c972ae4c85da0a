"""The paper's experiments end to end on CPU: tiny nets, a few steps, a few tiny images."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import make_tiny_folder
from jaxsr.weights.checkpoint import DIGEST
from jaxsr.research.experiments.config import TRAIN_SETS
from jaxsr.cli.experiments import main
from jaxsr.research.experiments.report import paper_numbers

TINY = ["--model.kwargs.depth=3", "--model.kwargs.features=8", "--batch_size=4", "--data.patch_size=12",
        "--log_every_steps=2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    make_tiny_folder(root / "train" / "tiny", count=3)
    make_tiny_folder(root / "test" / "Set5", count=2, seed=1)  # found beside the training folder
    return root


def _run(data, workdir, name, *extra):
    return main([name, f"--workdir={workdir}", f"--data.folders={data / 'train' / 'tiny'}", *TINY, *extra])


def _outputs(workdir, name):
    doc = json.loads((workdir / f"{name}.json").read_text())
    md = (workdir / f"{name}.md").read_text()
    png = (workdir / f"{name}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(workdir / f"{name}.png") as im:
        im.load()
        assert im.size[0] > 300 and im.size[1] > 200
        assert np.asarray(im).std() > 0  # not a blank canvas
    return doc, md


def _values(table):
    return [v for r in table["rows"] for v in r["jaxsr"]]


def test_depth(data, tmp_path):
    assert _run(data, tmp_path, "depth", "--steps", "3", "--depths=(2,3)") == 0
    doc, md = _outputs(tmp_path, "depth")
    (table,) = doc["tables"]
    assert [r["label"] for r in table["rows"]] == ["2 layers", "3 layers"] and table["columns"] == ["x2", "x3", "x4"]
    assert all(isinstance(v, float) and 3 < v < 60 for v in _values(table))
    assert doc["complete"] and "| 3 layers |" in md


def test_residual_resumes_and_stops_on_time(data, tmp_path):
    assert _run(data, tmp_path, "residual", "--steps", "4", "--max_seconds", "1e-9") == 0
    doc, md = _outputs(tmp_path, "residual")
    assert not doc["complete"] and "partial" in md and doc["groups"]["depth3"]["step"] == 1
    (table,) = doc["tables"]
    assert table["columns"][-1] == "last (epoch 0.04)"  # one step made and evaluated: what was reached
    assert all(r["jaxsr"][:4] == [None] * 4 and r["jaxsr"][4] is not None for r in table["rows"])
    assert _run(data, tmp_path, "residual", "--steps", "4", "--eval.epochs=(0.08,)") == 0  # continues
    doc, md = _outputs(tmp_path, "residual")
    (table,) = doc["tables"]
    assert doc["complete"] and doc["total_steps"] == 4
    assert len(table["rows"]) == 9 and len(table["columns"]) == 5  # 3 lr × (res, non-res, diff); 4 epochs + last
    record = doc["groups"]["depth3"]
    assert [e["step"] for e in record["evals"]] == [1, 2, 4] and record["step"] == 4
    printed = paper_numbers()["residual"]["rows"]["residual"]["0.1"]
    assert table["rows"][0]["paper"][:4] == printed and table["rows"][0]["jaxsr"][4] > 3
    diff = table["rows"][2]
    assert diff["jaxsr"][4] == pytest.approx(table["rows"][0]["jaxsr"][4] - table["rows"][1]["jaxsr"][4], abs=1e-3)


def test_scales(data, tmp_path):
    assert _run(data, tmp_path, "scales", "--steps", "2", "--eval", "Set5", "--sweep_mode=vmap") == 0
    doc, md = _outputs(tmp_path, "scales")
    (table,) = doc["tables"]
    assert len(table["rows"]) == len(TRAIN_SETS) and table["columns"] == ["test x2", "test x3", "test x4"]
    assert table["rows"][-1]["label"] == "{2,3,4}" and table["rows"][-1]["paper"] == [37.06, 33.27, 31.14]
    assert all(isinstance(v, float) for v in _values(table))


def test_bad_settings_are_one_line_errors(data, tmp_path, capsys):
    assert _run(data, tmp_path, "depth", "--no.such=1") == 1
    assert _run(data, tmp_path, "depth", "--batch_size=abc") == 1
    assert _run(data, tmp_path, "depth", "--loss=l3") == 1  # the training schema's enums and ranges apply
    assert _run(data, tmp_path, "depth", "--optim.momentum=1.5") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: unknown setting --no.such") and err[1].startswith("error: --batch_size")
    assert err[2].startswith("error: --loss must be one of 'l2', 'l1'") and len(err) == 4
    assert err[3] == "error: --optim.momentum must be in [0, 1), got 1.5"


def test_four_fake_devices_give_the_one_device_table(data, tmp_path):
    """The CLI on a 4-device mesh (batch split over ``data``) scores like 1 device (vmap mode)."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    args = ["scales", f"--data.folders={data / 'train' / 'tiny'}", *TINY, "--steps", "3", "--train_sets=2,3+4",
            "--sweep_mode=vmap"]
    assert main([*args, f"--workdir={tmp_path / 'one'}"]) == 0
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    proc = subprocess.run([sys.executable, "-m", "jaxsr.experiments", *args, f"--workdir={tmp_path / 'four'}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    one, four = (json.loads((tmp_path / d / "scales.json").read_text())["tables"][0]["rows"] for d in ("one", "four"))
    np.testing.assert_allclose([r["jaxsr"] for r in four], [r["jaxsr"] for r in one], atol=1e-3)


def test_diverged_variants_are_results_and_resume_is_from_the_newest_verified_checkpoint(data, tmp_path, capfd):
    """lr 1e9 without clipping diverges at step 2: recorded, scored None, stored zeroed, while the good
    variants keep verified checkpoints; a checkpoint without its digest is skipped on resume."""
    args = ["--learning_rates=(0.01,1e9)", "--optim.clip_theta=0.0", "--checkpoint_every_steps=1",
            "--eval.epochs=()"]
    assert _run(data, tmp_path, "residual", "--steps", "3", *args) == 0
    ckpts = tmp_path / "residual" / "depth3" / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["2", "3"] and all((p / DIGEST).is_file() for p in ckpts.iterdir())
    record = json.loads((tmp_path / "residual" / "depth3" / "record.json").read_text())
    assert record["diverged"] == {"residual lr 1e+09": 2, "non-residual lr 1e+09": 2}
    (final,) = record["evals"]
    assert {k: v is None for k, v in final["results"].items()} == {
        "residual lr 0.01": False, "non-residual lr 0.01": False, "residual lr 1e+09": True,
        "non-residual lr 1e+09": True}
    (ckpts / "3" / DIGEST).unlink()  # as if the run had died before step 3 was known to be good
    capfd.readouterr()
    assert _run(data, tmp_path, "residual", "--steps", "4", *args) == 0
    out, err = capfd.readouterr()
    assert "skipped checkpoint" in err and "checkpoints/3: not verified" in err and "resumed at step 2" in out
    record = json.loads((tmp_path / "residual" / "depth3" / "record.json").read_text())
    assert record["step"] == 4 and record["diverged"] == {"residual lr 1e+09": 2, "non-residual lr 1e+09": 2}
    assert [r is None for r in record["evals"][-1]["results"].values()] == [False, False, True, True]
    assert (ckpts / "4" / DIGEST).is_file()
