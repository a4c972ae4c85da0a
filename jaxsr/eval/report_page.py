"""The HTML of the evaluation report (``jaxsr.eval.report.write_report``): its style, its script and one image's card.

The page is one file with no external assets (it opens from disk, offline). It spans the window's width:
the metadata in columns, the table across, and per image a card with two panes side by side when they fit
(stacked otherwise):

* a before/after comparison of the *whole* images: the left choice (default bicubic) drawn over the right
  one (default the model) and clipped at a vertical line that an ``<input type=range>`` covering the image
  moves (drag anywhere on it, or focus it and use the arrow keys, Page Up/Down, Home/End); two selects pick
  each side among bicubic, the model and HR; a dashed box marks the crops' window;
* the labeled crops (``<name>_compare.png``), captioned with their window and enlargement.

``?pos=P`` or ``#pos=P`` (0–100) in the address starts every slider at P %, ``left=K`` and ``right=K``
(K: bicubic, model, hr) pick its sides, e.g. ``index.html#pos=20&left=hr`` (for a screenshot).
All text is HTML-escaped by the caller's helpers here; all paths arrive URL-quoted and are escaped again.
"""

from __future__ import annotations

import html

__all__ = ["STYLE", "SCRIPT", "image_card"]

LAZY = " loading='lazy' decoding='async'"  # a report of hundreds of images loads what is on screen

STYLE = """
:root{--line:#ccc;--muted:#555}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#111;
 padding:1rem clamp(1rem,2.5vw,2.5rem)}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.4rem 0 .5rem}h3{font-size:1rem;margin:0}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,24rem),1fr));gap:.15rem 2rem;margin:0}
.facts div{display:flex;gap:.5em;min-width:0}.facts dt{font-weight:600;white-space:nowrap}
.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto}table{border-collapse:collapse;min-width:min(100%,40rem)}
td,th{border:1px solid var(--line);padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.howto{color:var(--muted);font-size:.9rem}
.card{border-top:1px solid var(--line);padding:.8rem 0 1.2rem}.card .scores{margin:.1rem 0 .6rem}
.panes{display:flex;flex-wrap:wrap;gap:1rem 2rem;align-items:flex-start}
.panes figure{margin:0;min-width:0}.whole{flex:1 1 22rem}.crops{flex:0 1 auto}
figcaption{color:var(--muted);font-size:.9rem;margin-top:.35rem}figcaption b{color:#111}
.compare{position:relative;--pos:50%;max-width:100%;user-select:none;-webkit-user-select:none}
.compare img{display:block;width:100%;height:auto;image-rendering:pixelated}
.compare img.top{position:absolute;inset:0;height:100%;clip-path:inset(0 calc(100% - var(--pos)) 0 0)}
.compare .line{position:absolute;top:0;bottom:0;left:var(--pos);width:2px;margin-left:-1px;background:#fff;
 box-shadow:0 0 0 1px rgba(0,0,0,.6);pointer-events:none}
.compare .line::after{content:"\\25C0\\25B6";position:absolute;top:50%;left:50%;transform:translate(-50%,-50%);
 background:#fff;color:#111;font-size:11px;line-height:1;padding:5px 4px;border-radius:12px;
 box-shadow:0 0 0 1px rgba(0,0,0,.6);white-space:nowrap}
.compare input{position:absolute;inset:0;width:100%;height:100%;margin:0;padding:0;opacity:0;cursor:ew-resize;
 -webkit-appearance:none;appearance:none;background:none}
.compare input::-webkit-slider-thumb{-webkit-appearance:none;width:1px;height:100%}
.compare input::-moz-range-thumb{width:1px;height:100%;border:0}
.compare:focus-within{outline:3px solid #1a73e8;outline-offset:2px}
.badge{position:absolute;top:.4rem;padding:1px 6px;background:rgba(0,0,0,.7);color:#fff;font-size:.8rem;
 border-radius:3px;pointer-events:none}.badge.l{left:.4rem}.badge.r{right:.4rem}
.window{position:absolute;border:2px dashed #ffeb3b;outline:1px solid rgba(0,0,0,.7);pointer-events:none}
.nowindow .window{display:none}
.crops img{display:block;max-width:100%;height:auto;image-rendering:pixelated}
select{font:inherit;font-size:.85rem}
"""

SCRIPT = """
(function () {
  var where = location.search + location.hash;
  function arg(key) { var m = new RegExp('[?#&]' + key + '=([0-9A-Za-z.]+)').exec(where); return m && m[1]; }
  var start = arg('pos') === null ? null : Math.min(100, Math.max(0, parseFloat(arg('pos')) || 0));
  var side = {l: arg('left'), r: arg('right')};
  document.querySelectorAll('.compare').forEach(function (box) {
    var card = box.closest('.card'), range = box.querySelector('input');
    var top = box.querySelector('img.top'), base = box.querySelector('img.base');
    var pick = {l: card.querySelector('select.l'), r: card.querySelector('select.r')};
    var badge = {l: box.querySelector('.badge.l'), r: box.querySelector('.badge.r')};
    var shown = card.querySelector('.shown');
    function name(k) { return pick[k].options[pick[k].selectedIndex].text; }
    function move() {
      box.style.setProperty('--pos', range.value + '%');
      range.setAttribute('aria-valuetext', name('l') + ' left of ' + Math.round(range.value) + ' %, ' +
                         name('r') + ' right');
    }
    function choose() {
      top.src = pick.l.value; base.src = pick.r.value;
      badge.l.textContent = name('l'); badge.r.textContent = name('r'); move();
    }
    function scale() {
      if (shown && base.naturalWidth) {
        shown.textContent = 'shown at ' + (base.getBoundingClientRect().width / base.naturalWidth).toFixed(2) +
                            '\\u00d7 (CSS pixels)';
      }
    }
    if (start !== null) range.value = start;
    ['l', 'r'].forEach(function (k) {
      for (var i = 0; side[k] && i < pick[k].options.length; i++) {
        if (pick[k].options[i].getAttribute('data-key') === side[k]) pick[k].selectedIndex = i;
      }
    });
    if (side.l || side.r) choose();
    range.addEventListener('input', move);
    pick.l.addEventListener('change', choose); pick.r.addEventListener('change', choose);
    var toggle = card.querySelector('input.win');
    if (toggle) toggle.addEventListener('change', function () { box.classList.toggle('nowindow', !toggle.checked); });
    base.addEventListener('load', scale); window.addEventListener('resize', scale);
    move(); scale();
  });
})();
"""


def _options(sources: dict, chosen: str) -> str:
    return "".join(f"<option value='{html.escape(url, quote=True)}' data-key='{key}'"
                   f"{' selected' if key == chosen else ''}>"
                   f"{html.escape(text)}</option>" for key, (text, url) in sources.items())


def image_card(index: int, name: str, scores: str, sources: dict, whole_size: tuple[int, int] | None = None,
               crops_url: str | None = None, crops_size: tuple[int, int] | None = None,
               window: dict | None = None, label: str = "model") -> str:
    """One image's ``<article class='card'>``.

    Args:
      index: a number unique in the page (element ids, ``img-<index>``).
      name: the image's name; ``scores``: its line of whole-image scores (plain text; both escaped here).
      sources: ``{"bicubic" | "model" | "hr": (label, url)}`` of the whole images that exist (URL-quoted,
        relative); the slider is drawn when "bicubic" and "model" are there. ``whole_size``: their (width,
        height) in pixels if known.
      crops_url: the labeled crops' URL, or None when the file is missing; ``crops_size`` its (width,
        height) in pixels if known (the pane is that wide when the page allows, narrower otherwise).
      window: the crops' window ``{"x", "y", "size", "zoom", "width", "height"}`` (HR pixels) or None when
        not recorded.
      label: the model's name.
    """
    e = html.escape
    out = [f"<article class='card' id='img-{index}'><h3>{e(name)}</h3>"
           f"<p class='scores'>{e(scores)} <span class='howto'>(whole image)</span></p><div class='panes'>"]
    if "bicubic" in sources and "model" in sources:
        (left_name, left), (right_name, right) = sources["bicubic"], sources["model"]
        size = fit = box = ""
        dims = "size unknown"
        if whole_size:
            (w, h), dims = whole_size, f"{whole_size[0]}×{whole_size[1]} px"
            size = f" width='{w}' height='{h}'"
            # As wide as the pane allows, at most 4× the image and 80 % of the window's height.
            fit = f" style='width:min(100%,{4 * w}px,calc(80vh * {w / h:.6f}))'"
            if window:
                box = (f"<div class='window' style='left:{100 * window['x'] / w:.4f}%;"
                       f"top:{100 * window['y'] / h:.4f}%;width:{100 * window['size'] / w:.4f}%;"
                       f"height:{100 * window['size'] / h:.4f}%'></div>")
        aria = f"{name}: {left_name} left of the line, {right_name} right"
        out.append(
            f"<figure class='whole'><div class='compare'{fit}>"
            f"<img class='base' src='{e(right, quote=True)}' alt='{e(name, quote=True)}'{size}{LAZY}>"
            f"<img class='top' src='{e(left, quote=True)}' alt=''{size}{LAZY}>{box}<div class='line'></div>"
            f"<span class='badge l'>{e(left_name)}</span><span class='badge r'>{e(right_name)}</span>"
            f"<input type='range' min='0' max='100' step='any' value='50' aria-label='{e(aria, quote=True)}'>"
            f"</div><figcaption><b>Whole image</b>, {dims}, <span class='shown'>scaled to fit</span>. "
            f"Left of the line <select class='l' aria-label='left image'>{_options(sources, 'bicubic')}</select>, "
            f"right <select class='r' aria-label='right image'>{_options(sources, 'model')}</select>; "
            "drag on the image, or focus it and use ←/→."
            + (" <label><input type='checkbox' class='win' checked> dashed box: the crops' window</label>"
               if box else "") + "</figcaption></figure>")
    if crops_url is not None:
        if window:
            what = (f"<b>Crop</b> {window['size']}×{window['size']} px at x={window['x']}, y={window['y']} "
                    f"of the {window['width']}×{window['height']} image, enlarged ×{window['zoom']} "
                    "(nearest neighbour)")
        else:
            what = "<b>Crops</b> (window not recorded)"
        basis = dims = ""
        if crops_size:
            basis = f" style='flex-basis:{crops_size[0]}px'"
            dims = f" width='{crops_size[0]}' height='{crops_size[1]}'"
        out.append(f"<figure class='crops'{basis}><img src='{e(crops_url, quote=True)}'{dims}{LAZY} "
                   f"alt='{e(name + ': crops', quote=True)}'><figcaption>{what}, where {e(label)} differs most "
                   "from bicubic; the scores on it are the whole image's.</figcaption></figure>")
    out.append("</div></article>")
    return "".join(out)
