"""``python -m azsweep.runner.driver FOLDER``: the detached process that runs a LocalClient sweep."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from azsweep.runner import load_prepared
from azsweep.runner._sweep import SweepRunner
from azsweep.runner._tracking import Tracker


def main(folder: str, resume: bool = False) -> int:
    path = Path(folder)
    data = json.loads((path / "definition.json").read_text())
    prepared = load_prepared(path)
    runner = SweepRunner(prepared.spec, name=prepared.name, folder=path, tracker=Tracker(data["tracking_uri"]),
                         max_concurrent=prepared.max_concurrent, input_overrides=prepared.input_overrides)
    signal.signal(signal.SIGTERM, lambda *_: runner.cancel("canceled by jobs.cancel()"))
    signal.signal(signal.SIGINT, lambda *_: runner.cancel("interrupted"))
    if resume:
        runner.resume()
    record = runner.run()
    return 0 if record.status == "Completed" else 1


def _run(folder: str, resume: bool = False) -> int:
    try:
        return main(folder, resume)
    except Exception as exc:  # leave a record the caller can read instead of a silent death
        path = Path(folder) / "sweep.json"
        if not path.exists():
            path.write_text(json.dumps({"status": "Failed", "message": f"{type(exc).__name__}: {exc}"}))
        raise


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1], "--resume" in sys.argv[2:]))
