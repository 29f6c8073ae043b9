"""A recorded sweep read back for presentation: the record (from MLflow, the record of truth that a team's
tracking server shares) with its recorded definition.

Read through ``runner.tracking`` into the record types of ``runner.record``; ``definition.json`` through
``RecordedDefinition``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from azsweep.errors import AzsweepError
from azsweep.runner.layout import Settings
from azsweep.runner.record import RecordedDefinition, SweepRecord, Trial
from azsweep.runner.tracking import Tracker
from azsweep.spec import best_value, ranked

_TRIAL_FIELDS = ("name", "index", "status", "params", "score", "intervals", "run_id", "reason", "stopped_by", "stopped_at")
_SWEEP_FIELDS = (
    "name",
    "status",
    "experiment_name",
    "primary_metric",
    "goal",
    "parent_run_id",
    "tracking_uri",
    "best_trial",
    "best_score",
    "message",
)


@dataclass
class SweepView(SweepRecord):
    """A recorded sweep as ``show`` and ``plot`` present it: the record, with its recorded definition."""

    definition: RecordedDefinition | None = field(default=None, repr=False)

    @classmethod
    def of(cls, record: SweepRecord, definition: RecordedDefinition | None) -> SweepView:
        return cls(**{f.name: getattr(record, f.name) for f in fields(SweepRecord)}, definition=definition)

    @property
    def interrupted_attempts(self) -> int:
        """Trial attempts a stop of the driver interrupted (kept in MLflow as KILLED, and run again)."""
        return len(self.interrupted)

    def ranked(self) -> list[Trial]:
        """Trials best first; trials without a score last, in index order."""
        return ranked(self.trials, score=lambda t: t.score, maximize=self.maximize)


def load_view(name: str, tracker: Tracker | None = None, *, settings: Settings | None = None) -> SweepView:
    """The sweep ``name`` as its record holds it, with its recorded definition when kept."""
    settings = settings or Settings.resolve()
    tracker = tracker or Tracker.for_settings(settings)
    record = tracker.read_sweep(name, best_value)
    if record is None:
        raise AzsweepError(f"no local sweep named {name!r} in the tracking store {tracker.uri}")
    definition = None
    for folder in (tracker.folder_of(record), settings.folder(name)):
        try:
            definition = RecordedDefinition.load(folder) if folder is not None else None
        except AzsweepError:
            definition = None
        if definition is not None:
            break
    return SweepView.of(record, definition)


def metric_curves(view: SweepView, tracker: Tracker | None = None) -> dict[str, list[float]]:
    """Each trial's primary-metric values in logging order (one value = one interval), by trial name."""
    if not view.primary_metric:
        return {t.name: [] for t in view.trials}
    tracker = tracker or Tracker(view.tracking_uri)
    return {t.name: tracker.metric_values(t.run_id, view.primary_metric) for t in view.trials}
