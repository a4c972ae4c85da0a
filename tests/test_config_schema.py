"""The config schema in the package (jaxsr/train/config.py) and the checks made before any data is read."""

import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO, make_tiny_folder, tiny_config
from jaxsr.train.config import FAMILIES, get_config, optimizer
from jaxsr.train.config_check import check_config, check_fields, config_changes
from jaxsr.base.errors import JaxsrError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("schema") / "Tiny")


def recipe(name):
    """configs/<name>.py loaded by path, as ml_collections' config_flags does (no sys.path change)."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", REPO / "configs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


RECIPES = sorted(p.stem for p in (REPO / "configs").glob("*.py") if p.stem != "__init__")


def test_the_recipe_list_is_every_file_in_configs():
    assert {"vdsr", "srcnn", "edsr", "mdsr", "quickstart", "vdsr_t91"} <= set(RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_passes_the_whole_check(name, folder):
    config = recipe(name)
    config.data.folders = str(folder)  # the data paths: the tiny folder in place of the recipe's own
    config.eval.data_dir, config.eval.datasets = str(folder.parent), folder.name
    if config.eval.final_datasets:
        config.eval.final_datasets = folder.name
    check_config(config)


def test_families_have_their_own_optimizer_fields():
    vdsr, edsr = get_config("vdsr"), get_config("edsr")
    assert vdsr.optim.name == "sgd" and {"momentum", "clip_theta"} <= set(vdsr.optim)
    assert edsr.optim.name == "adam" and not {"momentum", "clip_theta"} & set(edsr.optim)
    assert {"b1", "b2", "eps"} <= set(edsr.optim) and not {"b1", "b2", "eps"} & set(vdsr.optim)
    assert set(FAMILIES) == {"vdsr", "edsr"} and get_config().eval.protocol == "matlab"
    with pytest.raises(ValueError, match="optim.momentum is not a field of the adam optimizer"):
        optimizer("adam", momentum=0.9)


def test_fields_are_listed_with_their_meaning():
    r = subprocess.run([sys.executable, "-m", "jaxsr.config", "edsr"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and "optim.b1 = 0.9  # Adam β1." in r.stdout and "clip_theta" not in r.stdout
    assert all(" = " in line and "  # " in line for line in r.stdout.splitlines()[1:] if line)


@pytest.mark.parametrize("field,value,needle", [
    ("batchsize", 8, "batchsize: unknown config field"),
    ("optim.clip_theta", 0.0, "optim.clip_theta: unknown config field (a field of the sgd optimizer"),
    ("batch_size", "8", "batch_size must be an integer, got '8'"),
    ("optim.learning_rate", 0.0, "optim.learning_rate must be > 0"),
    ("optim.name", "rmsprop", "optim.name must be one of 'sgd', 'adam'"),
    ("optim.schedule", "cosine", "optim.schedule must be one of 'step', 'constant'"),
    ("loss", "l3", "loss must be one of"),
    ("eval.protocol", "exact", "eval.protocol must be one of 'matlab', 'float'"),
    ("eval.scales", (), "eval.scales must be a non-empty list of distinct integers from 2 to 16"),
    ("data.scales", (2, 3, 2), "data.scales must be a non-empty list of distinct integers from 2 to 16"),
    ("model.kwargs", {"depth": 0, "features": 8, "channels": 1}, "model.kwargs.depth must be >= 1"),
    ("model.kwargs", {"deepth": 3}, "model.kwargs.deepth: vdsr has no such argument"),
    ("model.kwargs", {"depth": 3, "residual": 1}, "model.kwargs.residual must be a bool"),
])
def test_field_errors_name_the_field(folder, field, value, needle):
    config = tiny_config(folder).to_dict()
    *path, last = field.split(".")
    node = config
    for p in path:
        node = node[p]
    node[last] = value
    with pytest.raises(JaxsrError, match="^" + needle.replace("(", r"\(").replace(")", r"\)")):
        check_fields(__import__("ml_collections").ConfigDict(config))


@pytest.mark.parametrize("overrides,needle", [
    ({"model.kwargs": {"depth": 1, "features": 8, "channels": 1}}, "model.kwargs: vdsr cannot be built"),
    ({"model.name": "mdsr_baseline", "model.kwargs": {"num_blocks": 1, "features": 8}, "data.scales": (2, 5)},
     "data.scales: mdsr_baseline cannot be built (MDSR has branches for (2, 3, 4), not x5)"),
    ({"model.name": "edsr_baseline", "model.kwargs": {"num_blocks": 1}, "data.scales": (2, 3)},
     "data.scales: edsr_baseline is built for one scale"),
    ({"model.name": "mdsr_baseline", "model.kwargs": {"num_blocks": 1, "features": 8}, "data.scales": (2,),
      "eval.scales": (6,)}, "eval.scales: mdsr_baseline cannot be built"),
    ({"eval.datasets": "Nope"}, "eval.datasets:"),
    ({"data.folders": ""}, "data.folders is empty"),
])
def test_shape_only_build_names_the_field(folder, overrides, needle):
    with pytest.raises(JaxsrError, match="^" + needle.replace("(", r"\(").replace(")", r"\)")):
        check_config(tiny_config(folder, **overrides))


def test_config_changes_ignore_harmless_fields(folder):
    stored = tiny_config(folder, **{"optim.decay_every_steps": 100, "steps_per_epoch": 7})
    rerun = tiny_config(folder, total_steps=99, log_every_steps=7, **{"eval.every_steps": 1, "steps_per_epoch": -1})
    assert config_changes(rerun, stored) == []
    changed = tiny_config(folder, **{"model.kwargs": {"depth": 4, "features": 8, "residual": True, "channels": 1},
                                     "optim.learning_rate": 0.5})
    assert config_changes(changed, stored) == ["model.kwargs.depth (3 → 4)", "optim.learning_rate (0.001 → 0.5)"]


def test_a_recipe_family_is_not_tied_to_its_model(folder):
    from jaxsr.train.config import FAMILIES, register_family

    config = get_config("edsr", model="vdsr")  # EDSR's recipe (L1, Adam) on VDSR at its own defaults
    assert (config.model.name, dict(config.model.kwargs), config.loss, config.optim.name) == ("vdsr", {}, "l1", "adam")
    config.data.folders, config.data.scales, config.data.patch_size = str(folder), (2,), 12
    config.eval.data_dir, config.eval.datasets = str(folder.parent), folder.name
    check_config(config)
    try:
        register_family("mine", {"model.name": "srcnn", "model.kwargs": {}, "optim.b1": 0.5}, base="edsr")
        mine = get_config("mine")
        assert (mine.model.name, mine.loss, mine.optim.b1, mine.batch_size) == ("srcnn", "l1", 0.5, 16)
        with pytest.raises(ValueError, match="no field optim.bogus"):
            register_family("bad", {"optim.bogus": 1})
    finally:
        FAMILIES.pop("mine", None)


def test_stored_configs_predating_a_field_or_naming_defaults_are_no_change(folder):
    stored = tiny_config(folder).to_dict()
    del stored["imports"], stored["init_from"]  # fields a run written before them lacks
    assert config_changes(tiny_config(folder), stored) == []
    explicit = tiny_config(folder, **{"model.kwargs": {"depth": 20, "features": 64, "residual": True, "channels": 1}})
    assert config_changes(tiny_config(folder, **{"model.kwargs": {}}), explicit) == []  # VDSR's own defaults
    assert config_changes(tiny_config(folder, **{"model.kwargs": {"depth": 5}}), explicit) == \
        ["model.kwargs.depth (20 → 5)"]


def test_losses_are_a_registry(folder):
    import jax.numpy as jnp

    from jaxsr.train.losses import _REGISTRY, loss_fn, register_loss

    @register_loss("half_l1")
    def half_l1(prediction, target):
        return 0.5 * jnp.mean(jnp.abs(prediction - target))

    try:
        check_config(tiny_config(folder, loss="half_l1"))
        assert float(loss_fn("half_l1", jnp.ones((1, 2, 2, 1)), jnp.zeros((1, 2, 2, 1)))) == 0.5
    finally:
        _REGISTRY.pop("half_l1")
    with pytest.raises(JaxsrError, match="^loss must be one of 'l2', 'l1', got 'half_l1'"):
        check_fields(tiny_config(folder, loss="half_l1"))
