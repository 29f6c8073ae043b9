"""From a definition to a sweep ready to run: checked, local overrides applied, inputs made local.

``prepare`` is the one place where local-only overrides (limits, concurrency, inputs, smoke, keep_going) turn
the user's spec into the effective one; the effective spec is recorded in ``definition.json``, so
a resumed sweep runs exactly what its first start ran.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from azsweep.environment_spec import EnvironmentDeclaration
from azsweep.errors import ArgumentError, AzsweepError, DefinitionError, InvalidValue, Problem
from azsweep.runner import environments
from azsweep.runner import gpus as gpu_rules
from azsweep.runner import smoke as smoke_run
from azsweep.runner.gpus import GpuPool
from azsweep.runner.inputs import ResolvedInputs, absolute_overrides, resolve_inputs
from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.journal import Journal
from azsweep.runner.layout import NAME_RULE, Settings, SweepFolder, check_job_name, shown
from azsweep.runner.record import RecordedDefinition, effective_props
from azsweep.spec import CommandSpec, JobSpec, SweepSpec, check_max_total_trials

_ADJECTIVES = ("amber", "brave", "calm", "eager", "gentle", "happy", "keen", "lucid", "mellow", "nimble", "quiet", "witty")
_NOUNS = ("ant", "bee", "crane", "dolphin", "falcon", "heron", "lynx", "otter", "panda", "raven", "tiger", "wren")


def new_name() -> str:
    """An Azure-style job name, e.g. ``keen_otter_3k9x2m7q``."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{''.join(secrets.choice(alphabet) for _ in range(8))}"


@dataclass(kw_only=True)
class Prepared:
    """A checked job with the local overrides applied, ready to run."""

    settings: Settings
    folder: SweepFolder
    definition: RecordedDefinition  # what is (or was) recorded in definition.json
    inputs: ResolvedInputs
    notes: list[str]
    resume: bool = False  # continue the recorded sweep of this name
    _base: tuple[BaseEnvironment, list[str]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def tracking_uri(self) -> str:
        return self.definition.tracking_uri or self.settings.tracking_uri

    @property
    def finished(self) -> bool:
        """A resumed sweep that had already ended."""
        events = Journal(self.folder.journal).read()
        last = events[-1] if events else {}
        return self.resume and last.get("event") == "sweep_ended" and not last.get("resumable")

    def write_definition(self) -> None:
        """Record ``definition.json`` (a new job only: a resumed sweep keeps what it started with)."""
        if not self.resume:
            self.definition.write(self.folder)

    @property
    def environment_mode(self) -> str:
        """``current`` or ``build`` (``runner.environments``)."""
        return str(self.definition.overrides.get("environment") or "current")

    def base_environment(self) -> tuple[BaseEnvironment, list[str]]:
        """What the trials build on (built, for ``build``, on the first call) and the notes about it."""
        if self._base is None:
            recorded = self.definition.environment
            declaration = EnvironmentDeclaration(**recorded) if recorded else None
            if self.environment_mode == "current":
                self._base = (BaseEnvironment.current(), [])  # its notes were given when the job was prepared
            else:
                self._base = environments.base_for(self.environment_mode, declaration)
        return self._base


@dataclass(kw_only=True)
class PreparedSweep(Prepared):
    """A sweep ready to run."""

    spec: SweepSpec  # the effective spec: every local override applied

    @property
    def smoke(self) -> bool:
        return bool(self.definition.overrides.get("smoke"))

    @property
    def keep_going(self) -> bool:
        """Run on when every trial of the first wave failed (Azure fails the sweep early)."""
        return bool(self.definition.overrides.get("keep_going"))


@dataclass(kw_only=True)
class PreparedCommand(Prepared):
    """A command job ready to run: one process, with a sweep trial's machinery."""

    spec: CommandSpec


def prepare(
    definition: Any,
    *,
    settings: Settings | None = None,
    name: str | None = None,
    max_total_trials: int | None = None,
    max_concurrent_trials: int | None = None,
    inputs: Mapping[str, str] | None = None,
    resume: bool = False,
    smoke: bool = False,
    keep_going: bool = False,
    environment: str = "current",
    gpus: str | int | Sequence[str] | None = None,
    gpus_per_trial: float | None = None,
) -> PreparedSweep | PreparedCommand:
    """Validate ``definition`` (errors raise ``DefinitionError``) and apply the local-only overrides.

    A command job (``command(...)``, a YAML ``type: command``) is prepared to run once: the overrides that
    shape a search (limits, concurrency, smoke, keep_going) are refused for it, naming the argument.

    With ``resume`` and an existing sweep of that name, the recorded effective definition is used,
    with every override its first start had. ``smoke``: 2 trials (2 at once) unless given, short
    timeouts and no early termination (``smoke.py``). ``keep_going``: when every trial of the first wave
    (the first ``max_concurrent_trials``) failed, run on instead of failing the sweep as Azure does.
    ``environment``: ``current`` (each trial in its own overlay on this environment) or ``build`` (on one built
    from the job's declared conda file, cached; ``runner.environments``). ``gpus`` (the GPUs to share out:
    ``"none"``, a count, or a list; default: those found) and ``gpus_per_trial`` (whole GPUs or 1/k; default:
    ``runner.gpus.per_trial``'s rule) give each running trial its own GPUs; the concurrency is capped to fit.
    """
    from azsweep.definition import load_job_spec

    settings = settings or Settings.resolve()
    if name is not None:
        name = check_job_name(name, "name")  # before it names a folder
    if resume and name and settings.folder(name).exists() and not settings.folder(name).definition.exists():
        folder = settings.folder(name)
        raise AzsweepError(
            f"{folder.definition}: missing, so the sweep {name!r} cannot be resumed (it records what the sweep runs). "
            f"Start over under another name, or remove {folder.root} to reuse this one"
        )
    if resume and name and settings.folder(name).definition.exists():
        resumed = prepare_recorded(settings.folder(name), definition=definition, settings=settings)
        if isinstance(resumed, PreparedCommand):
            raise _taken(name, settings)
        return resumed
    if environment not in environments.MODES:
        raise ArgumentError(
            f"{{arg}}: must be one of {', '.join(environments.MODES)} (got {environment!r})", argument="environment"
        )
    spec, d = load_job_spec(definition)
    if spec is None or d.props is None:
        raise DefinitionError(d.problems, d.source)
    notes = [f"{d.source}: {p}" for p in d.problems if p.severity == "warning"]
    declaration = environments.declaration_of(d.job, settings.assets("environments"))
    declared = {"environment": asdict(declaration)} if declaration is not None else {}
    if environment == "current":
        notes.extend(environments.current_notes(declaration))
    gpu = _gpu_overrides(spec, gpus, gpus_per_trial, notes)
    if isinstance(spec, CommandSpec):
        sweep_only = {
            "max_total_trials": max_total_trials,
            "max_concurrent_trials": max_concurrent_trials,
            "smoke": smoke or None,
            "keep_going": keep_going or None,
        }
        for argument, value in sweep_only.items():
            if value is not None:
                raise ArgumentError(
                    f"{{arg}}: applies to sweeps; {d.source} is a command job, which runs once", argument=argument
                )
        return _prepare_command(
            spec,
            d.props,
            notes,
            settings=settings,
            name=name,
            inputs=inputs,
            source_path=d.path,
            source=d.source,
            environment=environment,
            declared=declared,
            gpu=gpu,
        )
    if smoke:
        max_total_trials = max_total_trials or smoke_run.SMOKE_TRIALS
        max_concurrent_trials = max_concurrent_trials or smoke_run.SMOKE_CONCURRENT_TRIALS
    limits = spec.limits
    if max_total_trials is not None:
        try:
            max_total_trials = check_max_total_trials(max_total_trials, "max_total_trials", integer_only=True)
        except InvalidValue as exc:
            raise ArgumentError("{arg}: " + exc.message, argument="max_total_trials") from None
        limits = replace(
            limits, max_total_trials=max_total_trials, max_concurrent_trials=min(limits.max_concurrent_trials, max_total_trials)
        )
    if max_concurrent_trials is not None:
        if isinstance(max_concurrent_trials, bool) or not isinstance(max_concurrent_trials, int) or max_concurrent_trials < 1:
            raise ArgumentError(
                f"{{arg}}: must be an integer >= 1 (got {max_concurrent_trials!r})", argument="max_concurrent_trials"
            )
        limits = replace(limits, max_concurrent_trials=max_concurrent_trials)
    else:
        cpus = os.cpu_count() or 1
        if limits.max_concurrent_trials > cpus:
            notes.append(
                f"note: running {cpus} trials at once (this machine's CPU count) instead of "
                f"max_concurrent_trials={limits.max_concurrent_trials}; raise it with the local "
                "max_concurrent_trials override (azsweep run --max-concurrent-trials)"
            )
            limits = replace(limits, max_concurrent_trials=cpus)
    if not isinstance(keep_going, bool):
        raise ArgumentError(f"{{arg}}: must be True or False (got {keep_going!r})", argument="keep_going")
    capacity = gpu_slots(gpu)
    if capacity is not None and limits.max_concurrent_trials > capacity:
        notes.append(
            f"note: running {capacity} trial(s) at once, each with {gpu['gpus_per_trial']:g} of the GPU(s) "
            f"{', '.join(gpu['gpus'])}, instead of max_concurrent_trials={limits.max_concurrent_trials}"
        )
        limits = replace(limits, max_concurrent_trials=capacity)
    spec = replace(spec, limits=limits)
    overrides: dict[str, Any] = {
        k: v
        for k, v in (("max_total_trials", max_total_trials), ("max_concurrent_trials", max_concurrent_trials))
        if v is not None
    }
    if smoke:
        policy = spec.policy
        spec = replace(spec, limits=smoke_run.smoke_limits(spec.limits), policy=None)  # each trial runs its command
        overrides.update(smoke=True, trial_timeout=spec.limits.trial_timeout, timeout=spec.limits.timeout)
        notes.append(smoke_run.smoke_note(spec, policy))
    name = name or _definition_name(spec, d.source) or new_name()
    folder = settings.folder(name)
    if folder.exists():
        raise ArgumentError(
            f"a local sweep named {name!r} already exists in {folder.root.parent}; continue it with "
            "{give} or choose another {arg}",
            argument="name",
            give="resume=True",
        )
    input_overrides = absolute_overrides(inputs)
    resolved = resolve_inputs(
        spec, input_overrides, folder.inputs, settings.home
    )  # input errors surface here, before anything starts
    if input_overrides:
        overrides["inputs"] = dict(input_overrides)
    if keep_going:
        overrides["keep_going"] = True
    if environment != "current":
        overrides["environment"] = environment
    overrides.update(gpu)
    recorded = RecordedDefinition(
        name=name,
        props=d.props,
        effective=effective_props(d.props, spec),
        base_dir=str(spec.base_dir),
        source_path=str(d.path.resolve()) if d.path else None,
        overrides=overrides,
        input_overrides=input_overrides,
        input_values=dict(resolved.values),
        tracking_uri=settings.tracking_uri,
        home=str(settings.home),
        **declared,
    )
    return PreparedSweep(settings=settings, folder=folder, definition=recorded, spec=spec, inputs=resolved, notes=notes)


def _prepare_command(
    spec: CommandSpec,
    props: dict[str, Any],
    notes: list[str],
    *,
    settings: Settings,
    name: str | None,
    inputs: Mapping[str, str] | None,
    source_path: Any,
    source: str = "",
    environment: str = "current",
    declared: dict[str, Any] | None = None,
    gpu: dict[str, Any] | None = None,
) -> PreparedCommand:
    name = name or _definition_name(spec, source) or new_name()
    folder = settings.folder(name)
    if folder.exists():
        raise _taken(name, settings)
    input_overrides = absolute_overrides(inputs)
    resolved = resolve_inputs(spec, input_overrides, folder.inputs, settings.home)
    recorded = RecordedDefinition(
        name=name,
        props=props,
        effective=json.loads(json.dumps(props)),
        base_dir=str(spec.base_dir),
        source_path=str(source_path.resolve()) if source_path else None,
        overrides={
            **({"inputs": dict(input_overrides)} if input_overrides else {}),
            **({"environment": environment} if environment != "current" else {}),
            **(gpu or {}),
        },
        input_overrides=input_overrides,
        input_values=dict(resolved.values),
        tracking_uri=settings.tracking_uri,
        home=str(settings.home),
        **(declared or {}),
    )
    return PreparedCommand(settings=settings, folder=folder, definition=recorded, spec=spec, inputs=resolved, notes=notes)


def _definition_name(spec: JobSpec, source: str) -> str | None:
    """The definition's own ``name``, when it has one: Azure's rule for job names, or a ``DefinitionError``."""
    if not spec.name:
        return None
    if isinstance(spec.name, str) and _is_job_name(spec.name):
        return spec.name
    raise DefinitionError([Problem("error", "name", f"{NAME_RULE}; got {shown(spec.name)}")], source)


def _is_job_name(name: str) -> bool:
    try:
        check_job_name(name)
    except ArgumentError:
        return False
    return True


def _gpu_overrides(
    spec: JobSpec, gpus: str | int | Sequence[str] | None, per_trial: float | None, notes: list[str]
) -> dict[str, Any]:
    """The GPUs to share out and each trial's share (``runner.gpus``), as recorded overrides ({} when there are
    none and none were asked for); notes for what a local run cannot give; an mpi distribution needs mpirun."""
    trial = spec.trial
    chosen = gpu_rules.choose(gpus, gpu_rules.discover())
    share = gpu_rules.per_trial(per_trial, trial, spec.compute, chosen)
    cpus = os.cpu_count() or 1
    if trial.process_count > cpus:
        notes.append(f"note: each trial starts {trial.process_count} processes; this machine has {cpus} CPU(s)")
    if trial.distribution is not None and trial.distribution.kind == "mpi" and shutil.which("mpirun") is None:
        raise ArgumentError(
            "trial.distribution.type: mpi needs mpirun (Open MPI or MPICH) on this machine, and none is installed; "
            "install one, or use a pytorch or tensorflow distribution",
            argument="distribution",
        )
    if not chosen and gpus is None and per_trial is None:
        return {}
    return {"gpus": chosen, "gpus_per_trial": share}


def gpu_slots(gpu: dict[str, Any]) -> int | None:
    """How many trials can hold their GPUs at once (None: trials take no GPU)."""
    return GpuPool(gpu["gpus"], gpu["gpus_per_trial"]).capacity if gpu else None


def _taken(name: str, settings: Settings) -> ArgumentError:
    """A command job's name is taken: command jobs run once, and are not resumed."""
    return ArgumentError(
        f"{{arg}}: a local job named {name!r} already exists in {settings.sweeps} (a command job runs once); "
        f"choose another {{arg}}, or read it with jobs.get({name!r})",
        argument="name",
    )


def prepare_recorded(
    folder: SweepFolder, *, definition: Any = None, settings: Settings | None = None
) -> PreparedSweep | PreparedCommand:
    """The recorded job in ``folder``, to resume (or to run, in the detached driver): its effective spec."""
    from azsweep.definition import load_spec

    recorded = RecordedDefinition.load(folder)
    if recorded is None:
        raise ArgumentError(
            f"{{arg}}: no local sweep named {folder.name!r} with a recorded definition in {folder.root.parent}", argument="name"
        )
    settings = settings or Settings(home=folder.home, tracking_uri=recorded.tracking_uri)
    if recorded.is_command:
        command = recorded.command_spec()
        resolved = resolve_inputs(command, recorded.input_overrides, folder.inputs, settings.home)
        return PreparedCommand(settings=settings, folder=folder, definition=recorded, spec=command, inputs=resolved, notes=[])
    spec = recorded.spec()
    notes: list[str] = []
    if definition is not None:
        try:
            _, d = load_spec(definition)
            if d.props is not None and d.props != recorded.props:
                notes.append(
                    f"note: {d.source} differs from the definition sweep {folder.name!r} started with; "
                    "resuming the recorded definition"
                )
        except Exception:  # the recorded definition is what counts
            pass
    resolved = resolve_inputs(spec, recorded.input_overrides, folder.inputs, settings.home)
    return PreparedSweep(
        settings=settings, folder=folder, definition=recorded, spec=spec, inputs=resolved, notes=notes, resume=True
    )
