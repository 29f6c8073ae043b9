"""What ``--environment build`` costs the first time a declaration is met, against the later jobs that reuse it.

Prints figures measured in this run (the machine is shared and noisy; nothing here asserts a time).

    python benchmarks/environment_build.py [--rounds 3]

Each round builds the same small conda file (a "conda" package with a PyPI twin and a ``pip:`` package,
as wheels made here, so pip works offline: ``PIP_NO_INDEX`` and ``PIP_FIND_LINKS``) into a fresh cache
(``environments.build``: a virtual environment and a pip install), then asks for it again, as a second
job with the same declaration does: the cache hit. The ratio is what reuse saves each later job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _e2e import wheel  # noqa: E402  (a real pure-Python wheel, as the build test makes them)

from azsweep.environment_spec import EnvironmentDeclaration  # noqa: E402
from azsweep.runner.environments import build  # noqa: E402

CONDA_FILE = {
    "name": "bench-env",
    "channels": ["conda-forge"],
    "dependencies": ["bench-conda-twin=1.0", {"pip": ["bench-pip-package==2.0.0"]}],
}


def timed(declaration: EnvironmentDeclaration, cache: Path) -> tuple[float, list[str]]:
    started = time.perf_counter()
    _, notes = build(declaration, cache=cache)
    return time.perf_counter() - started, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    declaration = EnvironmentDeclaration(label="bench-env:1", conda_file=CONDA_FILE)
    first, again = [], []
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        wheel(wheels, "bench-conda-twin", "1.0.0", "bench_conda_twin")
        wheel(wheels, "bench-pip-package", "2.0.0", "bench_pip_package")
        os.environ.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        for round_ in range(args.rounds):
            cache = Path(tmp) / f"cache-{round_}"
            seconds, notes = timed(declaration, cache)
            first.append(seconds)
            assert not any("reusing" in n for n in notes), notes
            seconds, notes = timed(declaration, cache)
            again.append(seconds)
            assert any("reusing" in n for n in notes), notes  # the cache hit, as a second job gets it
    built, reused = statistics.median(first), statistics.median(again)
    print(f"{args.rounds} rounds: a small conda file (a conda package with a PyPI twin, a pip: package), offline wheels")
    print(f"  first job (build: venv + pip install):  {built:.2f} s  (each: {', '.join(f'{s:.2f}' for s in first)})")
    print(
        f"  a later job (the cache hit):            {reused * 1000:.1f} ms (each: {', '.join(f'{s * 1000:.1f}' for s in again)})"
    )
    print(f"  reuse is {built / reused:.0f}x faster than building")


if __name__ == "__main__":
    main()
