"""The hostile corpus: files a user bent on breaking jaxsr would hand it, each made small and on the spot.

Every case of issue 21's hostile pass that needs a file is a function here writing it into a folder, so that
``tests/test_hostile.py`` replays them on every run (and ``python tests/hostile_corpus.py DIR`` writes them
all into DIR for a replay by hand). Nothing here is large on disk: the bombs are small files that *declare*
or *inflate to* gigabytes.
"""

from __future__ import annotations

import struct
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

TINY = {"depth": 3, "features": 8}  # the VDSR every weights case is built on


def _vdsr_params(seed: int = 0) -> dict:
    import jax

    from jaxsr import models
    from jaxsr.weights.params import init_params

    return jax.tree_util.tree_map(np.array, jax.device_get(init_params(models.VDSR(**TINY), seed)))


def weights(folder: Path) -> dict[str, Path]:
    """``.msgpack`` params of a tiny VDSR: good; one NaN kernel entry; one inf bias; every weight ×1e30 (finite
    weights, an output that overflows); stored kwargs ``depth: 10**7`` (a model that would take hours to
    build) and ``depth: "x"``."""
    from jaxsr.weights.params import save_params

    folder.mkdir(parents=True, exist_ok=True)
    good = _vdsr_params()
    out = {}

    def save(name, params, kwargs=TINY):
        out[name] = folder / f"{name}.msgpack"
        save_params(out[name], params, kwargs)

    save("good", good)
    nan = {k: {n: a.copy() for n, a in v.items()} for k, v in good.items()}
    nan["conv_1"]["kernel"][0, 0, 0, 0] = np.nan
    save("nan", nan)
    inf = {k: {n: a.copy() for n, a in v.items()} for k, v in good.items()}
    inf["conv_2"]["bias"][0] = np.inf
    save("inf", inf)
    save("x1e30", {k: {n: a * np.float32(1e30) for n, a in v.items()} for k, v in good.items()})
    save("deep", good, {**TINY, "depth": 10**7})
    save("depth_str", good, {**TINY, "depth": "x"})
    return out


def png_bomb(path: Path, side: int = 12000) -> Path:
    """A valid 8-bit gray PNG of side × side black pixels (12000: 144 MP, 140 KB on disk)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    inflate = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    idat = b"".join(inflate.compress(row) for _ in range(side)) + inflate.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def png16_rgb(path: Path) -> Path:
    """A 16-bit RGB PNG (Pillow reads it as 8-bit RGB: jaxsr must say so)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w = 40, 44
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([(0.5 + 0.4 * np.sin(xx * f + yy * g)) * 65535 for f, g in ((0.3, 0.1), (0.2, 0.4), (0.1, 0.2))],
                 -1).astype(">u2")
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


# --- PyTorch checkpoints (the pickle opcodes torch.save emits, written byte by byte) -----------------------


def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _tensor_pickle(numel: int, after_dict: bytes = b"") -> bytes:
    """A state dict {"w": float tensor of ``numel`` values in storage "0"}; ``after_dict``: opcodes run on the
    dict (e.g. a BUILD setting its attributes)."""
    pid = b"(" + _str("storage") + _global("torch", "FloatStorage") + _str("0") + _str("cpu") + _int(numel) + b"t"
    tensor = (_str("w") + _global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"Q" + _int(0)
              + b"(" + _int(numel) + b"t" + b"(" + _int(1) + b"t" + b"\x89" + _global("collections", "OrderedDict")
              + b")R" + b"tR")
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R" + b"(" + tensor + b"u" + after_dict + b"."


def pt_zip_bomb(path: Path, numel: int = 300_000_000) -> Path:
    """A 1.2 MB zip ``.pt`` whose one storage declares ``numel`` float32 values (1.2 GB) and is all zeros,
    deflated: it inflates to 1.2 GB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", _tensor_pickle(numel))
        z.writestr("archive/byteorder", "little")
        with z.open("archive/data/0", "w", force_zip64=True) as f:
            block = bytes(1 << 24)
            left = numel * 4
            while left:
                f.write(block[:min(left, len(block))])
                left -= min(left, len(block))
    return path


def pt_pickle_bomb(path: Path) -> Path:
    """A zip ``.pt`` whose data.pkl inflates to 64 MB of dict-making opcodes (gigabytes of objects)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"\x80\x02]" + b"}a" * (32 << 20) + b"."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", body)
    return path


def pt_attributes(path: Path, state: dict | None = None) -> Path:
    """A zip ``.pt`` whose pickle sets attributes on the state dict (BUILD with ``{"items": 0}``), so that
    ``state.items`` is no longer a method."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", _tensor_pickle(4, b"}" + _str("items") + _int(0) + b"sb"))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", np.zeros(4, np.float32).tobytes())
    return path


def pt_metadata(path: Path) -> Path:
    """What torch.save really writes after a state dict's items: a BUILD setting ``_metadata`` (accepted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = b"}" + _str("_metadata") + _global("collections", "OrderedDict") + b")R" + b"sb"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", _tensor_pickle(4, meta))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", np.arange(4, dtype=np.float32).tobytes())
    return path


def mat_bomb(path: Path, side: int = 12000) -> Path:
    """A MAT v5 file of 1.1 MB whose one compressed variable (``weights_conv1``, side × side doubles of 0)
    inflates to 1.15 GB (written without scipy holding the array)."""
    nbytes = side * side * 8
    name = b"weights_conv1"
    sub = [struct.pack("<II", 6, 8) + struct.pack("<II", 6, 0),  # array flags: double
           struct.pack("<II", 5, 8) + struct.pack("<ii", side, side),  # dimensions
           struct.pack("<II", 1, len(name)) + name + b"\x00" * (-len(name) % 8)]  # name (int8)
    header = b"".join(sub) + struct.pack("<II", 9, nbytes)  # real (double) data tag, then the zeros
    matrix = struct.pack("<II", 14, len(header) + nbytes)
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(matrix + header)]
    block = bytes(1 << 24)
    left = nbytes
    while left:
        parts.append(deflate.compress(block[:min(left, len(block))]))
        left -= min(left, len(block))
    parts.append(deflate.flush())
    compressed = b"".join(parts)
    head = b"MATLAB 5.0 MAT-file, written by jaxsr's hostile corpus".ljust(116) + b"\x00" * 8 + b"\x00\x01IM"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + struct.pack("<II", 15, len(compressed)) + compressed)
    return path


def main(argv=None) -> int:
    """``python tests/hostile_corpus.py DIR``: write every file of the corpus into DIR."""
    out = Path((argv or sys.argv[1:] or ["hostile"])[0])
    for path in [*weights(out / "weights").values(), png_bomb(out / "images" / "bomb.png"),
                 png16_rgb(out / "images" / "rgb16.png"), pt_zip_bomb(out / "pt" / "zip_bomb.pt"),
                 pt_pickle_bomb(out / "pt" / "pickle_bomb.pt"), pt_attributes(out / "pt" / "attributes.pt"),
                 pt_metadata(out / "pt" / "metadata.pt"), mat_bomb(out / "mat" / "bomb.mat")]:
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
