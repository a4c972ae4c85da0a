"""An experiment's results as tables (jaxsr beside the paper's printed numbers), Markdown, JSON and a plot.

Tables are ``{"title", "columns", "rows": [{"label", "jaxsr": [dB | None], "paper": [dB | None]}]}``;
None is a value not reached (yet) or a diverged variant, shown as "—" (never a NaN).
"""

from __future__ import annotations

import io
import json
from importlib import resources

from jaxsr.base.io import atomic_write_bytes

__all__ = ["paper_numbers", "tables", "markdown", "plot"]


def paper_numbers() -> dict:
    """The paper's printed figures (``jaxsr/research/experiments/paper.json``, with its ``source`` note)."""
    return json.loads(resources.files("jaxsr.research.experiments").joinpath("paper.json").read_text())


def _psnr(ev, variant, dataset, scale):
    r = (ev or {}).get("results", {}).get(variant) if ev else None
    r = (r or {}).get(dataset, {}).get(str(scale))
    return None if r is None else round(float(r["psnr"]), 4)


def _last(record):
    return max(record["evals"], key=lambda e: e["step"]) if record["evals"] else None


def _at(record, step):
    return next((e for e in record["evals"] if e["step"] == step), None)


def tables(name: str, out: dict, datasets, scales) -> list[dict]:
    """The experiment's tables, one per evaluation dataset (paper numbers for Set5 only)."""
    paper, spe = paper_numbers(), out["steps_per_epoch"]
    result = []
    for d in datasets:
        use_paper = d == "Set5"
        if name == "depth":
            rows = []
            for g, rec in out["groups"].items():
                v, last = rec["meta"]["variants"][0]["name"], _last(rec)
                when = f" (epoch {last['epoch']:.3g})" if last and last["step"] != out["total_steps"] else ""
                rows.append({"label": f"{rec['meta']['depth']} layers{when}",
                             "jaxsr": [_psnr(last, v, d, s) for s in scales], "paper": [None] * len(scales)})
            result.append({"title": f"{d}: PSNR (dB) vs depth (paper: Fig. 3, a plot without printed numbers)",
                           "columns": [f"x{s}" for s in scales], "rows": rows})
        elif name == "residual":
            rec = next(iter(out["groups"].values()))
            epochs, s = paper["residual"]["epochs"], scales[0]
            last = _last(rec)
            columns = [f"{e} epochs" for e in epochs] + [f"last (epoch {last['epoch']:.3g})" if last else "last"]
            rows = []
            for lr in sorted({v["learning_rate"] for v in rec["meta"]["variants"]}, reverse=True):
                pair = []
                for kind in ("residual", "non-residual"):
                    v = f"{kind} lr {lr:g}"
                    ours = [_psnr(_at(rec, int(round(e * spe))), v, d, s) for e in epochs] + [_psnr(last, v, d, s)]
                    printed = paper["residual"]["rows"][kind].get(f"{lr:g}") if use_paper and s == 2 else None
                    pair.append(ours)
                    rows.append({"label": f"{kind}, lr {lr:g}", "jaxsr": ours,
                                 "paper": (printed or [None] * len(epochs)) + [None]})
                diff = [None if a is None or b is None else round(a - b, 4) for a, b in zip(*pair)]
                pd = [None if a is None or b is None else round(a - b, 2) for a, b in zip(rows[-2]["paper"],
                                                                                        rows[-1]["paper"])]
                rows.append({"label": f"difference, lr {lr:g}", "jaxsr": diff, "paper": pd})
            result.append({"title": f"{d} x{s}: PSNR (dB) of residual vs non-residual networks (paper: Table 1)",
                           "columns": columns, "rows": rows})
        else:
            rec = next(iter(out["groups"].values()))
            last = _last(rec)
            rows = [{"label": "{" + v["name"].replace("+", ",") + "}",
                     "jaxsr": [_psnr(last, v["name"], d, s) for s in scales],
                     "paper": [_paper_scales(paper, v["name"], s) if use_paper else None for s in scales]}
                    for v in rec["meta"]["variants"]]
            when = f" after epoch {last['epoch']:.3g}" if last else ""
            result.append({"title": f"{d}: PSNR (dB){when}, training scales (rows) × test scale (paper: Table 2)",
                           "columns": [f"test x{s}" for s in scales], "rows": rows})
    return result


def _paper_scales(paper, train_set: str, scale: int):
    row = paper["scales"]["rows"].get(train_set.replace("+", ","))
    tests = paper["scales"]["test_scales"]
    return row[tests.index(scale)] if row and scale in tests else None


def _cell(ours, printed) -> str:
    text = "—" if ours is None else f"{ours:.2f}"
    return text if printed is None else f"{text} ({printed:.2f})"


def markdown(name: str, out: dict, tabs: list[dict], plot_file: str) -> str:
    """The report: status line, tables with the paper's numbers in parentheses, the plot."""
    status = "complete" if out["complete"] else "partial (stopped early; rerun the command to continue)"
    lines = [f"# VDSR paper experiment: {name}", "",
             f"Status: {status}. One epoch = {out['steps_per_epoch']} steps (jaxsr.data.epochs); "
             f"{out['total_steps']} steps per variant. Cells: jaxsr (paper); — = not reached or diverged.", ""]
    for g, rec in out["groups"].items():
        lines.append(f"- {g}: step {rec.get('step', 0)} of {out['total_steps']}"
                     + (f"; diverged: {rec['diverged']}" if rec["diverged"] else ""))
    for t in tabs:
        lines += ["", f"## {t['title']}", "", "| | " + " | ".join(t["columns"]) + " |",
                  "|---" * (len(t["columns"]) + 1) + "|"]
        lines += ["| " + r["label"] + " | " + " | ".join(_cell(a, b) for a, b in zip(r["jaxsr"], r["paper"])) + " |"
                  for r in t["rows"]]
    lines += ["", f"![{name}]({plot_file})", "", f"Paper figures: {paper_numbers()['source']}", ""]
    return "\n".join(lines)


def plot(name: str, out: dict, scales, path) -> None:
    """The figure (matplotlib, Agg): Fig. 3 (PSNR vs depth per scale), Fig. 4 (PSNR vs epoch per learning
    rate, residual vs non-residual, Table 1's printed points as markers) or Table 2 (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paper, d = paper_numbers(), "Set5"
    groups = out["groups"]
    if name == "depth":
        fig, axes = plt.subplots(1, len(scales), figsize=(4 * len(scales), 3.2), squeeze=False)
        for ax, s in zip(axes[0], scales):
            pts = [(r["meta"]["depth"], _psnr(_last(r), r["meta"]["variants"][0]["name"], d, s))
                   for r in groups.values()]
            pts = [p for p in pts if p[1] is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label="jaxsr")
            ax.set(title=f"Test scale x{s}", xlabel="depth (weight layers)", ylabel="PSNR (dB)",
                   xticks=[p[0] for p in pts])
    elif name == "residual":
        rec = next(iter(groups.values()))
        lrs = sorted({v["learning_rate"] for v in rec["meta"]["variants"]}, reverse=True)
        fig, axes = plt.subplots(1, len(lrs), figsize=(4 * len(lrs), 3.2), squeeze=False)
        for ax, lr in zip(axes[0], lrs):
            for kind, colour in (("residual", "tab:blue"), ("non-residual", "tab:red")):
                v = f"{kind} lr {lr:g}"
                pts = [(e["epoch"], _psnr(e, v, d, scales[0])) for e in sorted(rec["evals"], key=lambda e: e["step"])]
                pts = [p for p in pts if p[1] is not None]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ".-", color=colour, label=f"{kind} (jaxsr)")
                printed = paper["residual"]["rows"][kind].get(f"{lr:g}")
                if printed and scales[0] == 2:
                    ax.plot(paper["residual"]["epochs"], printed, "o", mfc="none", color=colour,
                            label=f"{kind} (paper)")
            ax.set(title=f"Initial learning rate {lr:g}", xlabel="epochs", ylabel=f"PSNR (dB), x{scales[0]}")
    else:
        import numpy as np

        rec = next(iter(groups.values()))
        names = [v["name"] for v in rec["meta"]["variants"]]
        fig, ax = plt.subplots(1, 1, figsize=(8, 3.4), squeeze=False)
        ax = ax[0, 0]
        width = 0.8 / len(scales)
        for j, s in enumerate(scales):
            x = np.arange(len(names)) + j * width
            ours = [_psnr(_last(rec), n, d, s) for n in names]
            ax.bar(x, [np.nan if o is None else o for o in ours], width, label=f"test x{s} (jaxsr)")
            ax.plot(x, [_paper_scales(paper, n, s) or np.nan for n in names], "k_", ms=12)
        ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, ["{" + n.replace("+", ",") + "}" for n in names])
        values = [v for n in names for s in scales
                  for v in (_psnr(_last(rec), n, d, s), _paper_scales(paper, n, s)) if v is not None]
        ax.set(xlabel="training scales (black bars: paper)", ylabel="PSNR (dB)")
        if values:
            ax.set_ylim(min(values) - 1, max(values) + 0.5)
        axes = np.array([[ax]])
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"VDSR paper experiment '{name}', {d} (jaxsr)", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
