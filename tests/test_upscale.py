"""Super-resolving your own images: tiled == untiled, the Python API, and the CLI on bad inputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.errors import JaxsrError
from jaxsr.inference import Upscaler, super_resolve
from jaxsr.io import write_image
from jaxsr.loading import load
from jaxsr.upscale import main as upscale_main
from jaxsr.weights import init_params, save_params


@pytest.mark.parametrize("name,kwargs", [("vdsr", {"depth": 5, "features": 8}), ("srcnn_955", {}),
                                         ("edsr_baseline", {"scale": 3, "num_blocks": 2, "features": 8}),
                                         ("mdsr_baseline", {"num_blocks": 1, "features": 8})])
@pytest.mark.parametrize("shape", [(37, 53, 3), (23, 61), (9, 70, 3)])
def test_tiled_equals_untiled(name, kwargs, shape):
    model = models.get(name, **kwargs)
    params = init_params(model, seed=3)
    image = np.random.default_rng(1).random(shape)
    whole = super_resolve(image, model, params, 3, tile=0)
    assert whole.shape == (shape[0] * 3, shape[1] * 3, *shape[2:])
    for tile in (4, 7, 16, 50):
        np.testing.assert_allclose(super_resolve(image, model, params, 3, tile=tile, tile_batch=3), whole,
                                   atol=1e-5)


def test_tiled_self_ensemble_and_uint8_round_trip():
    model = models.get("vdsr", depth=3, features=4)
    params = init_params(model, seed=1)
    image = (np.random.default_rng(0).random((21, 30, 3)) * 255).astype(np.uint8)
    out = super_resolve(image, model, params, 2, tile=6, self_ensemble=True)
    assert out.dtype == np.uint8 and out.shape == (42, 60, 3)
    np.testing.assert_array_equal(out, super_resolve(image, model, params, 2, tile=0, self_ensemble=True))
    flt = super_resolve(image / 255.0, model, params, 2, tile=0)
    assert flt.dtype == np.float32 and 0 <= flt.min() and flt.max() <= 1
    with pytest.raises(TypeError):
        super_resolve(image.astype(np.int32), model, params, 2)


def test_load_model_and_params(tmp_path):
    model = models.VDSR(depth=3, features=4)
    save_params(tmp_path / "w.msgpack", init_params(model))
    m, p = load("vdsr", weights=tmp_path / "w.msgpack", depth=3, features=4)
    assert m == model and set(p) == {"conv_0", "conv_1", "conv_2"}
    assert load("bicubic") == (models.get("bicubic"), {})
    with pytest.raises(JaxsrError, match="no weights for 'vdsr' are shipped"):
        load("vdsr")
    with pytest.raises(JaxsrError, match="pass scale="):
        load("edsr_baseline", weights=tmp_path / "w.msgpack")


@pytest.fixture
def corpus(tmp_path):
    """Good and bad inputs, made here (no binaries shipped)."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rgb = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(d / "rgb.png")
    Image.fromarray(rgb).save(d / "sub" / "photo.jpg", quality=90)
    Image.fromarray(rgb[..., 0]).save(d / "gray.png")
    Image.fromarray(np.concatenate([rgb, rgb[..., :1]], -1), "RGBA").save(d / "rgba.png")
    Image.fromarray(rgb).convert("P").save(d / "palette.png")
    Image.fromarray((rng.random((9, 7)) * 65535).astype(np.uint16)).save(d / "deep16.png")
    Image.fromarray(rgb[:1, :1]).save(d / "one.png")
    Image.fromarray(rgb[:3, :2]).save(d / "tiny.bmp")
    Image.fromarray((rng.random((60, 60, 3)) * 255).astype(np.uint8)).save(d / "bomb.png")  # over --max_pixels
    (d / "zero.png").write_bytes(b"")
    (d / "text.png").write_text("not an image at all")
    full = (d / "rgb.png").read_bytes()
    (d / "truncated.png").write_bytes(full[: len(full) // 2])
    jpg = (d / "sub" / "photo.jpg").read_bytes()
    (d / "sub" / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    (tmp_path / "notes.txt").write_text("hello")
    return tmp_path


GOOD = {"rgb": (40, 48, 3), "sub/photo": (40, 48, 3), "gray": (40, 48), "rgba": (40, 48, 3),
        "palette": (40, 48, 3), "deep16": (18, 14), "one": (2, 2, 3), "tiny": (6, 4, 3)}
BAD = {"zero.png": "empty file", "text.png": "not a readable image", "truncated.png": "cannot decode",
       "sub/truncated.jpg": "cannot decode", "bomb.png": "over the limit of 2,000"}


def test_cli_processes_good_files_and_names_each_bad_one(corpus):
    out = corpus / "out"
    args = [str(corpus / "in"), str(corpus / "notes.txt"), str(corpus / "missing.png"), "--output_dir", str(out),
            "--model", "bicubic", "--scale", "2", "--max_pixels", "2000", "--tile", "8", "--no_progress"]
    r = subprocess.run([sys.executable, "-m", "jaxsr.upscale", *args], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    for name, reason in BAD.items():
        assert any(str(corpus / "in" / name) in l and reason in l for l in errors), (name, errors)
    assert any("notes.txt: unsupported format '.txt'" in l for l in errors)
    assert any("missing.png: no such file or folder" in l for l in errors)
    assert len(errors) == len(BAD) + 2
    notes = "\n".join(l for l in r.stderr.splitlines() if l.startswith("note: "))
    assert "rgba.png: alpha channel dropped" in notes and "palette.png: palette image converted" in notes
    assert "deep16.png: 16-bit" in notes
    for stem, shape in GOOD.items():
        assert np.asarray(Image.open(out / f"{stem}_x2.png")).shape == shape, stem
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted(f"{s}_x2.png" for s in GOOD)  # nothing else: no partial or temp files
    again = subprocess.run([sys.executable, "-m", "jaxsr.upscale", str(corpus / "in" / "rgb.png"), "--output_dir",
                            str(out), "--model", "bicubic", "--scale", "2", "--no_progress"], cwd=REPO,
                           capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert again.returncode == 1 and "exists (use --overwrite)" in again.stderr


def test_cli_usage_and_output_folder_errors(corpus, capsys):
    with pytest.raises(SystemExit) as e:
        upscale_main([str(corpus / "in" / "rgb.png"), "--output_dir", str(corpus / "o")])  # no --scale
    assert e.value.code == 2
    blocker = corpus / "a_file"
    blocker.write_text("x")
    assert upscale_main([str(corpus / "in" / "rgb.png"), "--output_dir", str(blocker / "out"), "--model",
                         "bicubic", "--scale", "2", "--no_progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: {blocker / 'out'}: cannot write there")
    assert upscale_main([str(corpus / "in" / "gray.png"), "--output_dir", str(corpus / "o"), "--model", "bicubic",
                         "--scale", "3", "--format", "jpg", "--no_progress"]) == 0
    assert Image.open(corpus / "o" / "gray_x3.jpg").size == (72, 60)


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3)))
    assert list(tmp_path.iterdir()) == []


def test_upscaler_rejects_wrong_scale():
    with pytest.raises(ValueError, match="built for x2"):
        Upscaler(models.get("edsr_baseline", scale=2, num_blocks=1, features=4), {}, 3)
