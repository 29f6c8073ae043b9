"""A recorded sweep read back for presentation: the record (from MLflow, the record of truth that a team's
tracking server shares) with its recorded definition.

Read through ``runner.tracking`` into the record types of ``runner.record``; ``definition.json`` through
``RecordedDefinition``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from azsweep.errors import AzsweepError
from azsweep.runner.command import format_value
from azsweep.runner.layout import Settings
from azsweep.runner.record import JobStatus, RecordedDefinition, SweepRecord, Trial
from azsweep.runner.tracking import Tracker
from azsweep.spec import ranked


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
        """Trials best first (a failed trial is never the best: failed trials follow the others, in index order);
        trials without a score last, in index order."""
        failed = [t for t in self.trials if t.status == JobStatus.FAILED]
        ok = ranked([t for t in self.trials if t.status != JobStatus.FAILED], score=lambda t: t.score, maximize=self.maximize)
        return [t for t in ok if t.score is not None] + failed + [t for t in ok if t.score is None]

    def swept_names(self) -> list[str] | None:
        """The swept parameters' names in search-space order, from the recorded definition; None without one."""
        if self.definition is None:
            return None
        try:
            return list(self.definition.spec().search_space.names)
        except AzsweepError:  # a definition this version cannot read: present the params as recorded
            return None

    def parameter_names(self, all_params: bool = False) -> list[str]:
        """The parameters the reports present, in search-space order then order of first appearance.

        By default the swept ones: the recorded definition's search space, or without a recorded definition
        every name in ``Trial.params`` as recorded. ``all_params`` adds every other param the trials logged
        (``Trial.logged_params``, and recorded params outside the search space: ``mlflow.autolog()``'s, say).
        """
        recorded = list(dict.fromkeys(k for t in self.trials for k in t.params))
        logged = list(dict.fromkeys(k for t in self.trials for k in t.logged_params))
        space = self.swept_names()
        if space is None:
            swept = recorded
        else:
            present = {*recorded, *logged}
            swept = [k for k in space if k in present]
        if not all_params:
            return swept
        return swept + [k for k in dict.fromkeys(recorded + logged) if k not in swept]

    def hidden_parameters(self) -> list[str]:
        """The params ``parameter_names()`` leaves out by default: those only ``all_params`` presents."""
        shown = set(self.parameter_names())
        return [k for k in self.parameter_names(all_params=True) if k not in shown]


def param_value(trial: Trial, name: str) -> str | None:
    """The trial's value of ``name`` as text: a sampled value first, else one the script logged; None when neither."""
    value = trial.params.get(name, trial.logged_params.get(name))
    return None if value is None else format_value(value)


def param_values(trial: Trial, names: list[str]) -> dict[str, str]:
    """The trial's values of ``names`` (those it has), in that order."""
    values = {name: param_value(trial, name) for name in names}
    return {k: v for k, v in values.items() if v is not None}


def load_view(name: str, tracker: Tracker | None = None, *, settings: Settings | None = None) -> SweepView:
    """The sweep ``name`` as its record holds it, with its recorded definition when kept."""
    settings = settings or Settings.resolve()
    tracker = tracker or Tracker.for_settings(settings)
    record = tracker.read_sweep(name)
    if record is None:
        local = SweepRecord.load(settings.folder(name))
        if local is not None and local.is_command:
            job = local.trials[0]
            raise AzsweepError(
                f"{name!r} is a command job ({local.status.value}), not a sweep: its output is {job.log}, its MLflow run "
                f"{job.run_id} (LocalClient().jobs.get({name!r}) and .stream({name!r}) read it)"
            )
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
