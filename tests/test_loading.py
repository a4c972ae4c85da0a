"""One meaning of ``--weights RUN_FOLDER`` everywhere: ``jaxsr.load``, ``evaluate.py`` and ``jaxsr-upscale``."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxsr
from conftest import REPO, make_tiny_folder, tiny_config
from jaxsr.base.errors import JaxsrError
from jaxsr.weights.loading import upscaler_factory
from jaxsr.train.training import train_and_evaluate
from jaxsr.cli.upscale import main as upscale_main

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = make_tiny_folder(tmp_path_factory.mktemp("data") / "Tiny")
    work = tmp_path_factory.mktemp("runs") / "my_run"
    train_and_evaluate(tiny_config(folder, total_steps=3, checkpoint_every_steps=3), str(work))
    return folder, work


def test_weights_run_folder_equals_workdir(run):
    folder, work = run
    image = np.random.default_rng(0).random((20, 18)).astype(np.float32)
    by_weights, label = upscaler_factory("vdsr", weights=str(work))
    by_workdir, _ = upscaler_factory("vdsr", workdir=str(work))
    assert label == "VDSR"
    np.testing.assert_array_equal(by_weights(2).upscale(image), by_workdir(2).upscale(image))
    model, params = jaxsr.load("vdsr", weights=str(work))
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, by_weights(3).params)
    with pytest.raises(JaxsrError, match="the run trained 'vdsr', not 'srcnn'"):
        upscaler_factory("srcnn", weights=str(work))


def test_evaluate_and_upscale_take_a_run_folder_as_weights(run, tmp_path):
    folder, work = run
    out = tmp_path / "res.json"
    r = subprocess.run([sys.executable, "evaluate.py", "--model=vdsr", f"--weights={work}",
                        f"--data_dir={folder.parent}", "--datasets=Tiny", "--scales=2", f"--results_json={out}",
                        "--no_progress"], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    want = json.loads((work / "metrics.jsonl").read_text().splitlines()[-1])["val/Tiny/x2/psnr"]
    assert json.loads(out.read_text())["results"]["Tiny"]["2"]["psnr"] == pytest.approx(want, abs=1e-9)
    assert upscale_main([str(folder / "img0.png"), "--output_dir", str(tmp_path / "up"), "--scale", "2",
                         "--weights", str(work), "--no_progress"]) == 0
    assert (tmp_path / "up" / "img0_x2.png").is_file()


def test_shipped_weights_are_the_default_everywhere(tmp_path):
    """No weights = the zoo's default for the model (VDSR: vdsr_official), in jaxsr.load, upscaler_factory
    (evaluate.py, jaxsr.research.paper) and jaxsr-upscale alike; the results metadata names the file and its digest."""
    from jaxsr.weights import zoo
    from jaxsr.weights.provenance import results_metadata
    from jaxsr.weights.params import read_params

    path = zoo.PRETRAINED / "vdsr_official.msgpack"
    want = read_params(path)[0]
    _, loaded = jaxsr.load("vdsr")
    factory, _ = upscaler_factory("vdsr")
    for got in (loaded, factory(2).params):
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    (record,) = results_metadata("vdsr", "VDSR", None, None, [2, 3])["weights"]
    assert record["zoo"] == "vdsr_official" and record["path"] == str(path)
    assert record["sha256"] == zoo.get("vdsr_official").files[0].sha256
    srcnn = results_metadata("srcnn", "SRCNN", "srcnn_955_imagenet", None, [2, 4])["weights"]
    assert [r["name"] for r in srcnn] == ["srcnn_955_imagenet_x2.msgpack", "srcnn_955_imagenet_x4.msgpack"]
    with pytest.raises(JaxsrError, match="model 'edsr_baseline' needs --weights: none ship with jaxsr"):
        upscaler_factory("edsr_baseline")[0](2)


def test_a_scale_pattern_reads_each_file_once_and_builds_each_scale(tmp_path, monkeypatch):
    import jaxsr.weights.loading as loading
    from jaxsr import models
    from jaxsr.weights.params import init_params, save_params

    for s in (2, 3):
        save_params(tmp_path / f"e_x{s}.msgpack",
                    init_params(models.build("edsr_baseline", s, num_blocks=1, features=4), seed=s))
    reads, real = [], loading.read_weights
    monkeypatch.setattr(loading, "read_weights", lambda path, model=None: reads.append(str(path)) or real(path, model))
    source = loading.ParamsSource("edsr_baseline", str(tmp_path / "e_x{scale}.msgpack"), num_blocks=1, features=4)
    for s in (2, 3, 2):
        model, params = source.at(s)
        assert model.scale == s and params["upsampler"]["Conv_0"]["kernel"].shape[-1] == 4 * s * s
    assert source.upscaler(3).factor == 3
    assert reads == [str(tmp_path / "e_x2.msgpack"), str(tmp_path / "e_x3.msgpack")]
    with pytest.raises(JaxsrError, match="built for one scale: pass scale="):
        source.at()
    with pytest.raises(JaxsrError, match="does not fit EDSR"):
        loading.ParamsSource("edsr_baseline", str(tmp_path / "e_x2.msgpack"), num_blocks=1, features=4).at(3)
