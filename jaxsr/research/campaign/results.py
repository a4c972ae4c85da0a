"""A campaign's results: its learning curve beside the VDSR paper's figures, and its trained params as a
weights file.

``curve`` draws Set5 PSNR against epochs (every scale evaluated; x2 in front) from ``metrics.jsonl``, with
the paper's Table 1 points (residual, lr 0.1, Set5 x2 after 10/20/40/80 epochs) and Table 2's {2,3,4} row
(Set5 x2/x3/x4 after 80 epochs), both from ``jaxsr/research/experiments/paper.json``, and the learning-rate drops
marked. ``export`` writes the params of the state file (``jaxsr.weights.params.save_params``: msgpack, with the
model's constructor arguments), never over an existing file.
"""

from __future__ import annotations

import json
from pathlib import Path

from jaxsr.base.errors import JaxsrError

__all__ = ["curve", "export", "evaluations", "paper_reference"]


def paper_reference() -> dict:
    """{"table1": {epoch: Set5 x2 PSNR}, "table2": {scale: Set5 PSNR}} of the paper's §4 (T91, residual,
    lr 0.1; trained on {2, 3, 4})."""
    paper = json.loads((Path(__file__).parents[1] / "experiments" / "paper.json").read_text())
    res = paper["residual"]
    table1 = dict(zip(res["epochs"], res["rows"]["residual"]["0.1"]))
    table2 = dict(zip(paper["scales"]["test_scales"], paper["scales"]["rows"]["2,3,4"]))
    return {"table1": table1, "table2": table2}


def evaluations(folder, dataset: str = "Set5") -> dict:
    """{scale: [(epoch, psnr), ...]} of every evaluation of ``dataset`` in the campaign's log, up to the
    state's step."""
    from jaxsr.research.campaign.runner import read_jsonl
    from jaxsr.research.campaign.state import read_meta

    folder = Path(folder)
    spe = json.loads((folder / "config.json").read_text())["steps_per_epoch"]
    meta = read_meta(folder / "state.msgpack")
    step = 0 if meta is None else int(meta["step"])
    out: dict[int, list] = {}
    for row in read_jsonl(folder / "metrics.jsonl"):
        if row.get("step", 0) > step:
            continue
        for key, value in row.items():
            parts = key.split("/")
            if len(parts) == 4 and parts[0] == "val" and parts[1] == dataset and parts[3] == "psnr":
                out.setdefault(int(parts[2][1:]), []).append((row["step"] / spe, value))
    return out


def curve(folder, out) -> Path:
    """Write the learning curve PNG (the first validation dataset, e.g. Set5) to ``out``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder, out = Path(folder), Path(out)
    resolved = json.loads((folder / "config.json").read_text())
    dataset = (str(resolved["eval"]["datasets"]).split(",")[0].strip() if resolved["eval"]["data_dir"]
               else "Embedded")
    curves = evaluations(folder, dataset)
    if not curves:
        raise JaxsrError(f"{folder}: no {dataset} evaluation in the log yet")
    ref = paper_reference()
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    colors = {2: "tab:blue", 3: "tab:orange", 4: "tab:green"}
    for scale in sorted(curves):
        epochs, psnr = zip(*curves[scale])
        ax.plot(epochs, psnr, "o-", ms=3.5, color=colors.get(scale), lw=2 if scale == 2 else 1.2,
                label=f"jaxsr, {dataset} x{scale}")
        if dataset == "Set5" and scale in ref["table2"]:
            ax.plot([80], [ref["table2"][scale]], "*", ms=11, color=colors.get(scale), mec="black", mew=0.6,
                    label=f"paper Table 2 {{2,3,4}}, x{scale}")
    if dataset == "Set5":  # the paper's §4 figures are Set5's
        t1 = sorted(ref["table1"].items())
        ax.plot([e for e, _ in t1], [p for _, p in t1], "s--", color="black", ms=5, lw=0.8,
                label="paper Table 1 (residual, lr 0.1), x2")
    spe, every = resolved["steps_per_epoch"], resolved["optim"]["decay_every_steps"]
    total_epochs = resolved["total_steps"] / spe
    for k, step in enumerate(range(every, resolved["total_steps"], every)):
        ax.axvline(step / spe, color="grey", ls=":", lw=1, label="lr ÷10" if k == 0 else None)
    ax.set_xlim(0, total_epochs + 2)
    ax.set_xlabel("epoch (125 steps of 64 patches on T91)" if spe == 125 else "epoch")
    ax.set_ylabel("PSNR (dB), Y, default protocol")
    ax.set_title(f"{folder.name}: {dataset} PSNR during training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right", ncol=2)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def export(folder, out, overwrite: bool = False) -> Path:
    """The state's params as a weights file (``.msgpack`` with the model's kwargs), restored through the
    state file's own checks (fit to the campaign's model, digest, config); refuses non-finite params and
    an existing ``out`` (unless ``overwrite``)."""
    import jax

    from jaxsr import models
    from jaxsr.research.campaign.runner import _config_sha, _open
    from jaxsr.research.campaign.state import StateFile
    from jaxsr.weights.checkpoint import digest
    from jaxsr.weights.params import init_params, save_params

    folder, out = Path(folder), Path(out)
    if out.exists() and not overwrite:
        raise JaxsrError(f"{out} exists (pass --overwrite to replace it)")
    record, config = _open(folder)
    path = folder / "state.msgpack"
    model = models.build(config.model.name, int(config.data.scales[0]), **dict(config.model.kwargs))
    local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    like = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=local),
                                  jax.eval_shape(lambda: init_params(model)))
    restored = StateFile(path, {"config_sha256": _config_sha(record)}, config.batch_size).restore(like)
    if restored is None:
        raise JaxsrError(f"{path}: the campaign has no state yet; nothing exported")
    params = jax.device_get(restored[1])
    if not digest(params)[1]:
        raise JaxsrError(f"{path}: the params are not finite; nothing exported")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_params(out, params, dict(config.model.kwargs), overwrite=overwrite)
    return out
