"""Plug-ins: a model, a metric and a loss defined outside the package, named with --import (or the config's
imports), are trained, evaluated, upscaled and swept with no edit to jaxsr/; bad plug-ins are one error line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, make_tiny_folder, tiny_config, tiny_flags
from jaxsr.base.errors import JaxsrError

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}

PLUGIN = '''
"""A plug-in of my own: a model, a metric and a loss, registered by decorator."""
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxsr.train.losses import register_loss
from jaxsr.eval.metrics import register_metric
from jaxsr.models import register


@register("plugin_sr")
class PluginSR(nn.Module):
    depth: int = 2
    features: int = 4
    residual: bool = True
    channels: int = 1
    upsampling: ClassVar[str] = "pre"
    scale_mode: ClassVar[str] = "any"
    scale_params: ClassVar[tuple] = ()

    def receptive_radius(self) -> int:
        return self.depth

    @nn.compact
    def __call__(self, x):
        h = x
        for _ in range(self.depth - 1):
            h = nn.relu(nn.Conv(self.features, (3, 3), padding="SAME")(h))
        out = nn.Conv(self.channels, (3, 3), padding="SAME")(h)
        return x + out if self.residual else out


@register_metric("mae", space="rgb", label="MAE")
def mae(sr, hr, scale):
    return float(np.abs(sr - hr).mean())


@register_loss("charbonnier")
def charbonnier(prediction, target):
    return jnp.mean(jnp.sqrt((prediction - target) ** 2 + 1e-6))
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """(folder holding my_plugin.py, its path, a tiny image folder)."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "my_plugin.py").write_text(PLUGIN)
    return root, root / "my_plugin.py", make_tiny_folder(root / "data" / "Tiny")


@pytest.fixture(scope="module")
def trained(plugin):
    """train.py --import my_plugin.py: the plug-in model with the plug-in loss, validated with the plug-in
    metric; returns the run folder."""
    root, path, folder = plugin
    work = root / "run"
    r = subprocess.run([sys.executable, "train.py", *tiny_flags(folder), f"--import={path}",
                        "--config.model.name=plugin_sr", "--config.loss=charbonnier", "--config.eval.metrics=psnr,mae",
                        "--config.total_steps=3", f"--workdir={work}"],
                       cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "MAE" in r.stdout and "| Tiny | x2 |" in r.stdout
    return work


def test_trained_with_plugin_model_loss_and_metric(trained, plugin):
    stored = json.loads((trained / "config.json").read_text())
    assert stored["imports"] == str(plugin[1]) and stored["model"]["name"] == "plugin_sr"
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(rows[-1]["val/Tiny/x2/mae"]) and "train/loss" in rows[0]


def test_evaluate_a_plugin_run_and_a_plugin_metric(trained, plugin, tmp_path):
    root, _, folder = plugin
    out = tmp_path / "eval.json"
    r = subprocess.run([sys.executable, "evaluate.py", f"--workdir={trained}", "--no_progress",
                        f"--results_json={out}"], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]  # the run's own imports: no --import needed
    assert set(json.loads(out.read_text())["results"]["Tiny"]["2"]) >= {"psnr", "mae", "bicubic_mae"}
    # a dotted module name on the path, the run as --weights of the plug-in model
    r = subprocess.run([sys.executable, str(REPO / "evaluate.py"), "--import=my_plugin", "--model=plugin_sr",
                        f"--weights={trained}", f"--data_dir={folder.parent}", "--datasets=Tiny", "--scales=2",
                        "--metrics=psnr,mae", "--no_progress"], cwd=root, env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "MAE" in r.stdout and "| Tiny | x2 |" in r.stdout


def test_upscale_with_a_plugin_model(trained, plugin, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(photo)
    r = subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", "--import", str(plugin[1]), "--model", "plugin_sr",
                        "--weights", str(trained), "--scale", "2", str(photo), "--output_dir", str(tmp_path / "out"),
                        "--no_progress"], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    with Image.open(tmp_path / "out" / "photo_x2.png") as im:
        assert im.size == (48, 40)


def test_experiments_sweep_a_plugin_model_and_loss(plugin, tmp_path):
    root, path, _ = plugin
    data = tmp_path / "data"
    make_tiny_folder(data / "train" / "tiny")
    make_tiny_folder(data / "test" / "Set5", count=2, seed=1)
    r = subprocess.run([sys.executable, "-m", "jaxsr.experiments", "residual", f"--workdir={tmp_path / 'w'}",
                        f"--data.folders={data / 'train' / 'tiny'}", "--import", str(path),
                        "--model.name=plugin_sr", "--loss=charbonnier", "--model.kwargs.depth=3",
                        "--model.kwargs.features=4", "--batch_size=4", "--data.patch_size=12", "--steps", "2",
                        "--learning_rates=(0.01,)"], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / "w" / "residual.json").read_text())
    assert doc["complete"] and doc["config"]["model"]["name"] == "plugin_sr"


def test_bad_plugins_are_one_error_line(plugin, tmp_path):
    from jaxsr.train.config_check import check_fields

    root, _, folder = plugin
    with pytest.raises(JaxsrError, match=r"^imports: no_such_plugin_module: cannot import it \(ModuleNotFoundError"):
        check_fields(tiny_config(folder, imports="no_such_plugin_module"))
    (tmp_path / "broken.py").write_text("from jaxsr.models import register\n@register('x')\nclass X: pass\n")
    for module, needle in (("no_such_plugin_module", "cannot import it (ModuleNotFoundError"),
                           (tmp_path / "broken.py", "does not declare the model contract"),
                           (tmp_path / "missing.py", "no such file")):
        r = subprocess.run([sys.executable, "evaluate.py", f"--import={module}", "--model=bicubic", f"--data_dir={folder.parent}",
                            "--datasets=Tiny", "--scales=2", "--no_progress"], cwd=REPO, env=ENV,
                           capture_output=True, text=True, timeout=300)
        errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        assert r.returncode == 1 and len(errors) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert errors[0].startswith(f"error: --import {module}: ") and needle in errors[0], errors
