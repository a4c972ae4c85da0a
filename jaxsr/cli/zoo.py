"""``jaxsr zoo`` (``python -m jaxsr.zoo``): list the model zoo; ``jaxsr zoo measure --data_dir DATA``: re-measure it.

  jaxsr zoo                                  # every entry: files, source, citation, license, scores
  jaxsr zoo --json                           # the same as JSON (jaxsr/pretrained/zoo.json, parsed)
  jaxsr zoo measure --data_dir DATA          # re-measure the shipped entries on DATA/Set5, Set14, B100
  jaxsr zoo measure --data_dir DATA --weights_dir WEIGHTS --write   # also published files; store them
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from jaxsr.weights import zoo

__all__ = ["listing", "score_table", "main"]


def _mib(n: int | None) -> str:
    return "size unknown" if n is None else f"{n / 2 ** 20:.2f} MiB"


def score_table(entries, datasets, scales, digits: int = 2) -> str:
    """Markdown: one row per entry and dataset, PSNR / SSIM per scale ("–" where not measured)."""
    lines = ["| entry | dataset | " + " | ".join(f"x{s}" for s in scales) + " |", "|---|---|" + "---|" * len(scales)]
    for e in entries:
        for d in datasets:
            cells = [e.scores.get(d, {}).get(str(s)) for s in scales]
            if not any(cells):
                continue
            lines.append(f"| {e.name} | {d} | " + " | ".join(
                f"{c['psnr']:.{digits}f} / {c['ssim']:.4f}" if c else "–" for c in cells) + " |")
    return "\n".join(lines)


def _describe(e: zoo.Entry, defaults: dict) -> list[str]:
    default_for = [m for m, n in defaults.items() if n == e.name]
    head = f"{e.name}  [{', '.join(e.models)}; x{', x'.join(map(str, e.scales))}]"
    head += f"  default for {', '.join(default_for)}" if default_for else ""
    lines = [head, f"  {e.architecture}", f"  trained on {e.trained_on}", f"  source: {e.source}",
             f"  links: {' '.join(e.urls)}", f"  cite: {e.citation}", f"  license: {e.license}"]
    for f in e.files:
        where = f"jaxsr/pretrained/{f.name}" if e.shipped else f.name
        digest = f"sha256 {f.sha256}" if f.sha256 else "sha256 not recorded"
        line = f"  file (x{', x'.join(map(str, f.scales))}): {where}, {_mib(f.bytes)}, {digest}"
        if f.source:
            line += f"; converted from {f.source['name']}"
            line += f" ({f.source['published_as']})" if f.source.get("published_as") else ""
            line += f", sha256 {f.source['sha256']}" if f.source.get("sha256") else ""
        elif f.published_as:
            line += f" (published as {f.published_as})"
        lines.append(line + (f"; get it from {f.url}" if f.url else ""))
    return lines


def listing() -> str:
    """The zoo as text: shipped entries, then the importable ones, then the score table."""
    cat = zoo.catalogue()
    shipped = [e for e in cat["entries"] if e.shipped]
    other = [e for e in cat["entries"] if not e.shipped]
    out = ["Shipped with jaxsr: jaxsr.load(model) uses the model's default, weights=\"<entry>\" (--weights <entry>) "
           "any of them.", ""]
    for e in shipped:
        out += _describe(e, cat["defaults"]) + [""]
    out += ["Published weights jaxsr imports (not shipped): download the file, then pass its path as weights= / "
            "--weights.", ""]
    for e in other:
        out += _describe(e, cat["defaults"]) + [""]
    out += [f"PSNR (dB) / SSIM on Y, protocol {cat['protocol']!r} (jaxsr zoo measure re-measures it):", "",
            score_table(cat["entries"], cat["datasets"], cat["scales"])]
    return "\n".join(out)


def _parser(prog: str = "python -m jaxsr.zoo") -> argparse.ArgumentParser:
    from jaxsr.cli.catalog import weights_help

    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1] + "\n" + weights_help(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", choices=("list", "measure"), default="list")
    p.add_argument("--json", action="store_true", help="list: print the zoo as JSON")
    p.add_argument("--data_dir", help="measure: folder with one sub-folder of HR images per dataset")
    p.add_argument("--entries", help="measure: comma-separated entries (default: every one whose weights are at hand)")
    p.add_argument("--datasets", help="measure: comma-separated datasets (default: the zoo's: Set5,Set14,B100)")
    p.add_argument("--scales", help="measure: comma-separated scales (default: 2,3,4; each entry at its own)")
    p.add_argument("--weights_dir", help="measure: folder searched for the published files of entries not shipped")
    p.add_argument("--write", action="store_true", help="measure: store the figures in jaxsr/pretrained/zoo.json")
    p.add_argument("--no_progress", action="store_true", help="measure: no progress bars")
    return p


def _measure(args) -> None:
    from jaxsr.cli import parse_scales
    from jaxsr.base.errors import UsageError
    from jaxsr.research.zoo_measure import differences, measure, write_scores

    if not args.data_dir:
        raise UsageError("measure needs --data_dir")
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()] if v else None  # noqa: E731
    measured, skipped = measure(args.data_dir, split(args.entries), split(args.datasets),
                                parse_scales(split(args.scales)) if args.scales else None, args.weights_dir,
                                progress=not args.no_progress, log=lambda m: print(f"measuring {m}", file=sys.stderr))
    for s in skipped:
        print(f"note: left out {s}", file=sys.stderr)
    print("| entry | dataset | scale | PSNR / SSIM | stored | Δ |\n|---|---|---|---|---|---|")
    for r in differences(measured):
        stored = "–" if r["stored_psnr"] is None else f"{r['stored_psnr']:.4f} / {r['stored_ssim']:.4f}"
        diff = "–" if r["psnr_diff"] is None else f"{r['psnr_diff']:+.4f} / {r['ssim_diff']:+.4f}"
        print(f"| {r['entry']} | {r['dataset']} | x{r['scale']} | {r['psnr']:.4f} / {r['ssim']:.4f} | {stored} "
              f"| {diff} |")
    print(f"wrote {write_scores(measured)}" if args.write else
          "wrote nothing (--write stores the figures in jaxsr/pretrained/zoo.json)", flush=True)


def main(argv=None, prog: str = "python -m jaxsr.zoo") -> int:
    """The command (``argv`` default: ``sys.argv[1:]``); returns the exit status."""
    from jaxsr.cli import run_cli

    args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)

    def run():
        if args.command == "measure":
            return _measure(args)
        if args.json:
            cat = zoo.catalogue()
            print(json.dumps({**cat, "entries": [dataclasses.asdict(e) for e in cat["entries"]]}, indent=2))
        else:
            print(listing())

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
