"""``python -m azsweep.runner.driver FOLDER``: the detached process that runs a LocalClient sweep.

It runs the recorded definition of ``FOLDER`` through the same lifecycle as ``azsweep run``:
a new sweep is started, one that was stopped is continued.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from azsweep.errors import AzsweepError
from azsweep.runner.layout import SweepFolder
from azsweep.runner.lifecycle import Cancel, run_prepared
from azsweep.runner.prepare import prepare_recorded
from azsweep.runner.process import process_start_time
from azsweep.runner.record import JobStatus, SweepRecord, failure_reason

SIGNALS: dict[int, Cancel] = {signal.SIGTERM: Cancel("canceled by jobs.cancel()"), signal.SIGINT: Cancel("interrupted")}


def main(root: str) -> int:
    path = Path(root)
    folder = SweepFolder(path.parent.parent, path.name)
    try:
        record, _ = run_prepared(prepare_recorded(folder), signals=SIGNALS)
    except Exception as exc:  # leave a record the caller can read instead of a silent death
        _record_failure(folder, exc)
        raise
    return 0 if record.status == JobStatus.COMPLETED else 1


def _record_failure(folder: SweepFolder, exc: Exception) -> None:
    """``sweep.json`` says Failed, with one line naming what failed, unless it already says how the job ended
    (the runner closes what it ran before the error reaches here) or another live driver owns it."""
    message = failure_reason("the local driver failed", exc) if not isinstance(exc, AzsweepError) else str(exc)
    try:
        record = SweepRecord.load(folder)
    except AzsweepError:  # an unreadable record: replaced by one that can be read
        record = None
    if record is not None and (record.status.terminal or (record.pid != os.getpid() and process_start_time(record.pid))):
        return
    if record is None:
        record = SweepRecord(
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
        )
    record.status, record.message, record.pid = JobStatus.FAILED, message.splitlines()[0] if message else "", os.getpid()
    with contextlib.suppress(OSError):
        record.save(folder)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
