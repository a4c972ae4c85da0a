"""EDSR-PyTorch checkpoints: both torch.save formats read without torch, key layout, refusal of other globals.

The torch-free tests write checkpoints byte by byte (the pickle opcodes ``torch.save`` emits), so CI without
torch covers the reader; with torch installed, models built like EDSR-PyTorch's are saved by ``torch.save``
in both formats and their outputs compared with jaxsr's (a true cross-framework check).
"""

import struct
import subprocess
import sys
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.traverse_util import flatten_dict

import jaxsr
from jaxsr import models
from jaxsr.cli.convert import main as convert_main
from jaxsr.base.errors import JaxsrError
from jaxsr.models.edsr import DIV2K_MEAN
from jaxsr.weights.torch_import import read_torch_state_dict
from jaxsr.weights.params import init_params

# --- a minimal torch.save writer (no torch) -------------------------------------------------------------


def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)


def _tuple(items) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def state_pickle(state: dict, legacy: bool, extra_global=None) -> bytes:
    """Protocol-2 pickle of an OrderedDict of float32 tensors, as torch.save writes it; storage key = index."""
    out = [b"\x80\x02", _global("collections", "OrderedDict"), b")R("]
    for i, (name, array) in enumerate(state.items()):
        pid = [_str("storage"), _global("torch", "FloatStorage"), _str(str(i)), _str("cpu"), _int(array.size)]
        strides = [int(np.prod(array.shape[k + 1:])) for k in range(array.ndim)]
        out += [_str(name), _global("torch._utils", "_rebuild_tensor_v2"), b"(",
                _tuple(pid + ([b"N"] if legacy else [])), b"Q", _int(0),
                _tuple([_int(n) for n in array.shape]), _tuple([_int(s) for s in strides]), b"\x89",
                _global("collections", "OrderedDict"), b")R", b"tR"]
    if extra_global:
        out += [_str("evil"), _global(*extra_global), b"(", _str("echo owned"), b"tR"]
    return b"".join(out) + b"u."


def write_checkpoint(path, state: dict, legacy: bool = False, extra_global=None) -> None:
    """``state`` (name → float32 array) in torch.save's zip (torch >= 1.6) or legacy format."""
    state = {k: np.ascontiguousarray(v, np.float32) for k, v in state.items()}
    data = state_pickle(state, legacy, extra_global)
    if legacy:
        import pickle

        head = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                              "type_sizes": {"short": 2, "int": 4, "long": 4}}]
        parts = [pickle.dumps(h, protocol=2) for h in head] + [data, pickle.dumps(
            [str(i) for i in range(len(state))], protocol=2)]
        parts += [struct.pack("<q", a.size) + a.tobytes() for a in state.values()]
        path.write_bytes(b"".join(parts))
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/byteorder", "little")
        for i, a in enumerate(state.values()):
            z.writestr(f"archive/data/{i}", a.tobytes())
        z.writestr("archive/version", "3\n")


def to_torch_layout(model, params) -> dict:
    """jaxsr EDSR/MDSR params → EDSR-PyTorch state dict names and OIHW layout (with the mean shifts)."""
    from jaxsr.weights.torch_import import _edsr_names

    flat = {"/".join(k): np.asarray(v) for k, v in flatten_dict(jax.device_get(params)).items()}
    state = {}
    for mean in ("sub_mean", "add_mean"):
        sign = -1.0 if mean == "sub_mean" else 1.0
        state[f"{mean}.weight"] = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)
        state[f"{mean}.bias"] = (sign * 255.0 * np.asarray(DIV2K_MEAN)).astype(np.float32)
    for torch_name, jax_name in _edsr_names(model).items():
        state[f"{torch_name}.weight"] = flat[f"{jax_name}/kernel"].transpose(3, 2, 0, 1)
        state[f"{torch_name}.bias"] = flat[f"{jax_name}/bias"]
    return state


def _assert_same_params(got, want):
    jax.tree_util.tree_map(np.testing.assert_array_equal, jax.device_get(got), jax.device_get(want))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_hand_written_edsr_checkpoint_loads_exactly(tmp_path, legacy):
    model = models.get("edsr_baseline", scale=4, num_blocks=2, features=8)
    params = init_params(model, seed=1)
    state = to_torch_layout(model, params)
    modules = ["sub_mean", "head.0", "body.0.body.0", "body.0.body.2", "body.1.body.0", "body.1.body.2", "body.2",
               "tail.0.0", "tail.0.2", "tail.1", "add_mean"]  # EDSR-PyTorch's names, written out
    assert set(state) == {f"{m}.{p}" for m in modules for p in ("weight", "bias")}
    path = tmp_path / "edsr_baseline_x4.pt"
    write_checkpoint(path, state, legacy=legacy)
    got = read_torch_state_dict(path)
    assert got.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(got[k], state[k])
    loaded_model, loaded = jaxsr.load("edsr_baseline", weights=str(path), scale=4, num_blocks=2, features=8)
    _assert_same_params(loaded, params)
    x = jnp.asarray(np.random.default_rng(0).random((1, 6, 5, 3)), jnp.float32)
    np.testing.assert_array_equal(loaded_model.apply({"params": loaded}, x), model.apply({"params": params}, x))


def test_hand_written_mdsr_checkpoint_and_convert_cli(tmp_path, capsys):
    model = models.get("mdsr_baseline", num_blocks=1, features=8)
    params = init_params(model, seed=2)
    state = to_torch_layout(model, params)
    modules = (["head.0"] + [f"pre_process.{i}.{j}.body.{k}" for i in range(3) for j in range(2) for k in (0, 2)]
               + ["body.0.body.0", "body.0.body.2", "body.1", "upsample.0.0", "upsample.1.0", "upsample.2.0",
                  "upsample.2.2", "tail.0", "sub_mean", "add_mean"])  # EDSR-PyTorch's MDSR, written out
    assert set(state) == {f"{m}.{p}" for m in modules for p in ("weight", "bias")}
    write_checkpoint(tmp_path / "mdsr.pt", state)
    args = [str(tmp_path / "mdsr.pt"), str(tmp_path / "mdsr.msgpack"), "--model", "mdsr_baseline"]
    assert convert_main(args) == 1  # one block is not the 16-block baseline
    assert "mdsr.pt has 1 residual blocks, this MDSR 16" in capsys.readouterr().err
    del state["pre_process.1.0.body.0.bias"]
    write_checkpoint(tmp_path / "cut.pt", state)
    with pytest.raises(JaxsrError, match="does not fit MDSR: no tensor 'pre_process.1.0.body.0.bias'"):
        jaxsr.load("mdsr_baseline", weights=str(tmp_path / "cut.pt"), num_blocks=1, features=8)
    _, loaded = jaxsr.load("mdsr_baseline", weights=str(tmp_path / "mdsr.pt"), num_blocks=1, features=8)
    _assert_same_params(loaded, params)


def test_convert_cli_edsr(tmp_path, capsys):
    model = models.get("edsr_baseline", scale=2, num_blocks=16, features=8)
    params = init_params(model)
    write_checkpoint(tmp_path / "e.pt", to_torch_layout(model, params))
    out = tmp_path / "e.msgpack"
    assert convert_main([str(tmp_path / "e.pt"), str(out), "--model", "edsr_baseline"]) == 1
    assert "pass --scale" in capsys.readouterr().err
    assert convert_main([str(tmp_path / "e.pt"), str(out), "--model", "edsr_baseline", "--scale", "3"]) == 1
    assert "e.pt holds an x2 model, not x3 (pass --scale 2)" in capsys.readouterr().err
    assert convert_main([str(tmp_path / "e.pt"), str(out), "--model", "edsr_baseline", "--scale", "2"]) == 1
    assert "does not fit EDSR: block_0/Conv_0/bias is (8,), the model needs (64,)" in capsys.readouterr().err
    assert convert_main([str(tmp_path / "e.pt"), str(out), "--model", "vdsr"]) == 1
    assert "map onto EDSR and MDSR models only, not VDSR" in capsys.readouterr().err
    assert convert_main([str(tmp_path / "e.pt"), str(out)]) == 1
    assert "pass --model" in capsys.readouterr().err


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_other_pickle_globals_are_refused_with_one_line(tmp_path, legacy):
    model = models.get("edsr_baseline", scale=2, num_blocks=1, features=4)
    path = tmp_path / "evil.pt"
    write_checkpoint(path, to_torch_layout(model, init_params(model)), legacy, extra_global=("os", "system"))
    with pytest.raises(JaxsrError, match=r"evil.pt: refuses pickle global 'os.system'$"):
        read_torch_state_dict(path)
    if legacy:
        return  # the command line is checked once, on the zip format
    r = subprocess.run([sys.executable, "-m", "jaxsr.convert", str(path), str(tmp_path / "o.msgpack"),
                        "--model", "edsr_baseline", "--scale", "2"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"error: {path}: refuses pickle global 'os.system'"]
    assert not (tmp_path / "o.msgpack").exists()


def test_damaged_checkpoints_fail_with_one_line(tmp_path):
    model = models.get("edsr_baseline", scale=2, num_blocks=1, features=4)
    state = to_torch_layout(model, init_params(model))
    write_checkpoint(tmp_path / "l.pt", state, legacy=True)
    raw = (tmp_path / "l.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[:-100])
    with pytest.raises(JaxsrError, match="truncated"):
        read_torch_state_dict(tmp_path / "cut.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00junk" * 10)
    with pytest.raises(JaxsrError, match="junk.pt: not a PyTorch"):
        read_torch_state_dict(tmp_path / "junk.pt")
    # sizes/strides that would read past the storage, or expand it, are refused, never read
    write_checkpoint(tmp_path / "z.pt", {"w": np.zeros((2, 2), np.float32)})
    size, stride = _tuple([_int(2), _int(2)]), _tuple([_int(2), _int(1)])
    for name, patch, message in [("stride", (stride, _tuple([_int(9), _int(1)])), "reach past a storage"),
                                 ("expanded", (size + stride, _tuple([_int(10**6)] * 2) + _tuple([_int(0)] * 2)),
                                  "more elements than its storage")]:
        with zipfile.ZipFile(tmp_path / "z.pt") as z, zipfile.ZipFile(tmp_path / f"{name}.pt", "w") as out:
            for entry in z.namelist():
                data = z.read(entry)
                out.writestr(entry, data.replace(*patch) if entry.endswith("data.pkl") else data)
        with pytest.raises(JaxsrError, match=message):
            read_torch_state_dict(tmp_path / f"{name}.pt")
    built = tmp_path / "build.pt"  # a BUILD opcode setting a tensor's attributes
    with zipfile.ZipFile(tmp_path / "z.pt") as z, zipfile.ZipFile(built, "w") as out:
        for entry in z.namelist():
            data = z.read(entry)
            out.writestr(entry, data.replace(b")RtR", b")RtR}b", 1) if entry.endswith("data.pkl") else data)
    with pytest.raises(JaxsrError, match="unexpected state for a Tensor"):
        read_torch_state_dict(built)
    wrong_mean = dict(state, **{"sub_mean.bias": np.zeros(3, np.float32)})
    write_checkpoint(tmp_path / "m.pt", wrong_mean)
    with pytest.raises(JaxsrError, match="sub_mean is not the DIV2K mean shift"):
        jaxsr.load("edsr_baseline", weights=str(tmp_path / "m.pt"), scale=2, num_blocks=1, features=4)


# --- with torch: EDSR-PyTorch's modules, saved by torch.save, against jaxsr -------------------------------


def _torch_models(torch):
    """EDSR and MDSR as EDSR-PyTorch's src/model/{edsr,mdsr,common}.py build them (same module names)."""
    nn = torch.nn

    def conv(cin, cout, k):
        return nn.Conv2d(cin, cout, k, padding=k // 2)

    def mean_shift(sign):
        m = nn.Conv2d(3, 3, 1)
        m.weight.data = torch.eye(3).view(3, 3, 1, 1)
        m.bias.data = sign * 255.0 * torch.tensor(DIV2K_MEAN)
        return m

    class ResBlock(nn.Module):
        def __init__(self, n, k, res_scale=1.0):
            super().__init__()
            self.body, self.res_scale = nn.Sequential(conv(n, n, k), nn.ReLU(True), conv(n, n, k)), res_scale

        def forward(self, x):
            return self.body(x) * self.res_scale + x

    def upsampler(scale, n):
        stages = [3] if scale == 3 else [2] * (scale.bit_length() - 1)
        return nn.Sequential(*[m for r in stages for m in (conv(n, r * r * n, 3), nn.PixelShuffle(r))])

    class EDSR(nn.Module):
        def __init__(self, scale, blocks, n, res_scale):
            super().__init__()
            self.sub_mean, self.add_mean = mean_shift(-1), mean_shift(1)
            self.head = nn.Sequential(conv(3, n, 3))
            self.body = nn.Sequential(*[ResBlock(n, 3, res_scale) for _ in range(blocks)], conv(n, n, 3))
            self.tail = nn.Sequential(upsampler(scale, n), conv(n, 3, 3))

        def forward(self, x):
            x = self.head(self.sub_mean(x))
            return self.add_mean(self.tail(self.body(x) + x))

    class MDSR(nn.Module):
        def __init__(self, scales, blocks, n):
            super().__init__()
            self.sub_mean, self.add_mean = mean_shift(-1), mean_shift(1)
            self.head = nn.Sequential(conv(3, n, 3))
            self.pre_process = nn.ModuleList([nn.Sequential(ResBlock(n, 5), ResBlock(n, 5)) for _ in scales])
            self.body = nn.Sequential(*[ResBlock(n, 3) for _ in range(blocks)], conv(n, n, 3))
            self.upsample = nn.ModuleList([upsampler(s, n) for s in scales])
            self.tail = nn.Sequential(conv(n, 3, 3))

        def forward(self, x, idx):
            x = self.pre_process[idx](self.head(self.sub_mean(x)))
            return self.add_mean(self.tail(self.upsample[idx](self.body(x) + x)))

    return EDSR, MDSR


def _jaxsr_vs_torch(torch, net, model, params, scale=None, idx=None):
    x = np.random.default_rng(3).random((1, 7, 6, 3)).astype(np.float32)
    with torch.no_grad():
        t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) * 255.0
        want = (net(t) if idx is None else net(t, idx)).numpy().transpose(0, 2, 3, 1) / 255.0
    args = () if scale is None else (scale,)
    got = np.asarray(model.apply({"params": params}, jnp.asarray(x), *args))
    np.testing.assert_allclose(got, want, atol=2e-5)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_saved_edsr_and_mdsr_match_pytorch_outputs(tmp_path, legacy):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    EDSR, MDSR = _torch_models(torch)
    for scale in (2, 3, 4):
        net = EDSR(scale, 2, 8, 0.1).eval()
        path = tmp_path / f"edsr_x{scale}.pt"
        torch.save(net.state_dict(), path, _use_new_zipfile_serialization=not legacy)
        model, params = jaxsr.load("edsr", weights=str(path), scale=scale, num_blocks=2, features=8)
        _jaxsr_vs_torch(torch, net, model, params)
    net = MDSR((2, 3, 4), 1, 8).eval()
    torch.save(net.state_dict(), tmp_path / "mdsr.pt", _use_new_zipfile_serialization=not legacy)
    model, params = jaxsr.load("mdsr", weights=str(tmp_path / "mdsr.pt"), num_blocks=1, features=8)
    for idx, scale in enumerate((2, 3, 4)):
        _jaxsr_vs_torch(torch, net, model, params, scale, idx)


def test_torch_saved_objects_other_than_tensors_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    import argparse

    torch.save({"args": argparse.Namespace(scale=2), "w": torch.zeros(2)}, tmp_path / "ckpt.pt")
    with pytest.raises(JaxsrError, match=r"refuses pickle global 'argparse.Namespace'$"):
        read_torch_state_dict(tmp_path / "ckpt.pt")
    torch.save({"w": torch.arange(6.0).reshape(2, 3).t(), "h": torch.ones(3, dtype=torch.bfloat16)},
               tmp_path / "views.pt")
    got = read_torch_state_dict(tmp_path / "views.pt")
    np.testing.assert_array_equal(got["w"], np.arange(6.0, dtype=np.float32).reshape(2, 3).T)
    np.testing.assert_array_equal(got["h"], np.ones(3, np.float32))
