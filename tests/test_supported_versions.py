"""setup.cfg's lower bounds are the versions CI's "lowest" job installs (.ci/lowest.txt), and .ci/run tests
both ends: the lowest on Python 3.11, the newest on 3.12."""

from __future__ import annotations

import configparser
import re

from conftest import REPO


def _requirements() -> dict[str, str]:
    """{name: lower bound} of setup.cfg's install_requires and its test extra."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    lines = cfg["options"]["install_requires"].split("\n") + cfg["options.extras_require"]["test"].split("\n")
    out = {}
    for line in filter(None, (l.strip() for l in lines)):
        name, bound = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", line).groups()
        out[name.lower()] = bound
    return out


def test_lower_bounds_are_the_tested_versions():
    pins = {}
    for line in (REPO / ".ci" / "lowest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    assert _requirements() == pins


def test_ci_runs_the_lowest_and_the_newest():
    run = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^job lowest 3\.11 -c \.ci/lowest\.txt", run, re.M)
    assert re.search(r"^job newest 3\.1[23]\s*(\|\||$)", run, re.M)
