"""Every ```python block of README.md and of docs/*.md runs as written.

Each block runs in a fresh folder holding the weight files it names: the real ones from ../shared/ where
present (``../shared/...`` paths in a block point there too), otherwise random-init files of the same model
in the same format (MatConvNet .mat, EDSR-PyTorch .pt), so the code — not the numbers — is what is checked.
"""

import re
from pathlib import Path

import jax
import numpy as np
import pytest

from conftest import REPO, SHARED
from jaxsr import models
from jaxsr.weights.params import init_params

README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
FILE_NAME = re.compile(r"""["']([^"']+\.(?:mat|pt|pth|msgpack))["']""")
# EDSR-PyTorch's published file names → (registered model, scale)
TORCH_FILE = re.compile(r"(edsr_baseline|edsr|mdsr_baseline|mdsr)(?:_x(\d))?-[0-9a-f]{8}\.pt$")


def python_blocks(page: Path = README) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block of ``page``."""
    blocks, lines = [], page.read_text().splitlines()
    start = None
    for i, line in enumerate(lines):
        if start is None and line.strip() == "```python":
            start = i + 1
        elif start is not None and line.strip() == "```":
            blocks.append((start + 1, "\n".join(lines[start:i]) + "\n"))
            start = None
    assert start is None, f"unterminated ```python block in {page.name}"
    return blocks


def random_params(model) -> dict:
    """Small random numbers in the shapes of ``model``'s params (numpy: no initialisation to compile)."""
    rng = np.random.default_rng(0)
    shapes = jax.eval_shape(lambda: init_params(model))
    return jax.tree_util.tree_map(lambda a: rng.normal(0, 0.01, a.shape).astype(np.float32), shapes)


def provide(name: str, folder: Path) -> bool:
    """Put the weights file ``name`` in ``folder``: the shared original (True), else random-init weights of the
    same model in the same format (False)."""
    target = folder / name
    shared = SHARED / "weights" / name
    if shared.is_file():
        target.symlink_to(shared)
        return True
    if name == "VDSR_Official.mat":
        from test_weights import write_matconvnet

        write_matconvnet(target, random_params(models.VDSR()), depth=20)
    elif TORCH_FILE.match(name):
        from test_torch_import import to_torch_layout, write_checkpoint

        model_name, scale = TORCH_FILE.match(name).groups()
        model = models.get(model_name, **({"scale": int(scale)} if scale else {}))
        write_checkpoint(target, to_torch_layout(model, random_params(model)))
    else:
        pytest.fail(f"README.md names a weights file the test cannot provide: {name}")
    return False


BLOCKS = [(page, line, code) for page in PAGES for line, code in python_blocks(page)]


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 2  # "Use from JAX" and "Models and weights"


@pytest.mark.parametrize("page, line, code", BLOCKS,
                         ids=[f"{page.relative_to(REPO)}:{line}" for page, line, _ in BLOCKS])
def test_python_block_runs(page, line, code, tmp_path, monkeypatch, capsys):
    """Runs the block; with the real weights, what it prints must be quoted on its page as printed."""
    code = code.replace("../shared/", f"{SHARED}/")
    names = sorted(set(FILE_NAME.findall(code)))
    real = all([provide(name, tmp_path) for name in names if not Path(name).is_absolute()])
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page}:{line}", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out.strip()
    if real and printed:
        assert f"`{printed}`" in page.read_text(), f"{page.name}:{line} prints {printed!r}, the page says otherwise"


def test_every_relative_link_resolves():
    """Links of the repository's own Markdown pages (README.md, docs/, CONTRIBUTING.md, benchmarks/,
    campaigns/) to its files (and their #anchors) exist."""
    link = re.compile(r"\]\(([^)\s]+)\)")
    pages = [*PAGES, *sorted(REPO.glob("*.md")), *sorted(REPO.glob("benchmarks/*.md")),
             *sorted(REPO.glob("campaigns/**/*.md"))]
    assert REPO / "campaigns" / "README.md" in pages
    for page in dict.fromkeys(pages):
        for target in link.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name} links to {target}, which does not exist"
            if anchor and file.suffix == ".md":
                assert anchor in _anchors(file), f"{page.name} links to {target}: no such heading"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    out = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out
