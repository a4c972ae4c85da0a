"""Wall time of ``jaxsr --help`` and of every ``jaxsr COMMAND --help`` (issue 22: under 1 s on a quiet machine).

  python benchmarks/cli_help.py                 # median of 5 runs each, this checkout's jaxsr
  python benchmarks/cli_help.py --runs 9 --json cli_help.json

Each run is a fresh interpreter (``python -m jaxsr COMMAND --help``: the installed console script starts the
same way), timed from start to exit; a run also reports whether JAX was imported (it must not be). The
load of the machine is printed beside the figures (``os.getloadavg``): on a loaded machine every figure is
larger than on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["", "train", "evaluate", "upscale", "convert", "zoo", "paper", "experiments", "campaign", "config"]
_PROBE = ("import atexit, sys\natexit.register(lambda: sys.stderr.write('JAX' if 'jax' in sys.modules else ''))\n"
          "from jaxsr.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")


def time_help(command: str, runs: int) -> dict:
    """``{"command", "median_s", "min_s", "runs_s", "jax_imported"}`` over ``runs`` fresh interpreters."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-c", _PROBE, *([command] if command else []), "--help"]
    times, jax = [], False
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        times.append(time.perf_counter() - start)
        if r.returncode != 0:
            raise SystemExit(f"error: jaxsr {command} --help exited {r.returncode}: {r.stderr.strip()[-300:]}")
        jax = jax or r.stderr.endswith("JAX")
    return {"command": f"jaxsr {command}".strip(), "median_s": statistics.median(times), "min_s": min(times),
            "runs_s": times, "jax_imported": jax}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args()
    load_before = os.getloadavg()
    rows = [time_help(c, args.runs) for c in COMMANDS]
    load_after = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"median of {args.runs} runs")
    print("| command | median (s) | min (s) | JAX imported |\n|---|---|---|---|")
    for r in rows:
        print(f"| `{r['command']} --help` | {r['median_s']:.2f} | {r['min_s']:.2f} | {'yes' if r['jax_imported'] else 'no'} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": [load_before, load_after], "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
