"""What running each trial in its own environment costs, per trial, against starting it directly.

Prints figures measured in this run (the machine is shared and noisy; nothing here asserts a time).

    python benchmarks/isolation_overhead.py [--trials 40]

Each round starts the same short trial (``python -c "import json"``, the interpreter's start-up and
exit) twice, alternating: directly, with the environment azsweep runs in, as before isolation; and
isolated, as every trial now starts: its overlay environment created (``isolation.make_overlay``) and the
command run with the overlay's ``python`` first on its PATH. The difference of the medians is what
isolation adds to each trial; the target is under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from azsweep.runner.isolation import BaseEnvironment, make_overlay
from azsweep.runner.process import TrialProcess

COMMAND = 'python -c "import json"'


def start_and_wait(command: str, env: dict[str, str], folder: Path) -> float:
    started = time.perf_counter()
    process = TrialProcess(command, cwd=folder, env=env, log_path=folder / "log.txt")
    code = process.popen.wait()
    assert code == 0, (folder / "log.txt").read_text()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    base = BaseEnvironment.current()
    direct_env = dict(os.environ)
    direct_env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), direct_env.get("PATH", "")])
    direct, isolated, creation = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.trials):
            folder = root / f"t{i}"
            folder.mkdir()
            direct.append(start_and_wait(COMMAND, direct_env, folder))
            started = time.perf_counter()
            overlay = make_overlay(folder / "env", base)
            env = overlay.environ(dict(os.environ))
            creation.append(time.perf_counter() - started)
            isolated.append(creation[-1] + start_and_wait(COMMAND, env, folder))
    d, s, c = (statistics.median(x) * 1000 for x in (direct, isolated, creation))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.trials} trials each way, alternating")
    print(f"direct launch (before isolation): median {d:.1f} ms per trial")
    print(f"isolated launch (overlay + run):  median {s:.1f} ms per trial, of which creating the overlay {c:.2f} ms")
    print(f"-> isolation adds {s - d:.1f} ms per trial (ratio {s / d:.2f}; target: under 100 ms)")


if __name__ == "__main__":
    main()
