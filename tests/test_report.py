"""The evaluation report: the files ``save_outputs`` writes, the crops' window and labels, and the structure of
``index.html`` (a slider per image, truthful labels, relative links that exist, escaping); a check in headless
Chromium that skips without it."""

from __future__ import annotations

import json
import shutil
import sys
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from jaxsr import models
from jaxsr.eval.evaluation import evaluate
from jaxsr.eval.inference import Upscaler
from jaxsr.base.io import to_uint8
from jaxsr.eval.report import COMPARE_SUFFIX, WINDOW_SUFFIX, crop_window, save_outputs, write_report
from jaxsr.eval.report_page import SCRIPT, STYLE

sys.path.insert(0, str(REPO / "benchmarks"))
import report_screenshot as rs  # noqa: E402

HOSTILE = "a <x> & 'c' \"d\" #1 %20"  # HTML-special, URL-special and an escaped-looking sequence


class Page(HTMLParser):
    """The elements of a page as [tag, attributes, its text up to the next tag], in order; text after an end
    tag is a ``#text`` element."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[list] = []
        self.closed = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append([tag, dict(attrs), ""])
        self.closed = False

    def handle_endtag(self, tag):
        self.closed = True

    def handle_data(self, data):
        if self.closed or not self.elements:
            self.elements.append(["#text", {}, ""])
            self.closed = False
        self.elements[-1][2] += data

    def find(self, tag, cls=None):
        return [e for e in self.elements if e[0] == tag and (cls is None or cls in e[1].get("class", "").split())]

    def cards(self):
        """Per ``<article class=card>``: its elements up to the next card."""
        starts = [i for i, e in enumerate(self.elements) if e[0] == "article"] + [len(self.elements)]
        return [self.elements[a:b] for a, b in zip(starts, starts[1:])]


def _text(elements) -> str:
    return "".join(e[2] for e in elements)


def _images(shape, rng, window=None):
    """An ``images`` dict as the evaluation gives it; the model differs from bicubic only in ``window``
    (top, left, size)."""
    hr = rng.random(shape)
    bicubic_y = rng.random(shape[:2]) * 0.5
    sr_y = bicubic_y.copy()
    if window:
        t, l, c = window
        sr_y[t:t + c, l:l + c] += 0.4
    out = {"hr": hr, "sr_y": sr_y, "bicubic_y": bicubic_y}
    if len(shape) == 3:
        out.update(sr_rgb=np.repeat(sr_y[..., None], 3, -1), bicubic_rgb=np.repeat(bicubic_y[..., None], 3, -1))
    return out


def test_crop_window_is_the_planted_difference(rng):
    images = _images((40, 52), rng, (9, 17, 12))
    assert crop_window(images["sr_y"], images["bicubic_y"], 12) == (9, 17, 12)
    assert crop_window(images["sr_y"], images["bicubic_y"], 100)[2] == 40  # the window fits in the image
    flat = np.full((20, 20), 0.5)
    assert crop_window(flat, flat, 8) == (0, 0, 8)  # no difference: the first window


@pytest.mark.parametrize("shape", [(60, 50, 3), (60, 50)])
def test_save_outputs_writes_whole_images_crops_and_their_window(rng, tmp_path, shape):
    images = _images(shape, rng, (20, 10, 24))
    metrics = {"psnr": 31.5, "bicubic_psnr": 30.25}
    window = save_outputs(tmp_path, "im", images, 2, metrics, "NET", crop=24, min_side=64)
    assert window == {"x": 10, "y": 20, "size": 24, "zoom": 3, "width": 50, "height": 60}
    assert json.loads((tmp_path / f"im{WINDOW_SUFFIX}").read_text()) == window

    def read(path):
        a = np.asarray(Image.open(tmp_path / path))
        return a if a.ndim == 2 or len(shape) == 3 else a[..., 0]

    sr = images["sr_rgb"] if len(shape) == 3 else images["sr_y"]
    bicubic = images["bicubic_rgb"] if len(shape) == 3 else images["bicubic_y"]
    np.testing.assert_array_equal(read("im.png"), to_uint8(sr))
    np.testing.assert_array_equal(read("bicubic/im.png"), to_uint8(bicubic))
    np.testing.assert_array_equal(read("hr/im.png"), to_uint8(images["hr"]))
    crops = np.asarray(Image.open(tmp_path / f"im{COMPARE_SUFFIX}").convert("RGB"))
    side, gap, label = 24 * 3, 8, 28
    for k, whole in enumerate((images["hr"], bicubic, sr)):
        tile = crops[label:label + side, k * (side + gap):k * (side + gap) + side]
        want = to_uint8(whole[20:44, 10:34]).repeat(3, 0).repeat(3, 1)
        want = want if want.ndim == 3 else np.repeat(want[..., None], 3, -1)
        np.testing.assert_array_equal(tile, want)  # the window, enlarged ×3 by nearest neighbour
    footer = crops[label + side:].min(axis=-1)
    assert footer.shape[0] >= 14 and footer.min() < 100 and footer.max() == 255  # the window's line of text


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of a bicubic evaluation of a colour image under a hostile name and a gray one, in a dataset
    whose name is hostile too; the model's label is hostile."""
    rng = np.random.default_rng(1)
    folder = tmp_path_factory.mktemp("report")
    items = [SimpleNamespace(name=HOSTILE, image=np.round(rng.random((30, 26, 3)) * 255) / 255, note=None),
             SimpleNamespace(name="gray", image=np.round(rng.random((26, 34)) * 255) / 255, note=None)]
    factory = lambda s: Upscaler(models.get("bicubic"), {}, s)  # noqa: E731
    dataset = "Set & <5>"
    results = evaluate(factory, {dataset: items}, [2], progress=False, save_images=folder, label="M<&>")
    index = write_report(folder, results, {"label": "M<&>", "scales": [2]}, folder)
    return SimpleNamespace(index=index, folder=folder, dataset=dataset, names=[HOSTILE, "gray"],
                           sizes=[(26, 30), (34, 26)])


def _links(page: Page):
    return [e[1]["src"] for e in page.find("img")] + [e[1]["value"] for e in page.find("option")]


def test_report_has_a_slider_and_labeled_crops_per_image(report):
    text = report.index.read_text()
    page = Page(text)
    cards = page.cards()
    assert [_text([c[0], *[e for e in c if e[0] == "h3"]]).strip() for c in cards] == report.names
    assert len(page.find("input", "win")) == 2 and len([e for e in page.find("input")
                                                        if e[1].get("type") == "range"]) == 2
    for card, name, (w, h) in zip(cards, report.names, report.sizes):
        ranges = [e for e in card if e[0] == "input" and e[1].get("type") == "range"]
        assert len(ranges) == 1 and ranges[0][1]["aria-label"].startswith(f"{name}: bicubic left")
        assert [e[1].get("class") for e in card if e[0] == "img"] == ["base", "top", None]  # slider, crops
        window = json.loads((report.folder / report.dataset / "x2" / f"{name}{WINDOW_SUFFIX}").read_text())
        caption = _text(card)
        assert f"Whole image, {w}×{h} px" in caption
        c = window["size"]
        assert f"Crop {c}×{c} px at x={window['x']}, y={window['y']} of the {w}×{h} image, enlarged " \
               f"×{window['zoom']} (nearest neighbour)" in caption
        assert "the scores on it are the whole image's" in caption and "(whole image)" in caption
        box = next(e for e in card if e[0] == "div" and e[1].get("class") == "window")[1]["style"]
        assert f"left:{100 * window['x'] / w:.4f}%" in box and f"width:{100 * c / w:.4f}%" in box
        options = [(e[1]["data-key"], e[2]) for e in card if e[0] == "option"]
        assert options == [("bicubic", "bicubic"), ("model", "M<&>"), ("hr", "HR")] * 2  # left, right


def test_report_links_are_relative_existing_and_movable(report, tmp_path):
    page = Page(report.index.read_text())
    links = _links(page)
    assert len(links) == 2 * (2 + 1 + 6)  # per image: 2 slider images, the crops, 2 × 3 options
    moved = tmp_path / "moved"
    shutil.copytree(report.folder, moved)
    for link in links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc and not link.startswith("/"), link
        assert (moved / unquote(link)).is_file(), link
    assert any(unquote(link).endswith(f"hr/{HOSTILE}.png") for link in links)


def test_report_escapes_names_and_needs_nothing_from_outside(report):
    text = report.index.read_text()
    markup = text.replace(STYLE, "").replace(SCRIPT, "")  # the page's own CSS and JS aside
    assert markup != text and STYLE in text and SCRIPT in text
    for raw in (HOSTILE, "<x>", "<5>", "M<&>", "'c'", '"d"'):
        assert raw not in markup, raw  # escaped in text and attributes
    assert all("#" not in link and "?" not in link and " " not in link for link in _links(Page(text)))
    page = Page(text)
    assert [e[2] for e in page.find("h2")][-1] == "Set & <5> x2"  # the parser gets the names back
    assert page.find("h1")[0][2] == "jaxsr evaluation: M<&>"
    assert not page.find("link") and all("src" not in e[1] for e in page.find("script"))
    assert "http:" not in text and "https:" not in text and "url(" not in text  # no external asset


def test_report_without_images_or_window(tmp_path, rng):
    results = {"D": {"2": {"psnr": 30.0, "bicubic_psnr": 29.0, "images": 2, "seconds_per_image": None,
                           "seconds_per_image_with_compile": None,
                           "per_image": [{"name": "scored_elsewhere", "psnr": 30.0, "bicubic_psnr": 29.0},
                                         {"name": "bad_window", "psnr": 30.0, "bicubic_psnr": 29.0}]}}}
    folder = tmp_path / "D" / "x2"
    save_outputs(folder, "bad_window", _images((30, 30), rng), 2, results["D"]["2"]["per_image"][1])
    (folder / f"bad_window{WINDOW_SUFFIX}").write_text('{"x": "<script>"}')
    page = Page(write_report(tmp_path, results, {}, tmp_path).read_text())
    elsewhere, bad = page.cards()
    assert not [e for e in elsewhere if e[0] in ("img", "input", "figure")]  # listed, without images
    assert "PSNR: bicubic 29.00 dB, model 30.00 dB" in _text(elsewhere)
    assert "Crops (window not recorded)" in _text(bad) and "<script>" not in _text(bad)
    assert "Whole image, 30×30 px" in _text(bad) and not [e for e in bad if e[1].get("class") == "window"]
    assert len([e for e in bad if e[0] == "input" and e[1].get("type") == "range"]) == 1


chromium = pytest.mark.skipif(rs.find_chromium() is None,
                              reason="needs headless Chromium on PATH (Debian: apt-get install chromium)")


@chromium
def test_sliders_move_in_headless_chromium(report, tmp_path):
    """Opened from disk, the page's script runs: the address's #pos and #left, a drag with the mouse and
    the keys move the sliders (``benchmarks/report_screenshot.check_page`` reads them back and asserts);
    the screenshots before and after the drag differ, in a small part of the window (the slider)."""
    seen = rs.check_page(report.index, (1000, 900), tmp_path / "a.png", tmp_path / "b.png")
    assert seen["sliders"] == 2 and abs(seen["final"] - 35) <= 1
    assert Image.open(tmp_path / "a.png").size == (1000, 900)
    assert 0 < seen["changed"] < 0.05
