"""A tracking-store outage is reported once, and again when the store answers.

Once, a sweep whose store stopped answering (a remote tracking server down for 18 s, 150 s) lost nothing
but printed nothing while it waited: it looked frozen.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from azsweep.runner import tracking
from azsweep.runner.tracking import Tracker


@pytest.mark.timeout(120)
def test_a_store_locked_for_seconds_is_reported_once_and_again_when_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "OUTAGE_NOTE_SECONDS", 0.5)
    db = tmp_path / "mlflow.db"
    tracker = Tracker(f"sqlite:///{db}", artifact_root=tmp_path / "artifacts")
    run_id = tracker.start_parent(tracker.experiment_id("outage"), "s", {})
    lines: list[str] = []
    tracker.on_outage = lines.append

    locked, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:  # another connection holds an exclusive transaction for a few seconds
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(3)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold_the_store)
    holder.start()
    assert locked.wait(30)
    try:
        tracker.set_tags(run_id, {"k": "v"})  # waits for the store, retrying, then succeeds
    finally:
        release.set()
        holder.join()
    assert tracker.run_state(run_id).tags["k"] == "v"  # nothing lost
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"tracking store sqlite:///{db}: no answer for ")
    assert lines[0].endswith("(log_batch); retrying until it answers")
    assert lines[1].startswith(f"tracking store sqlite:///{db}: answering again after ")
    tracker.set_tags(run_id, {"k2": "v"})
    assert len(lines) == 2  # a store that answers at once: nothing more said


def test_without_a_handler_the_outage_is_one_line_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tracking, "OUTAGE_NOTE_SECONDS", 0.2)
    release = threading.Event()

    def slow() -> str:
        release.wait(1.5)
        return "done"

    assert tracking._retry(slow) == "done"
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("azsweep: tracking store: no answer for ") and err[0].endswith("(slow); retrying until it answers")
    assert err[1].startswith("azsweep: tracking store: answering again after ") and len(err) == 2
