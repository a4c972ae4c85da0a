"""Super-resolving your own images: tiled == untiled, the Python API, and the CLI on bad inputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.base.errors import JaxsrError
from jaxsr.eval.inference import Upscaler, super_resolve
from jaxsr.base.io import write_image
from jaxsr.weights.loading import load
from jaxsr.cli.upscale import main as upscale_main
from jaxsr.weights.params import init_params, save_params


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
    out = super_resolve(image, model, params, 2, tile=6, self_ensemble=True, precision="float32")
    assert out.dtype == np.uint8 and out.shape == (42, 60, 3)
    np.testing.assert_array_equal(out, super_resolve(image, model, params, 2, tile=0, self_ensemble=True,
                                                     precision="float32"))
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
    with pytest.raises(JaxsrError, match="no weights for 'edsr_baseline' ship with jaxsr"):
        load("edsr_baseline", scale=2)
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
    r = subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", *args], cwd=REPO, capture_output=True, text=True,
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
    again = subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", str(corpus / "in" / "rgb.png"), "--output_dir",
                            str(out), "--model", "bicubic", "--scale", "2", "--no_progress"], cwd=REPO,
                           capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert again.returncode == 1 and "exists (use --overwrite)" in again.stderr


def test_cli_usage_and_output_folder_errors(corpus, capsys):
    with pytest.raises(SystemExit) as e:
        upscale_main([str(corpus / "in" / "rgb.png"), "--output_dir", str(corpus / "o"), "--scale", "two"])
    assert e.value.code == 2
    blocker = corpus / "a_file"
    blocker.write_text("x")
    assert upscale_main([str(corpus / "in" / "rgb.png"), "--output_dir", str(blocker / "out"), "--model",
                         "bicubic", "--scale", "2", "--no_progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: --output_dir {blocker / 'out'}: cannot write there")
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


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", *map(str, args), "--model", "bicubic",
                           "--no_progress"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)


def _bicubic_x2(array, tmp_path, name):
    """What jaxsr-upscale makes of a plain PNG holding ``array`` (the reference for converted inputs)."""
    Image.fromarray(array).save(tmp_path / f"{name}.png")
    assert upscale_main([str(tmp_path / f"{name}.png"), "--output_dir", str(tmp_path / "ref"), "--model", "bicubic",
                         "--scale", "2", "--no_progress"]) == 0
    return np.asarray(Image.open(tmp_path / "ref" / f"{name}_x2.png"))


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_exif_orientation_is_applied(tmp_path, ext):
    """A phone photo stored sideways with EXIF Orientation=6 (rotate 90° clockwise to view) comes out upright."""
    stored = (np.random.default_rng(0).random((12, 20, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / f"phone.{ext}", exif=exif, **({"quality": 100} if ext == "jpg" else {}))
    r = _cli(tmp_path / f"phone.{ext}", "--output_dir", tmp_path / "out", "--scale", "2")
    assert r.returncode == 0, r.stderr
    assert "turned upright by its EXIF orientation (6)" in r.stderr
    out = np.asarray(Image.open(tmp_path / "out" / "phone_x2.png"))
    assert out.shape == (40, 24, 3)  # upright: 20 high, 12 wide, ×2
    if ext == "png":  # lossless: exactly the upscale of the upright picture
        np.testing.assert_array_equal(out, _bicubic_x2(np.ascontiguousarray(np.rot90(stored, -1)), tmp_path, "up"))


def test_float_images_converted_or_refused(tmp_path):
    ramp = np.linspace(0, 255, 16 * 20, dtype=np.float32).reshape(16, 20)
    Image.fromarray(ramp, "F").save(tmp_path / "f255.tif")
    Image.fromarray(ramp / 255, "F").save(tmp_path / "f01.tif")
    nan = ramp.copy()
    nan[3, 4] = np.nan
    Image.fromarray(nan, "F").save(tmp_path / "fnan.tif")
    Image.fromarray(ramp * 2 - 100, "F").save(tmp_path / "fwide.tif")
    r = _cli(*(tmp_path / f"{n}.tif" for n in ("f255", "f01", "fnan", "fwide")), "--output_dir", tmp_path / "out",
             "--scale", "2")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    assert errors == [f"error: {tmp_path / 'fnan.tif'}: float image with 1 non-finite pixels (NaN/inf) cannot be "
                      "interpreted",
                      f"error: {tmp_path / 'fwide.tif'}: float image with values in [-100, 410] is in neither [0, 1] "
                      "nor [0, 255]"]
    expected = _bicubic_x2(np.round(ramp).astype(np.uint8), tmp_path, "u8")
    for name in ("f255", "f01"):  # neither all white nor all black: the picture itself
        out = np.asarray(Image.open(tmp_path / "out" / f"{name}_x2.png")).astype(int)
        assert np.abs(out - expected).max() <= 1, name
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f01_x2.png", "f255_x2.png"]


def test_colliding_duplicate_and_own_outputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    rgb = (np.random.default_rng(2).random((10, 12, 3)) * 255).astype(np.uint8)
    for name in ("photo.jpg", "photo.png", "other.png"):
        Image.fromarray(rgb).save(d / name)
    out = d / "out"  # the output folder inside the input folder
    r = _cli(d, d / "other.png", "--output_dir", out, "--scale", "2", "--overwrite")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    assert len(errors) == 2 and all(f"output {out / 'photo_x2.png'} would also be written for" in l for l in errors)
    assert sorted(p.name for p in out.iterdir()) == ["other_x2.png"]  # other.png given twice: one input
    r = _cli(d, "--output_dir", out, "--scale", "2", "--overwrite", "--format", "same")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["other_x2.png", "photo_x2.jpg", "photo_x2.png"]  # no _x2_x2


def test_output_folder_may_be_the_input_folder(tmp_path):
    d = tmp_path / "same"
    d.mkdir()
    Image.fromarray((np.random.default_rng(3).random((10, 12, 3)) * 255).astype(np.uint8)).save(d / "cat.png")
    for _ in range(2):  # the rerun skips jaxsr's own cat_x2.png instead of making cat_x2_x2.png
        r = _cli(d, "--output_dir", d, "--scale", "2", "--overwrite")
        assert r.returncode == 0, r.stderr
        assert sorted(p.name for p in d.iterdir()) == ["cat.png", "cat_x2.png"]
    (tmp_path / "empty").mkdir()
    r = _cli(tmp_path / "empty", "--output_dir", tmp_path / "o", "--scale", "2")
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].endswith("no images to upscale in this folder")


def test_output_size_and_limits_are_bounded(tmp_path):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "x.png")
    r = _cli(tmp_path / "x.png", "--output_dir", tmp_path / "out", "--scale", "1000")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "MemoryError" not in r.stderr
    assert r.stderr.strip() == (f"error: {tmp_path / 'x.png'}: 30x20 at x1000 gives 600,000,000 output pixels, over "
                                "the limit of 100,000,000 (raise --max_output_pixels to allow it)")
    r = _cli(tmp_path / "x.png", "--output_dir", tmp_path / "out", "--scale", "2", "--max_pixels", "100")
    assert r.returncode == 1  # 600 pixels: over twice the limit, so Pillow refuses it; jaxsr's limit is quoted
    assert r.stderr.strip() == (f"error: {tmp_path / 'x.png'}: over the limit of 100 pixels (raise --max_pixels to "
                                "allow it); refused before decoding")
    r = _cli(tmp_path / "x.png", "--output_dir", tmp_path / "out", "--scale", "2", "--max_pixels", "0")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --max_pixels must be a positive number of pixels (jaxsr's default: 50,000,000)"
    r = _cli(tmp_path / "x.png", "--output_dir", tmp_path / "out", "--scale", "1")
    assert r.returncode == 2 and r.stderr.strip() == "error: --scale must be an integer >= 2, got 1"
    r = subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", "--help"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "--no_progress" in r.stdout


def test_missing_weights_name_the_flag(tmp_path, capsys):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    assert upscale_main([str(tmp_path / "x.png"), "--output_dir", str(tmp_path / "o"), "--model", "edsr_baseline",
                         "--no_progress"]) == 1
    assert capsys.readouterr().err.strip() == ("error: no weights for 'edsr_baseline' ship with jaxsr: pass --weights "
                                               "(jaxsr zoo lists published ones)")
    assert not (tmp_path / "o").exists()  # the weights are checked before the output folder is made
    assert upscale_main([str(tmp_path / "x.png"), "--weights", "vdsr_caffe_adam", "--no_progress"]) == 1
    assert "zoo entry 'vdsr_caffe_adam' is not shipped with jaxsr: get VDSR_Adam.mat from https://" in \
        capsys.readouterr().err


def test_no_flags_upscale_x2_with_the_shipped_vdsr_beside_the_input(tmp_path):
    """``jaxsr-upscale photo.jpg``: x2 with the shipped VDSR, ``photo_x2.png`` beside it, its path printed and
    last a count of what was written; a rerun never writes over it."""
    rgb = (np.random.default_rng(4).random((14, 18, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=95)
    run = lambda: subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", "photo.jpg"], cwd=tmp_path,  # noqa: E731
                                 capture_output=True, text=True, timeout=300,
                                 env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)})
    r = run()
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["photo_x2.png", "wrote 1 image"]  # the paths, then what was written
    out = tmp_path / "photo_x2.png"
    model, params = load("vdsr", weights="vdsr_official")
    from jaxsr.base.io import read_image

    want = super_resolve(read_image(tmp_path / "photo.jpg")[0], model, params, 2)
    np.testing.assert_allclose(np.asarray(Image.open(out)).astype(int), np.round(want * 255), atol=1)
    before = out.read_bytes()
    r = run()
    assert r.returncode == 1 and r.stdout == "wrote 0 images (1 failed)\n" and "photo_x2.png exists (use --overwrite)" in r.stderr
    assert out.read_bytes() == before


def test_folder_outputs_beside_each_image_and_reruns_skip_them(tmp_path, capsys):
    d = tmp_path / "album"
    (d / "trip").mkdir(parents=True)
    for rel in ("a.png", "trip/b.png"):
        Image.fromarray((np.random.default_rng(5).random((10, 12, 3)) * 255).astype(np.uint8)).save(d / rel)
    assert upscale_main([str(d), "--model", "bicubic", "--no_progress"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(d / "a_x2.png"), str(d / "trip" / "b_x2.png"), "wrote 2 images"]
    assert upscale_main([str(d), "--model", "bicubic", "--no_progress", "--overwrite"]) == 0  # no a_x2_x2.png
    assert sorted(str(p.relative_to(d)) for p in d.rglob("*.png")) == ["a.png", "a_x2.png", "trip/b.png",
                                                                      "trip/b_x2.png"]


def test_ctrl_c_one_line_and_no_partial_files(tmp_path, monkeypatch, capsys):
    for name in ("a", "b", "c"):
        Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(tmp_path / f"{name}.png")
    real, calls = Upscaler.upscale, []

    def interrupted(self, image):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, image)

    monkeypatch.setattr(Upscaler, "upscale", interrupted)
    code = upscale_main([*(str(tmp_path / f"{n}.png") for n in "abc"), "--output_dir", str(tmp_path / "out"),
                         "--model", "bicubic", "--scale", "2", "--no_progress"])
    assert code == 130
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == ["error: interrupted (outputs written so far are complete; no partial files)"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a_x2.png"]  # nothing half-written, no temp files
    assert captured.out.splitlines()[-1] == "wrote 1 image"  # what is on disk, also when interrupted


def test_tile_progress_is_reported(tmp_path):
    model = models.get("vdsr", depth=3, features=4)
    up = Upscaler(model, init_params(model), 2, tile=8, tile_batch=3)
    seen = []
    up.on_tiles = lambda done, total: seen.append((done, total))
    up.upscale(np.random.default_rng(0).random((15, 17, 3)))
    total = seen[0][1]
    assert total == 20 and [d for d, _ in seen] == [3, 6, 9, 12, 15, 18, 20]  # 30x34 ILR in 8x8 cores
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "x.png")
    r = subprocess.run([sys.executable, "-m", "jaxsr.cli.upscale", str(tmp_path / "x.png"), "--output_dir",
                        str(tmp_path / "o"), "--model", "bicubic", "--scale", "2", "--tile", "8"], cwd=REPO,
                       capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert r.returncode == 0 and "/25 [" in r.stderr and "tile" in r.stderr  # 40x40 ILR: 5x5 tiles
