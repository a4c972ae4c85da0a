"""The model zoo: its catalogue against the shipped files, NOTICE and package data; names resolved by the
loaders; the listing and the re-measuring command; and, with ../shared, the shipped weights against the
authors' files (same params, same conversion, same stored Set5 figures)."""

import configparser
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

import jax
import numpy as np
import pytest

import jaxsr
from conftest import REPO, make_tiny_folder, shared_path
from jaxsr.weights import zoo
from jaxsr.base.errors import JaxsrError
from jaxsr.weights.params import read_params

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
SHIPPED = [e for e in zoo.entries() if e.shipped]


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_catalogue_matches_the_shipped_files_and_the_notice():
    cat = zoo.catalogue()
    assert len(set(zoo.names())) == len(zoo.names())
    notice = (REPO / "NOTICE").read_text()
    listed = set()
    for e in zoo.entries():
        assert set(e.models) <= set(jaxsr.models.names()), e.name
        assert e.urls and all(u.startswith(("https://", "http://")) for u in e.urls), e.name
        scales = [s for f in e.files for s in f.scales]
        assert len(scales) == len(set(scales)), f"{e.name}: two files for one scale"
        for f in e.files:
            if not e.shipped:
                assert f.url or e.urls, e.name
                continue
            path = zoo.PRETRAINED / f.name
            listed.add(f.name)
            assert (path.stat().st_size, _sha256(path)) == (f.bytes, f.sha256), \
                f"{f.name}: zoo.json should say bytes={path.stat().st_size}, sha256={_sha256(path)}"
            assert f.source["name"] and len(f.source["sha256"]) == 64
            assert f.name in notice and f.source["sha256"] in notice, f"NOTICE does not name {f.name} and its source"
    on_disk = {p.name for p in zoo.PRETRAINED.iterdir() if p.suffix == ".msgpack"}
    assert on_disk == listed, "every shipped weights file is a zoo entry's file, and the other way round"
    for model, name in cat["defaults"].items():
        entry = zoo.get(name)
        assert entry.shipped and model in entry.models


def test_each_default_is_the_best_shipped_entry_and_its_table_is_complete():
    cat = zoo.catalogue()
    for e in SHIPPED:  # every shipped entry is measured on every dataset at each of its scales
        for d in cat["datasets"]:
            for s in e.scales:
                cell = e.scores[d][str(s)]
                assert 20 < cell["psnr"] < 50 and 0.5 < cell["ssim"] < 1, (e.name, d, s)
    for model, name in cat["defaults"].items():
        rivals = [e for e in SHIPPED if model in e.models]
        cells = [(d, str(s)) for d in cat["datasets"] for s in cat["scales"]
                 if all(str(s) in e.scores.get(d, {}) for e in rivals)]
        mean = {e.name: np.mean([e.scores[d][s]["psnr"] for d, s in cells]) for e in rivals}
        assert max(mean, key=mean.get) == name, f"the default for {model!r} should be the best shipped: {mean}"


def test_package_data_carries_every_shipped_file():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    globs = [g.strip() for g in cfg["options.package_data"]["jaxsr"].split(",")]
    needed = [f"pretrained/{f.name}" for e in SHIPPED for f in e.files] + ["pretrained/zoo.json"]
    for rel in needed:
        assert any(fnmatch.fnmatch(rel, g) for g in globs), f"setup.cfg package_data misses jaxsr/{rel}"
    assert "NOTICE" in cfg["metadata"]["license_files"]


def test_the_wheel_holds_the_weights(tmp_path):
    """A wheel built from the sources holds every shipped file, the zoo, the NOTICE, the recipes (as
    jaxsr/configs/) and the jaxsr command."""
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path / "src"  # a copy: building in the checkout would leave build/ and *.egg-info there
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "NOTICE"):
        shutil.copy(REPO / name, src / name)
    for folder in ("jaxsr", "configs"):  # configs/: the recipes, installed as jaxsr.configs
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-q", "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("jaxsr-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for e in SHIPPED:
        for f in e.files:
            info = zipfile.ZipFile(wheel).getinfo(f"jaxsr/pretrained/{f.name}")
            assert info.file_size == f.bytes
    assert "jaxsr/pretrained/zoo.json" in names and "jaxsr/cli/zoo.py" in names
    assert "jaxsr/research/paper_tables.json" in names and "jaxsr/research/experiments/paper.json" in names
    assert any(n.endswith(".dist-info/NOTICE") or n.endswith("licenses/NOTICE") for n in names), names[-8:]
    recipes = sorted(p.name for p in (REPO / "configs").glob("*.py"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("jaxsr/configs/")) == recipes
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "jaxsr = jaxsr.cli.main:main" in scripts and "jaxsr-upscale = jaxsr.cli.upscale:main" in scripts


def test_names_resolve_to_shipped_weights_and_say_where_others_come_from(tmp_path, monkeypatch):
    _, params = jaxsr.load("vdsr")
    _, by_name = jaxsr.load("vdsr", weights="vdsr_official")
    file_params = read_params(zoo.PRETRAINED / "vdsr_official.msgpack")[0]
    for got in (params, by_name):
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, file_params)
    model, params = jaxsr.load("srcnn", scale=3)
    assert (model.filters, model.border) == ((9, 5, 5), "replicate")
    jax.tree_util.tree_map(np.testing.assert_array_equal, params,
                           read_params(zoo.PRETRAINED / "srcnn_955_imagenet_x3.msgpack")[0])
    assert jaxsr.load("srcnn_955", scale=4)[0] == model
    with pytest.raises(JaxsrError, match="not shipped with jaxsr: get VDSR_Adam.mat from https://github.com/"):
        jaxsr.load("vdsr", weights="vdsr_caffe_adam")
    with pytest.raises(JaxsrError, match="holds a srcnn/srcnn_955 model, not 'vdsr'"):
        jaxsr.load("vdsr", weights="srcnn_955_imagenet")
    with pytest.raises(JaxsrError, match="nope: no such file, and no zoo entry of that name; the zoo has vdsr_"):
        jaxsr.load("vdsr", weights="nope")
    with pytest.raises(JaxsrError, match="for x2, x3, x4 only, not x5"):
        jaxsr.load("srcnn", scale=5)
    with pytest.raises(JaxsrError, match="no weights for 'edsr_baseline' ship with jaxsr: pass weights="):
        jaxsr.load("edsr_baseline", scale=2)
    from jaxsr.weights.provenance import scale_note, trained_scales

    assert trained_scales("vdsr", "vdsr_official") == trained_scales("vdsr", None) == (2, 3, 4)
    assert trained_scales("srcnn", None) is None and scale_note("srcnn", "srcnn_955_imagenet", [2, 3, 4]) is None
    assert scale_note("vdsr", None, [2, 8]).startswith("vdsr was trained for x2, x3, x4; x8 is outside")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vdsr_official").write_text("mine")  # an existing path wins over a zoo name
    with pytest.raises(JaxsrError, match="vdsr_official: unknown weights format"):
        jaxsr.load("vdsr", weights="vdsr_official")


def test_listing_and_json(capsys):
    from jaxsr.cli.zoo import main

    assert main([]) == 0
    text = capsys.readouterr().out
    for e in zoo.entries():
        assert e.name in text and e.citation in text and all(u in text for u in e.urls)
    assert "vdsr_official  [vdsr; x2, x3, x4]  default for vdsr" in text
    assert "| vdsr_official | Set5 | 37.53 / 0.9587 | 33.66 / 0.9213 | 31.34 / 0.8838 |" in text
    assert main(["--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in parsed["entries"]] == zoo.names()
    assert main(["measure"]) == 2 and "measure needs --data_dir" in capsys.readouterr().err


def test_measure_finds_published_files_and_writes_scores(tmp_path):
    """measure() on a tiny stand-in for Set5 with the shipped SRCNN x2 (cheap), written into a copy of
    zoo.json; published files are found by name or by their published path."""
    from jaxsr.research.zoo_measure import measure, weights_at_hand, write_scores

    make_tiny_folder(tmp_path / "data" / "Set5", count=2)
    measured, skipped = measure(tmp_path / "data", ["srcnn_955_imagenet"], ["Set5"], [2], progress=False)
    cell = measured["srcnn_955_imagenet"]["Set5"]["2"]
    assert cell["images"] == 2 and 20 < cell["psnr"] < 60 and skipped == []
    copy = tmp_path / "zoo.json"
    shutil.copy(zoo.ZOO_FILE, copy)
    try:
        write_scores({"srcnn_955_imagenet": {"Tiny": {"2": cell}}}, copy)
    finally:
        zoo.catalogue.cache_clear()
    stored = {e["name"]: e for e in json.loads(copy.read_text())["entries"]}["srcnn_955_imagenet"]["scores"]
    assert stored["Tiny"] == {"2": {"psnr": cell["psnr"], "ssim": cell["ssim"]}} and "Set5" in stored
    weights = tmp_path / "w"
    (weights / "model" / "9-1-5(91 images)").mkdir(parents=True)
    (weights / "SRCNN_9-1-5_91images_x2.mat").write_bytes(b"")
    (weights / "model" / "9-1-5(91 images)" / "x3.mat").write_bytes(b"")
    entry = zoo.get("srcnn_915_91images")
    assert weights_at_hand(entry, weights) is None  # x4 missing
    (weights / "deeper").mkdir()
    (weights / "deeper" / "SRCNN_9-1-5_91images_x4.mat").write_bytes(b"")
    assert weights_at_hand(entry, weights) == {2: str(weights / "SRCNN_9-1-5_91images_x2.mat"),
                                               3: str(weights / "model" / "9-1-5(91 images)" / "x3.mat"),
                                               4: str(weights / "deeper" / "SRCNN_9-1-5_91images_x4.mat")}
    assert weights_at_hand(zoo.get("vdsr_official")) == {2: "vdsr_official", 3: "vdsr_official", 4: "vdsr_official"}


def test_shipped_weights_are_the_authors_files_converted(tmp_path):
    """With ../shared: each source file's digest is the recorded one, its params equal the shipped file's,
    and converting it again gives the shipped file byte for byte."""
    from jaxsr.weights.convert import convert
    from jaxsr.weights.matfiles import read_mat

    weights = shared_path("weights")
    for e in SHIPPED:
        for f in e.files:
            (source,) = list(weights.rglob(f.source["name"]))
            assert _sha256(source) == f.source["sha256"], f.name
            _, mat_params, mat_kwargs = read_mat(source)
            params, kwargs = read_params(zoo.PRETRAINED / f.name)
            assert kwargs == mat_kwargs
            jax.tree_util.tree_map(np.testing.assert_array_equal, params, mat_params)
            convert(source, tmp_path / f.name)
            assert _sha256(tmp_path / f.name) == f.sha256, f"{f.name} is not what jaxsr.weights.convert makes of {source.name}"


def test_stored_set5_figures_are_remeasured():
    """With ../shared: stored Set5 figures of the shipped entries, one scale each (VDSR x2, SRCNN x3: cheap;
    the other files hold the authors' params, checked above; ``python -m jaxsr.zoo measure`` re-measures
    every cell)."""
    from jaxsr.research.zoo_measure import differences, measure

    data = shared_path("data", "test", "Set5").parent
    rows = []
    for name, scale in (("vdsr_official", 2), ("srcnn_955_imagenet", 3)):
        rows += differences(measure(data, [name], ["Set5"], [scale], progress=False)[0])
    assert len(rows) == 2
    for r in rows:
        assert abs(r["psnr_diff"]) < 1e-3 and abs(r["ssim_diff"]) < 1e-4, r


def test_readme_quotes_the_stored_table():
    from jaxsr.cli.zoo import score_table

    cat = zoo.catalogue()
    table = score_table(SHIPPED, cat["datasets"], cat["scales"], digits=4)
    assert table in (REPO / "README.md").read_text(), f"README.md should show the zoo's table:\n{table}"
