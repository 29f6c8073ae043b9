"""``azsweep run --smoke``: a short run that fails when a trial crashes or never logs the primary metric.

A metric name that does not match ``objective.primary_metric`` only shows up as N/A in the cloud,
after the whole sweep ran. A smoke run catches it in seconds, in any CI: the same command, inputs
and metric checks as the sweep, with 2 trials (2 at once), short timeouts and no early termination
(so each trial runs its whole script).

Pure: the runner's record in, one line per problem out (no mlflow, no azure). ``failed_trial_line`` is
also how a failed sweep's message names each failed trial (``loop``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from azsweep.runner.process import exit_reason, last_line
from azsweep.runner.record import JobStatus, SweepRecord
from azsweep.spec import Limits, Policy, SweepSpec

SMOKE_TRIALS = 2
SMOKE_CONCURRENT_TRIALS = 2
SMOKE_TRIAL_TIMEOUT = 300.0  # seconds, unless the sweep's own trial_timeout is shorter
SMOKE_MARGIN = 60.0  # sweep timeout = the waves of trials x trial timeout + this, unless the sweep's own is shorter


def smoke_limits(limits: Limits) -> Limits:
    """``limits`` with a short trial timeout and a sweep timeout that bounds the whole run."""
    trial_timeout = min(limits.trial_timeout or math.inf, SMOKE_TRIAL_TIMEOUT)
    waves = math.ceil(limits.max_total_trials / max(1, limits.max_concurrent_trials))
    timeout = min(limits.timeout or math.inf, waves * trial_timeout + SMOKE_MARGIN)
    return replace(limits, trial_timeout=trial_timeout, timeout=timeout)


def smoke_note(spec: SweepSpec, policy: Policy | None) -> str:
    """The one line that says what a smoke run changed (``policy``: the sweep's own, switched off)."""
    limits = spec.limits
    off = f", early_termination ({policy.kind}) off" if policy is not None else ""
    return (
        f"smoke run: {limits.max_total_trials} trial(s), {limits.max_concurrent_trials} at once, trial_timeout "
        f"{limits.trial_timeout:g} s, timeout {limits.timeout:g} s{off}; each trial must run its command and log "
        f"{spec.objective.primary_metric!r}"
    )


def smoke_problems(
    record: SweepRecord, metric: str, metric_names: Callable[[str], list[str]], trial_timeout: float | None = None
) -> list[str]:
    """One line per trial that crashed or never logged ``metric`` (empty: the smoke run passed)."""
    problems = []
    for trial in record.trials:
        log = trial.log
        where = f"; log: {log}" if log else ""
        if trial.status == JobStatus.FAILED:
            how = exit_reason(trial.exit_code)
            before = f" before logging {metric!r}" if trial.score is None else ""
            last = last_line(log)
            said = f": {last}" if last else ""
            problems.append(f"smoke: trial {trial.name} crashed ({how}){before}{said}{where}")
        elif trial.score is None:
            logged = ", ".join(metric_names(trial.run_id)) or "no metrics"
            within = ""
            if trial.status == JobStatus.CANCELED:
                within = (
                    f" within the smoke trial_timeout of {trial_timeout:g} s"
                    if trial_timeout and "timeout" in trial.reason
                    else f" before it was canceled ({trial.reason or 'canceled'})"
                )
            problems.append(
                f"smoke: trial {trial.name} never logged the primary metric {metric!r}{within} (it logged: "
                f"{logged}); on Azure the sweep would show N/A: log {metric!r} with mlflow.log_metric, or fix "
                f"objective.primary_metric{where}"
            )
    if not record.trials:
        problems.append(f"smoke: no trial ran ({record.message or record.status})")
    return problems


def verdict(
    source: str, record: SweepRecord, spec: SweepSpec, metric_names: Callable[[str], list[str]]
) -> tuple[bool, list[str]]:
    """(passed, lines to print): one error line per problem, or one ``ok`` line."""
    metric = spec.objective.primary_metric
    problems = smoke_problems(record, metric, metric_names, spec.limits.trial_timeout)
    if problems:
        return False, [f"{source}: error: {line}" for line in problems]
    best = "" if record.best_score is None else f" (best {record.best_score:.6g})"
    return True, [f"{source}: smoke: ok: {len(record.trials)} trial(s) ran the command and logged {metric!r}{best}"]
