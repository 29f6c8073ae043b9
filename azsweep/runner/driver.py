"""``python -m azsweep.runner.driver FOLDER``: the detached process that runs a LocalClient sweep.

It runs the recorded definition of ``FOLDER`` through the same lifecycle as ``azsweep run``:
a new sweep is started, one that was stopped is continued.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from azsweep.runner.layout import SweepFolder
from azsweep.runner.lifecycle import Cancel, run_prepared
from azsweep.runner.prepare import prepare_recorded
from azsweep.runner.record import JobStatus, SweepRecord

SIGNALS: dict[int, Cancel] = {signal.SIGTERM: Cancel("canceled by jobs.cancel()"), signal.SIGINT: Cancel("interrupted")}


def main(root: str) -> int:
    path = Path(root)
    folder = SweepFolder(path.parent.parent, path.name)
    try:
        record, _ = run_prepared(prepare_recorded(folder), signals=SIGNALS)
    except Exception as exc:  # leave a record the caller can read instead of a silent death
        if not folder.record.exists():
            SweepRecord(
                name=folder.name,
                status=JobStatus.FAILED,
                experiment_name="",
                experiment_id="",
                parent_run_id="",
                tracking_uri="",
                primary_metric="",
                goal="",
                algorithm="",
                seed=None,
                max_total_trials=0,
                max_concurrent_trials=0,
                message=f"{type(exc).__name__}: {exc}",
            ).save(folder)
        raise
    return 0 if record.status == JobStatus.COMPLETED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
