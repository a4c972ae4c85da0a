"""``evaluate.py --report`` in headless Chromium: its sliders moved by the address, by the mouse and by the
keyboard, and a screenshot before and after.

  python benchmarks/report_screenshot.py --out docs/report_screenshot.png

Makes a tiny benchmark folder of two scikit-image photos (crops of ``astronaut`` and ``chelsea``, the first
under a hostile file name), runs ``evaluate.py --report`` on it at x3 (VDSR with the authors' weights from
../shared when they are there, else bicubic; ``--model``/``--weights`` choose) and opens the report from disk
(``file://``, no server) in headless Chromium (Debian's ``chromium``, driven by ``cdp.py``), then checks
(``check_page``):

* as written, every slider is at 50 % with bicubic on its left; with ``#pos=20&left=hr`` at 20 % with HR;
* a drag of the first slider's line from 50 % to 30 % of its width puts it (value, ``--pos`` and the drawn
  line) under the pointer, to a pixel; then PageDown/PageUp move it by 10 %, the arrow keys by 1 %,
  Home/End to 0/100 % (trusted input events, as a person's), and a drag brings it to 35 %; the other
  sliders stay at 50 %;
* the screenshots before and after differ.

It writes the screenshot after the drag (slider at 35 %) to ``--out`` (a 1400×1000 window unless ``--size``)
and prints what it checked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cdp import Browser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = REPO.parent / "shared" / "weights" / "VDSR_Official.mat"
HOSTILE = "astronaut <&'\">"  # a file name that must be escaped in HTML and quoted in URLs
# A headless Chromium that reaches nothing on the network (and needs no display or GPU).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--force-device-scale-factor=1")
# Per slider: its value, its --pos, the drawn line's x and its box; which option is on the left.
STATE = """JSON.stringify([...document.querySelectorAll('.compare')].map(function (box) {
  var card = box.closest('.card'), r = box.getBoundingClientRect();
  var left = [...card.querySelector('select.l').options].find(o => o.value === box.querySelector('img.top')
                                                                                   .getAttribute('src'));
  return {value: parseFloat(box.querySelector('input').value), pos: parseFloat(box.style.getPropertyValue('--pos')),
          line: box.querySelector('.line').getBoundingClientRect().left + 1, left: r.left, top: r.top,
          width: r.width, height: r.height, shows: left && left.getAttribute('data-key')};
}))"""


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


def page_url(index_html, fragment: str = "") -> str:
    """The ``file://`` address of a report page, with ``#fragment`` if given."""
    return Path(index_html).resolve().as_uri() + (f"#{fragment}" if fragment else "")


def changed_fraction(a, b) -> float:
    """The fraction of pixels that differ between two same-size screenshots."""
    import numpy as np
    from PIL import Image

    x, y = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in (a, b))
    assert x.shape == y.shape, (x.shape, y.shape)
    return float(np.any(x != y, axis=-1).mean())


def _sliders(browser, url: str) -> list[dict]:
    browser.open("about:blank")  # a fresh load, even where only the fragment changes
    browser.open(url)
    return json.loads(browser.eval(STATE))


def _at(sliders, pos: float, shows: str | None = None, tolerance: float = 1e-6) -> None:
    for k, s in enumerate(sliders):
        assert abs(s["value"] - pos) <= tolerance and s["pos"] == s["value"], f"slider {k}: {s}, not {pos}"
        assert abs(s["line"] - (s["left"] + s["width"] * s["value"] / 100)) <= 1.5, f"line of slider {k}: {s}"
        assert shows is None or s["shows"] == shows, f"slider {k} shows {s['shows']} on its left, not {shows}"


def check_page(index_html, size=(1400, 1000), before=None, after=None) -> dict:
    """Drive the report at ``index_html`` as the module's docstring says; screenshots to ``before`` and
    ``after`` (before / after the drag) if given. Returns what it saw; raises AssertionError otherwise."""
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")
    seen = {}
    with Browser(exe, FLAGS, size) as b:
        sliders = _sliders(b, page_url(index_html, "pos=20&left=hr"))
        _at(sliders, 20, "hr")
        sliders = _sliders(b, page_url(index_html))
        assert sliders, "no slider on the page"
        _at(sliders, 50, "bicubic")
        seen["sliders"] = len(sliders)
        if before:
            b.screenshot(before)
        first = sliders[0]
        y = first["top"] + first["height"] / 2
        assert 0 < y < size[1], f"the first slider is not in the window: {first}"
        b.drag(first["left"] + first["width"] / 2, y, first["left"] + 0.3 * first["width"], y)
        dragged = json.loads(b.eval(STATE))
        _at(dragged[:1], 30, "bicubic", tolerance=100 / first["width"])  # under the pointer, to a pixel
        _at(dragged[1:], 50)
        seen["dragged_to"] = dragged[0]["value"]
        value = lambda: json.loads(b.eval(STATE))[0]["value"]  # noqa: E731
        start, moves = value(), []
        for key, want in (("PageDown", start - 10), ("PageUp", start), ("ArrowRight", start + 1),
                          ("ArrowLeft", start), ("Home", 0), ("End", 100), ("ArrowLeft", 99)):
            b.key(key)
            got = value()
            assert abs(got - want) < 1e-6, f"{key}: {got}, expected {want}"
            moves.append(f"{key} {got:.1f}")
        seen["keys"] = moves
        b.drag(first["left"] + 0.99 * first["width"], y, first["left"] + 0.35 * first["width"], y)
        final = json.loads(b.eval(STATE))
        _at(final[:1], 35, "bicubic", tolerance=100 / first["width"])
        _at(final[1:], 50)
        seen["final"] = final[0]["value"]
        if after:
            b.screenshot(after)
    if before and after:
        seen["changed"] = changed_fraction(before, after)
        assert seen["changed"] > 0, "moving the slider changed nothing on the screenshot"
    return seen


def make_photos(folder) -> Path:
    """Two small RGB photos from scikit-image as PNG in ``folder`` (one under the hostile name)."""
    import skimage.data
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(skimage.data.astronaut()[20:200, 150:330]).save(folder / f"{HOSTILE}.png")
    Image.fromarray(skimage.data.chelsea()[40:220, 120:360]).save(folder / "chelsea.png")
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "docs" / "report_screenshot.png"))
    ap.add_argument("--model", default=None, help="default: vdsr with --weights, else bicubic")
    ap.add_argument("--weights", default=str(OFFICIAL) if OFFICIAL.is_file() else None)
    ap.add_argument("--size", default="1400,1000", help="window width,height")
    ap.add_argument("--keep", default=None, help="write the report into this (new) folder and keep it")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split(","))
    model = args.model or ("vdsr" if args.weights else "bicubic")
    with tempfile.TemporaryDirectory(prefix="jaxsr-report-") as tmp:
        data = Path(tmp) / "data"
        make_photos(data / "Photos")
        report = Path(args.keep) if args.keep else Path(tmp) / "report"
        cmd = [sys.executable, str(REPO / "evaluate.py"), "--model", model, "--data_dir", str(data),
               "--datasets", "Photos", "--scales", "3", "--report", str(report), "--no_progress"]
        cmd += ["--weights", args.weights] if args.weights and model != "bicubic" else []
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        print(r.stdout.strip())
        out = Path(args.out).resolve()
        seen = check_page(report / "index.html", size, Path(tmp) / "before.png", out)
    print(f"{seen['sliders']} sliders at 50 % (bicubic left), at 20 % with HR left by #pos=20&left=hr; the first "
          f"dragged from 50 % to {seen['dragged_to']:.1f} % (target 30), keys: {', '.join(seen['keys'])}, dragged to "
          f"{seen['final']:.1f} % (target 35); the screenshot after differs from the one before in "
          f"{100 * seen['changed']:.1f} % of its pixels; it is {out} ({out.stat().st_size / 1024:.0f} KB, "
          f"{size[0]}x{size[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
