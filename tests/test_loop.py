"""The run loop's logic through its seams: a fake clock, scripted trials and an in-memory store.

Limits, the concurrency cap, policy decisions applied, failures, timeouts and resume bookkeeping,
each checked against hand-computed outcomes, in milliseconds. The same capabilities are tested end
to end through real processes and a real MLflow store in ``test_runner_e2e.py`` and ``test_faults.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _fakes import FakeClock, FakeLauncher, MemoryStore, Script

from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.layout import SweepFolder
from azsweep.runner.lifecycle import start
from azsweep.runner.loop import SweepRunner
from azsweep.runner.record import JobStatus, SweepRecord
from azsweep.runner.recovery import recover
from azsweep.spec import SweepSpec, spec_from_rest


def make_spec(
    values: list[Any],
    *,
    total: int | None = None,
    concurrent: int = 1,
    policy: dict[str, Any] | None = None,
    trial_timeout: float | None = None,
    timeout: float | None = None,
    goal: str = "minimize",
) -> SweepSpec:
    """A grid sweep over ``x`` (trial i gets ``values[i]``) with the given limits."""
    props = {
        "searchSpace": {"x": ["choice", [values]]},
        "samplingAlgorithm": {"samplingAlgorithmType": "grid"},
        "objective": {"goal": goal, "primaryMetric": "loss"},
        "limits": {
            "maxTotalTrials": total or len(values),
            "maxConcurrentTrials": concurrent,
            "trialTimeout": trial_timeout,
            "timeout": timeout,
        },
        "trial": {"command": "python train.py --x ${{search_space.x}}"},
        "earlyTermination": policy,
        "experimentName": "loop",
    }
    return spec_from_rest(props)


class Harness:
    """One sweep folder, store and clock; ``run`` starts (or resumes) the loop with scripted trials."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = SweepFolder(tmp_path / "home", "s")
        self.store = MemoryStore()
        self.clock = FakeClock()
        self.launchers: list[FakeLauncher] = []
        self.runner: SweepRunner | None = None

    def run(
        self,
        spec: SweepSpec,
        behaviour: Callable[[int, dict[str, str]], Script],
        *,
        resume: bool = False,
        before: Callable[[SweepRunner], None] | None = None,
    ) -> SweepRecord:
        launcher = FakeLauncher(self.clock, self.store, behaviour)
        self.launchers.append(launcher)
        state = recover(spec, self.folder, tracker=self.store, launcher=launcher) if resume else None
        state = state or start(spec, self.folder, self.store)
        self.runner = SweepRunner(
            spec,
            state,
            folder=self.folder,
            inputs=ResolvedInputs({}, {}),
            tracker=self.store,
            launcher=launcher,
            clock=self.clock,
        )
        if before is not None:
            before(self.runner)
        return self.runner.run()


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def logs(*values: float) -> Callable[[int, dict[str, str]], Script]:
    """Trial i logs ``values[i]`` once and exits 0."""
    return lambda i, _: Script([values[i]])


def test_max_total_trials_runs_exactly_that_many_and_the_best_is_recorded(harness: Harness) -> None:
    spec = make_spec([3, 1, 2, 5, 4], total=4)
    record = harness.run(spec, lambda i, p: Script([float(p["x"])]))
    assert [t.params["x"] for t in record.trials] == [3, 1, 2, 5]
    assert all(t.status == JobStatus.COMPLETED for t in record.trials)
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_1" and record.best_score == 1.0
    parent = harness.store.runs[record.parent_run_id]
    assert parent.status == "FINISHED" and parent.tags["best_child_run_id"] == record.trials[1].run_id
    # sweep.json holds the same record
    saved = SweepRecord.load(harness.folder)
    assert saved is not None and saved.best_trial == "s_1" and [t.status for t in saved.trials] == [JobStatus.COMPLETED] * 4


def test_concurrency_reaches_and_never_exceeds_the_cap(harness: Harness) -> None:
    record = harness.run(make_spec(list(range(7)), concurrent=3), lambda i, _: Script([float(i)] * (1 + i % 3)))
    assert harness.launchers[0].most_at_once == 3
    assert len(record.trials) == 7 and record.best_trial == "s_0"


def test_the_policy_stop_is_applied_to_exactly_the_trial_it_names(harness: Harness) -> None:
    # sequential trials: trial 0 logs 1.0 four times; trial 1 logs 2.0: bandit slack_amount 0.5 stops it at
    # interval 1 (2.0 > 1.0 + 0.5); trial 2 logs 1.2 (within the slack) and runs to its end
    spec = make_spec([0, 1, 2], policy={"policyType": "Bandit", "slackAmount": 0.5, "evaluationInterval": 1})
    curves = {0: [1.0] * 4, 1: [2.0] * 4, 2: [1.2] * 4}
    record = harness.run(spec, lambda i, _: Script(curves[i]))
    stopped = record.trials[1]
    assert stopped.status == JobStatus.CANCELED and stopped.stopped_by and stopped.stopped_at == 1
    assert stopped.reason.startswith("stopped by the early-termination policy: ")
    assert [t.status for t in (record.trials[0], record.trials[2])] == [JobStatus.COMPLETED] * 2
    run = harness.store.runs[stopped.run_id]
    assert run.status == "KILLED" and run.tags["azsweep.stopped_at_interval"] == "1"
    assert harness.launchers[0].processes[1].terminated and not harness.launchers[0].processes[2].terminated


def test_a_curve_the_policy_cannot_average_turns_the_policy_off_with_a_note_not_the_sweep_down(harness: Harness) -> None:
    # median stopping averages each trial's values with math.fsum, which refuses a curve holding +inf and -inf;
    # trial 0 logs both, beside trial 1; no trial is worse than the median before that
    policy = {"policyType": "MedianStopping", "evaluationInterval": 1, "delayEvaluation": 0}
    spec = make_spec([0, 1, 2], concurrent=2, policy=policy)
    curves = {0: [5.0, math.inf, -math.inf, 5.0], 1: [5.0] * 6, 2: [5.0] * 6}
    record = harness.run(spec, lambda i, _: Script(curves[i]))
    assert record.status == JobStatus.COMPLETED
    assert [t.status for t in record.trials] == [JobStatus.COMPLETED] * 3 and not any(t.stopped_by for t in record.trials)
    (note,) = [n for n in record.notes if n.startswith("early_termination (")]
    assert "is off from here: judging s_" in note and "no trial is stopped early" in note


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(harness: Harness) -> None:
    record = harness.run(make_spec([0, 1, 2]), lambda i, _: Script([0.5], exit_code=3) if i == 1 else Script([float(i)]))
    failed = record.trials[1]
    assert failed.status == JobStatus.FAILED and failed.exit_code == 3 and "exited with code 3" in failed.reason
    assert harness.store.runs[failed.run_id].status == "FAILED"
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_0"


def test_a_sweep_whose_trials_never_log_the_metric_fails_and_says_what_they_logged(harness: Harness) -> None:
    record = harness.run(make_spec([0, 1]), lambda i, _: Script([1.0], metric="val_loss"))
    assert record.status == JobStatus.FAILED and record.best_trial is None
    assert "'loss'" in record.message and "val_loss" in record.message
    assert all("no value of the primary metric 'loss'" in t.reason for t in record.trials)


def test_trial_timeout_stops_a_hung_trial_and_kills_one_that_ignores_sigterm(harness: Harness) -> None:
    behaviour = {0: Script([1.0], hang=True), 1: Script([2.0], hang=True, ignore_sigterm=True), 2: Script([3.0])}
    record = harness.run(make_spec([0, 1, 2], trial_timeout=10), lambda i, _: behaviour[i])
    for trial, code in ((record.trials[0], -15), (record.trials[1], -9)):
        assert trial.status == JobStatus.CANCELED and trial.reason == "trial_timeout of 10 s reached"
        assert trial.exit_code == code and trial.score == trial.params["x"] + 1.0
    assert record.trials[2].status == JobStatus.COMPLETED
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_0"  # a stopped trial's values still count


def test_sweep_timeout_cancels_the_running_trial_and_starts_no_more(harness: Harness) -> None:
    record = harness.run(make_spec([0, 1, 2, 3], timeout=5), lambda i, _: Script([1.0, 1.0, 1.0]))
    assert record.status == JobStatus.CANCELED and "timeout of 5 s" in record.message
    assert [t.status for t in record.trials] == [JobStatus.COMPLETED, JobStatus.CANCELED]


def test_a_resume_reruns_the_interrupted_trial_with_its_configuration_and_continues_sampling(harness: Harness) -> None:
    spec = make_spec([10, 20, 30, 40], concurrent=2)
    behaviour = lambda i, p: Script([float(p["x"])] * 3)  # noqa: E731 - each trial takes 4 s
    first = harness.run(spec, behaviour, before=lambda r: harness.clock.at(6, lambda: r.cancel("interrupted", resumable=True)))
    assert first.status == JobStatus.CANCELED
    # trials 0 and 1 ended at 4 s; 2 and 3 were running at 6 s
    assert [t.status for t in first.trials] == [JobStatus.COMPLETED] * 2 + [JobStatus.CANCELED] * 2
    interrupted_runs = [first.trials[2].run_id, first.trials[3].run_id]
    second = harness.run(spec, behaviour, resume=True)
    assert harness.launchers[1].leftovers_stopped == ["s"]
    assert second.status == JobStatus.COMPLETED and len(second.trials) == 4
    assert [t.params["x"] for t in second.trials] == [10, 20, 30, 40]  # same configurations, no new proposals
    assert [t.attempt for t in second.trials] == [1, 1, 2, 2]
    assert sorted(second.interrupted) == sorted(interrupted_runs)
    assert all(harness.store.runs[r].tags["azsweep.status"] == "Interrupted" for r in interrupted_runs)
    assert second.trials[0].run_id == first.trials[0].run_id and second.best_trial == "s_0"
    events = [json.loads(line)["event"] for line in harness.folder.journal.read_text().splitlines()]
    assert events.count("sweep_started") == 1 and events.count("resumed") == 1


def test_a_resume_of_a_sweep_that_never_started_starts_it(harness: Harness) -> None:
    spec = make_spec([1, 2])
    assert (
        recover(spec, harness.folder, tracker=harness.store, launcher=FakeLauncher(harness.clock, harness.store, logs(1, 2)))
        is None
    )
    record = harness.run(spec, logs(1.0, 2.0), resume=True)
    assert record.status == JobStatus.COMPLETED and len(record.trials) == 2


def test_each_trial_gets_its_command_seed_and_its_own_python_first_on_path(harness: Harness) -> None:
    import os
    import sysconfig

    harness.run(make_spec(["a b", "c;d"]), lambda i, _: Script([1.0]))
    launched = harness.launchers[0].launched
    assert [x.command for x in launched] == ["python train.py --x 'a b'", "python train.py --x 'c;d'"]
    path = launched[0].env["PATH"].split(os.pathsep)
    # the trial's own environment (an overlay on the runner's), then the runner's scripts
    assert path[:2] == [str(harness.folder.trial("s_0").env / "bin"), sysconfig.get_path("scripts")]
    assert launched[0].env["VIRTUAL_ENV"] == str(harness.folder.trial("s_0").env)
    assert launched[0].env["AZSWEEP_TRIAL_SEED"] != launched[1].env["AZSWEEP_TRIAL_SEED"]
    assert launched[0].env["AZSWEEP_HOME"] == str(harness.folder.home)
    assert harness.folder.trial("s_1").command.read_text().strip() == launched[1].command


# -- sampled values, failures, Azure's early failure rule ------------------------------------------

CRASH = 'epoch 1\nTraceback (most recent call last):\n  File "train.py", line 3, in <module>\nValueError: bad x\n'


def crashes(i: int, _: dict[str, str]) -> Script:
    return Script([0.1], exit_code=1, output=CRASH.replace("bad x", f"bad x {i}"))


def test_sampled_values_are_tags_and_the_scripts_own_params_win(harness: Harness) -> None:
    # trial 0 logs x itself (as an int: other text than the sampled 1.0) and a param of its own; trial 1 logs none
    record = harness.run(make_spec([1.0, 2.0]), lambda i, p: Script([1.0], params={"x": "1", "seed": "7"} if i == 0 else {}))
    own, plain = (harness.store.runs[t.run_id] for t in record.trials)
    assert own.tags["azsweep.param.x"] == "1.0" and plain.tags["azsweep.param.x"] == "2.0"
    assert own.params == {"x": "1", "seed": "7"}  # the script's own text, untouched
    assert plain.params == {"x": "2.0"}  # logged when the trial ended, for the UI's Parameters column
    assert record.status == JobStatus.COMPLETED


def test_a_failed_trial_is_never_the_best(harness: Harness) -> None:
    # trial 0 logs the best value, then crashes; trial 1 logs a worse value and completes
    behaviour = {0: Script([0.1], exit_code=1), 1: Script([0.5])}
    record = harness.run(make_spec([0, 1], concurrent=2), lambda i, _: behaviour[i])
    assert record.trials[0].score == 0.1 and record.trials[0].status == JobStatus.FAILED
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_1" and record.best_score == 0.5
    parent = harness.store.runs[record.parent_run_id]
    assert parent.tags["best_child_run_id"] == record.trials[1].run_id


def test_the_live_best_moves_off_a_trial_that_fails(harness: Harness) -> None:
    # concurrent: trial 0 logs 0.1 at 1 s and crashes at 3 s; trial 1 logs 0.5 at 1 s and runs on
    behaviour = {0: Script([0.1, 0.1], exit_code=1), 1: Script([0.5] * 6)}
    bests: list[tuple[float, str | None]] = []
    record = harness.run(
        make_spec([0, 1], concurrent=2),
        lambda i, _: behaviour[i],
        before=lambda r: setattr(r, "on_event", lambda kind, rec, t: bests.append((harness.clock.now, rec.best_trial))),
    )
    assert ("s_0" in [b for _, b in bests]) and bests[-1][1] == "s_1"  # s_0 was the best while it ran
    assert record.best_trial == "s_1"


def test_every_trial_failing_fails_the_sweep_naming_each_trial_its_log_and_its_exception(harness: Harness) -> None:
    record = harness.run(make_spec([0, 1], concurrent=2), crashes)
    assert record.status == JobStatus.FAILED and record.best_trial is None and record.best_score is None
    lines = record.message.splitlines()
    assert lines[0] == "no trial succeeded: all 2 trial(s) failed:"
    for i, line in enumerate(lines[1:]):
        log = harness.folder.trial(f"s_{i}").log
        assert line == f"  s_{i} (exited with code 1): ValueError: bad x {i}; log: {log}"
    parent = harness.store.runs[record.parent_run_id]
    assert parent.status == "FAILED" and parent.tags["azsweep.message"] == record.message
    assert "best_child_run_id" not in parent.tags


def test_a_first_wave_that_all_failed_stops_the_sweep(harness: Harness) -> None:
    record = harness.run(make_spec(list(range(8)), concurrent=3), crashes)
    assert len(harness.launchers[0].launched) == 3  # the first wave only: no more launches
    assert [t.status for t in record.trials] == [JobStatus.FAILED] * 3
    assert record.status == JobStatus.FAILED and record.best_trial is None
    first, *trials, hint = record.message.splitlines()
    assert first.startswith("every trial of the first wave failed (the first 3: max_concurrent_trials)")
    assert "keep_going=True" in hint and "azsweep run --keep-going" in hint
    assert [t.split()[0] for t in trials] == ["s_0", "s_1", "s_2"] and all("ValueError: bad x" in t for t in trials)
    assert harness.store.runs[record.parent_run_id].status == "FAILED"


def test_trials_started_while_the_first_wave_was_failing_are_canceled(harness: Harness) -> None:
    # trial 0 crashes at 1 s, so trial 2 starts; trial 1 crashes at 3 s: the whole first wave failed
    behaviour = {0: Script([], exit_code=1), 1: Script([1.0, 1.0], exit_code=1)}
    record = harness.run(make_spec(list(range(6)), concurrent=2), lambda i, _: behaviour.get(i, Script([1.0] * 5)))
    assert [t.status for t in record.trials] == [JobStatus.FAILED, JobStatus.FAILED, JobStatus.CANCELED]
    assert record.trials[2].reason.startswith("canceled: every trial of the first wave failed")
    assert harness.launchers[0].processes[2].terminated
    assert record.status == JobStatus.FAILED and record.message.startswith("every trial of the first wave failed")


def test_keep_going_runs_every_trial_when_the_first_wave_failed(harness: Harness) -> None:
    spec = make_spec(list(range(6)), concurrent=2)
    record = harness.run(spec, crashes, before=lambda r: setattr(r, "keep_going", True))
    assert len(record.trials) == 6 and all(t.status == JobStatus.FAILED for t in record.trials)
    assert record.status == JobStatus.FAILED and record.message.startswith("no trial succeeded: all 6 trial(s) failed:")


def test_keep_going_a_later_success_completes_the_sweep(harness: Harness) -> None:
    spec = make_spec(list(range(4)), concurrent=2)
    record = harness.run(
        spec, lambda i, p: Script([2.0]) if i == 3 else crashes(i, p), before=lambda r: setattr(r, "keep_going", True)
    )
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_3"


def test_a_first_wave_with_one_success_runs_on(harness: Harness) -> None:
    record = harness.run(make_spec(list(range(6)), concurrent=3), lambda i, p: Script([1.0]) if i == 2 else crashes(i, p))
    assert len(record.trials) == 6  # every trial ran, though all but one failed
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_2"


def test_a_sweep_of_one_wave_that_failed_says_no_trial_succeeded(harness: Harness) -> None:
    record = harness.run(make_spec([0, 1], concurrent=4), crashes)
    assert record.status == JobStatus.FAILED and record.message.startswith("no trial succeeded: all 2 trial(s) failed:")


def test_failed_trials_are_named_with_the_missing_metric(harness: Harness) -> None:
    # trial 0 crashes; trial 1 completes but logs another metric: today's message, then the failed trial
    behaviour = {0: crashes(0, {}), 1: Script([1.0], metric="val_loss")}
    record = harness.run(make_spec([0, 1], concurrent=2), lambda i, _: behaviour[i])
    first, *failed = record.message.splitlines()
    assert first == "no trial logged the primary metric 'loss'; the trials logged: loss, val_loss; failed:"
    assert len(failed) == 1 and failed[0].startswith("  s_0 (exited with code 1): ValueError: bad x 0; log: ")
