"""Reading and writing images: float arrays in [0, 1], atomic writes.

``read_image`` returns (H, W) float64 for grayscale images and (H, W, 3) float64 for everything else, in
[0, 1], turned upright by its EXIF orientation tag, plus a note when the file had to be converted (palette,
alpha, 16-bit, float, CMYK, EXIF rotation, ...).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import tempfile
import time
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from jaxsr.base.errors import JaxsrError

__all__ = ["IMAGE_EXTENSIONS", "DEFAULT_MAX_PIXELS", "read_image", "write_image", "to_uint8", "atomic_write_bytes",
           "writable_dir", "writable_file", "folder_lock", "LOCK_NAME"]

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
# Pixels an image may have before it is refused unread (a decompression bomb: a small file that decodes to
# gigabytes); the default of every reader (benchmark and training folders) and of jaxsr-upscale's --max_pixels.
DEFAULT_MAX_PIXELS = 50_000_000


def read_image(path, max_pixels: int | None = DEFAULT_MAX_PIXELS, check_size=None,
               hint: str = "raise --max_pixels to allow it") -> tuple[np.ndarray, str | None]:
    """Load an image file as float64 in [0, 1]: (H, W) if grayscale else (H, W, 3); and a note or None.

    The EXIF orientation tag (phone photos) is applied, so the array is the upright picture.

    Args:
      max_pixels: refuse images with more pixels (checked from the header, before decoding); None: Pillow's
        own decompression-bomb limit.
      check_size: optional ``callable(width, height)`` run on the header's size before decoding; it may
        raise JaxsrError (e.g. an output-size limit).
    Raises:
      JaxsrError: the file is missing, empty, truncated, not an image, over ``max_pixels``, or holds
        values that are not finite or not in a known range (float images outside [0, 1] and [0, 255]).
    """
    path = Path(path)
    if not path.is_file():
        raise JaxsrError(f"{path}: " + ("broken symbolic link (its target is missing)" if path.is_symlink()
                                        else "no such file"))
    if path.stat().st_size == 0:
        raise JaxsrError(f"{path}: empty file")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        if max_pixels is not None:  # our limit replaces Pillow's decompression-bomb limit
            Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if max_pixels is not None and w * h > max_pixels:
                    raise JaxsrError(f"{path}: {w}x{h} = {w * h:,} pixels is over the limit of {max_pixels:,} "
                                     f"({hint})")
                if check_size is not None:
                    try:
                        check_size(w, h)
                    except JaxsrError as e:
                        raise JaxsrError(f"{path}: {e}") from None
                sixteen = im.mode in ("RGB", "RGBA") and any(";16" in str(t.args) for t in im.tile)
                im.load()
                orientation = im.getexif().get(0x0112, 1)  # EXIF Orientation; 1 = upright
                upright = ImageOps.exif_transpose(im) if orientation in range(2, 9) else im
                try:
                    image, note = _to_array(upright)
                except JaxsrError as e:
                    raise JaxsrError(f"{path}: {e}") from None
                if sixteen:  # Pillow keeps the high byte of each 16-bit sample
                    bits = f"16-bit {im.mode} converted to 8-bit"
                    note = f"{bits}; {note}" if note else bits
                if upright is not im:
                    turn = f"turned upright by its EXIF orientation ({orientation})"
                    note = f"{note}; {turn}" if note else turn
                return image, note
    except Image.DecompressionBombError:
        if max_pixels is not None:
            raise JaxsrError(f"{path}: over the limit of {max_pixels:,} pixels ({hint}); "
                             "refused before decoding") from None
        raise JaxsrError(f"{path}: over Pillow's limit of {limit:,} pixels; refused as a decompression bomb") \
            from None
    except UnidentifiedImageError:
        raise JaxsrError(f"{path}: not a readable image") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise JaxsrError(f"{path}: cannot decode image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _to_array(im: Image.Image) -> tuple[np.ndarray, str | None]:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise JaxsrError(f"integer values in [{a.min():g}, {a.max():g}] are outside 0..65535")
        peak = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        return a / peak, f"{'16' if peak > 255 else '8'}-bit grayscale ({mode}) converted to 8-bit output"
    if mode == "F":
        return _float_array(np.asarray(im, dtype=np.float64))
    if mode in ("L", "1"):
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0, None
    if mode == "LA":
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0, "alpha channel dropped"
    note = None
    if mode == "P":
        note = "palette image converted to RGB" + ("; transparency dropped" if "transparency" in im.info else "")
    elif mode in ("RGBA", "PA") or "transparency" in im.info:
        note = "alpha channel dropped"
    elif mode != "RGB":
        note = f"{mode} image converted to RGB"
    return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0, note


def _float_array(a: np.ndarray) -> tuple[np.ndarray, str]:
    """A float image as stored: [0, 1] is taken as is, [0, 255] is divided by 255; anything else (NaN,
    infinities, negative values, values over 255) cannot be interpreted and is refused."""
    bad = ~np.isfinite(a)
    if bad.any():
        raise JaxsrError(f"float image with {int(bad.sum()):,} non-finite pixels (NaN/inf) cannot be interpreted")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if lo >= 0 and hi <= 1:
        return a, "float image in [0, 1] read as is"
    if lo >= 0 and hi <= 255:
        return a / 255.0, f"float image with values in [{lo:g}, {hi:g}] read as 0..255"
    raise JaxsrError(f"float image with values in [{lo:g}, {hi:g}] is in neither [0, 1] nor [0, 255]")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] → uint8 with rounding (values outside are clipped)."""
    return np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def atomic_write_bytes(path, data: bytes, durable: bool = False, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename; ``durable``
    also flushes the file and the folder to disk (the file survives a machine crash, not only a kill).

    ``overwrite=False`` creates ``path`` exclusively: the complete file is linked into place only if no file
    of that name exists at that moment (not only when it was checked), else ``FileExistsError`` naming it;
    so two writers never replace each other's output. An ``OSError`` (a full disk) names ``path``.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _named(e, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except FileExistsError:
        raise
    except OSError as e:
        raise _named(e, path) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _named(e: OSError, path: Path) -> OSError:
    """``e`` naming ``path`` (a failed write of an open file has no file name)."""
    return e if e.filename else type(e)(e.errno, e.strerror or str(e), str(path))


def _link_new(tmp: str, path: Path) -> None:
    """Put the complete file ``tmp`` at ``path`` only if nothing is there: a hard link, which fails if the
    name exists (atomic); where links are not supported, the name is reserved with O_CREAT|O_EXCL first."""
    exists = FileExistsError(errno.EEXIST, "exists (pass --overwrite to replace it)", str(path))
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise exists from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise exists from None
    os.replace(tmp, path)  # over the empty placeholder this writer has just created


def writable_dir(path, flag: str) -> Path:
    """Create folder ``path`` if needed and check that files can be written there (before any work).
    Raises JaxsrError naming ``flag`` (e.g. ``--save_images``) otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".jaxsr-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise JaxsrError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None
    return path


def writable_file(path, flag: str) -> Path:
    """Check that file ``path`` can be (re)written atomically: its folder exists and is writable and the
    path is not a folder. Raises JaxsrError naming ``flag`` (e.g. ``--results_json``) otherwise."""
    path = Path(path)
    if path.is_dir():
        raise JaxsrError(f"{flag} {path}: is a folder, expected a file name")
    if not path.parent.is_dir():
        raise JaxsrError(f"{flag} {path}: folder {path.parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise JaxsrError(f"{flag} {path}: cannot write in {path.parent} ({e.strerror or e})") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_image(path, image: np.ndarray, overwrite: bool = True) -> None:
    """Save a float image in [0, 1], (H, W), (H, W, 1) or (H, W, 3), atomically (format by extension);
    ``overwrite=False``: never over an existing file (``FileExistsError``, see :func:`atomic_write_bytes`).
    A non-finite pixel (the output of a broken model) is refused, never written as black."""
    path = Path(path)
    if not np.isfinite(image).all():
        raise JaxsrError(f"{path}: the image to write has non-finite (NaN/inf) pixels; nothing written")
    a = to_uint8(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise JaxsrError(f"{path}: unknown image format {path.suffix!r}")
    buf = BytesIO()
    Image.fromarray(a).save(buf, format=fmt)
    atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


LOCK_NAME = ".jaxsr.lock"
_HELD: dict[str, list] = {}  # resolved folder → [lock fd, depth]: this process's locks (re-entrant)


@contextlib.contextmanager
def folder_lock(folder, flag: str = "--workdir"):
    """Own ``folder`` (an existing folder) for the duration: one process at a time, through ``fcntl.flock`` on
    ``<folder>/.jaxsr.lock``, which records the holder (pid, host, start, command). A second process gets
    ``JaxsrError`` naming the holder; the kernel releases the lock of a process that dies (``kill -9``), so a
    lock is never stale; the file is removed on release. Re-entrant within a process."""
    import fcntl

    folder = Path(folder)
    key = str(folder.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    lock = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise JaxsrError(f"{flag} {folder}: cannot write there ({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _holder(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise JaxsrError(f"{flag} {folder}: cannot lock {lock} ({e.strerror or e})") from None
            raise JaxsrError(f"{flag} {folder} is in use by another jaxsr process ({holder}): one process per "
                             "folder; wait for it to end or stop it, or use another folder") from None
        try:  # the holder before us may have removed the file it locked: then lock the new one
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv)[:100]}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(record) + "\n").encode())
    except OSError:
        pass  # the lock holds without the record (a full disk); a second process then names no pid
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        try:
            lock.unlink()  # while holding it: a process that opened the old file sees it is gone and retries
        except OSError:
            pass
        os.close(fd)


def _holder(fd: int) -> str:
    """"pid 123 on host h since T: command" from a lock file (what its holder wrote), or what is known."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        r = json.loads(os.read(fd, 4096).decode() or "{}")
        text = f"pid {r['pid']} on host {r['host']} since {r['since']}"
        return text + (f": {r['command']}" if r.get("command") else "")
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded yet"
