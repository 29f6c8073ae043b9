"""Submit sweeps to Azure ML through azure-ai-ml itself, and show offline the exact request it would send.

* ``submit``: check with azsweep's rules, then ``MLClient.jobs.create_or_update`` on the job exactly as
  azure-ai-ml builds it; for YAML that is ``load_job`` on the user's own file (never a re-dumped copy:
  a dump / reload round trip corrupts https input paths and bools).
* ``rebuild_job``: azure-ai-ml's ``SweepJob`` back from the REST body it serializes to.
* The offline dry run is ``azsweep.submission.dry_run``; a local sweep's definition, ``azsweep.submission.from_local``.
* azure-core / azure-identity / azure-ai-ml errors become one line naming what to fix
  (``SubmitError``, or ``DefinitionError`` for the definition itself).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.azure_compat import job_from_rest
from azsweep.errors import AzsweepError, DefinitionError, Problem, SubmitError
from azsweep.workspace_config import find_config, read_config

WORKSPACE_FLAGS = {
    "subscription_id": "--subscription",
    "resource_group_name": "--resource-group",
    "workspace_name": "--workspace",
}
PLACEHOLDERS = {"subscription_id": "SUBSCRIPTION_ID", "resource_group_name": "RESOURCE_GROUP", "workspace_name": "WORKSPACE_NAME"}
LOGIN_HINT = "run `az login` (in CI: azure/login, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET) and retry"


# --- workspace ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """Where a sweep is submitted; ``source`` says where the values came from."""

    subscription_id: str
    resource_group_name: str
    workspace_name: str
    source: str = "arguments"

    def __str__(self) -> str:
        return f"workspace {self.workspace_name} (resource group {self.resource_group_name}, subscription {self.subscription_id})"


def resolve_workspace(
    subscription_id: str | None = None,
    resource_group_name: str | None = None,
    workspace_name: str | None = None,
    *,
    required: bool = True,
) -> Workspace:
    """The workspace from the arguments, completed from a config.json found as ``MLClient.from_config`` finds it.

    Arguments win over the file. When details are missing: ``SubmitError`` naming the flags, or with
    ``required=False`` placeholders (for a dry run).
    """
    given = {"subscription_id": subscription_id, "resource_group_name": resource_group_name, "workspace_name": workspace_name}
    values = {k: v for k, v in given.items() if v}
    source = "arguments"
    if len(values) < 3:
        config = find_config()
        if config is not None:
            values = {**read_config(config), **values}
            source = str(config)
    missing = [k for k in WORKSPACE_FLAGS if not values.get(k)]
    if missing and required:
        flags = ", ".join(WORKSPACE_FLAGS[k] for k in missing)
        raise SubmitError(
            f"no Azure ML workspace given (missing {flags}): pass --subscription, --resource-group and "
            "--workspace (Python: subscription_id=, resource_group_name=, workspace_name=), or put the "
            "workspace's config.json (Azure portal: the workspace's Download config.json) in this folder, "
            "a parent folder or .azureml/"
        )
    if missing:
        values.update({k: PLACEHOLDERS[k] for k in missing})
        source = "placeholders" if len(missing) == 3 else f"{source} and placeholders"
    return Workspace(values["subscription_id"], values["resource_group_name"], values["workspace_name"], source)


def build_client(workspace: Workspace, credential: Any = None, **kwargs: Any) -> Any:
    """An ``MLClient`` for ``workspace``; the credential defaults to ``DefaultAzureCredential()``."""
    from azure.ai.ml import MLClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return MLClient(credential, workspace.subscription_id, workspace.resource_group_name, workspace.workspace_name, **kwargs)


# --- the job as azure-ai-ml builds it -----------------------------------------------------------


@dataclass
class Submission:
    """A checked job, ready for ``create_or_update``."""

    job: Any  # what create_or_update receives: azure-ai-ml's SweepJob, or the .sweep() node
    source: str
    problems: list[Problem] = field(default_factory=list)  # warnings (errors stop earlier unless forced)
    path: Path | None = None  # the user's YAML file
    params_override: list[dict[str, Any]] = field(default_factory=list)
    checked: bool = True  # False with force=True


def parse_set(items: Sequence[str]) -> list[dict[str, Any]]:
    """``PATH=VALUE`` items as ``load_job``'s ``params_override``, the way ``az ml job create --set`` passes them.

    The value stays text (azure-ai-ml's schema converts numbers and bools); a JSON list or object
    (``[...]``, ``{...}``) is parsed, so choice values can be replaced too.
    """
    overrides = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AzsweepError(f"--set {item!r}: expected PATH=VALUE, e.g. limits.max_total_trials=20")
        parsed: Any = value
        if value.strip()[:1] in ("[", "{"):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
        overrides.append({key.strip(): parsed})
    return overrides


def load_submission(job: Any, *, params_override: Sequence[Mapping[str, Any]] | None = None, force: bool = False) -> Submission:
    """Check ``job`` with azsweep's rules (errors raise ``DefinitionError``; ``force`` skips them) and build it.

    A YAML path is read with ``azure.ai.ml.load_job`` from the user's own file; ``params_override``
    (``--set``) is applied there, as ``az ml job create --set`` does. Objects are used as they are.
    """

    overrides = [dict(o) for o in params_override or []]
    if isinstance(job, (str, os.PathLike)):
        path = Path(job)
        source = str(path)
        if not path.is_file():
            raise DefinitionError([Problem("error", "", "no such file")], source)
        problems: list[Problem] = []
        if not force:
            problems = _check(load_yaml_job(path, overrides, source) if overrides else path, source)
        built = load_yaml_job(path, overrides, source)  # a fresh load: exactly what az ml job create would send
        submission = Submission(built, source, problems, path, overrides, checked=not force)
    else:
        if overrides:
            raise AzsweepError("params_override (--set) applies to YAML files; change the object's attributes instead")
        source = f"<{type(job).__name__}>"
        if not _is_sweep(job) and not _is_pipeline(job):
            raise DefinitionError(
                [
                    Problem(
                        "error",
                        "",
                        "expected a sweep (a YAML path, a SweepJob, or the node .sweep() returns) or a pipeline job "
                        f"(got {type(job).__name__})",
                    )
                ],
                source,
            )
        problems = []
        if not force:
            problems = _check(job, source)
        submission = Submission(job, source, problems, checked=not force)
    _refuse_local_compute(submission)
    return submission


def load_yaml_job(path: Path, overrides: list[dict[str, Any]], source: str) -> Any:
    """``azure.ai.ml.load_job`` on the user's file with ``params_override``; refusals become ``DefinitionError``."""
    from azure.ai.ml import load_job

    from azsweep.definition import translate_sdk_error

    try:
        return load_job(source=path, params_override=overrides or None)
    except Exception as exc:  # azure-ai-ml raises several unrelated types; each becomes one line per field
        raise DefinitionError(translate_sdk_error(exc), source) from exc


def _check(job: Any, source: str) -> list[Problem]:
    """azsweep's rules for a sweep or a pipeline with sweep steps; errors raise ``DefinitionError``."""
    from azsweep.definition import load_spec
    from azsweep.pipeline_definition import is_pipeline, read_pipeline

    if _is_pipeline(job) or (isinstance(job, (str, os.PathLike)) and is_pipeline(job)):
        problems = read_pipeline(job).problems
    else:
        problems = load_spec(job)[1].problems
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems, source)
    return problems


def _is_pipeline(job: Any) -> bool:
    from azure.ai.ml.entities import PipelineJob

    return isinstance(job, PipelineJob)


def _is_sweep(job: Any) -> bool:
    from azure.ai.ml.entities import Sweep
    from azure.ai.ml.sweep import SweepJob

    return isinstance(job, (Sweep, SweepJob))


def _refuse_local_compute(submission: Submission) -> None:
    job = submission.job
    compute = getattr(job, "compute", None) or getattr(getattr(job, "trial", None), "compute", None)
    if isinstance(compute, str) and compute.lower() == "local":
        raise DefinitionError(
            [
                Problem(
                    "error",
                    "compute",
                    "local cannot be submitted: a sweep on Azure needs a compute "
                    "cluster (azure-ai-ml also crashes on compute: local, azure-sdk-for-python#31537); "
                    "run it on this machine with `azsweep run`, or submit with --set "
                    "compute=azureml:<cluster>",
                )
            ],
            submission.source,
        )


def rebuild_job(props: Mapping[str, Any], base_dir: str | Path) -> Any:
    """azure-ai-ml's ``SweepJob`` from the REST ``properties`` it would send (``Job._from_rest_object``)."""
    job = job_from_rest(props, base_dir)  # local code and inputs resolve against the definition's folder
    if "environmentVariables" not in (props.get("trial") or {}):  # else the round trip adds an empty one
        job.trial.environment_variables = None
    return job


# --- submit -------------------------------------------------------------------------------------


def submit(
    job: Any,
    *,
    ml_client: Any = None,
    force: bool = False,
    params_override: Sequence[Mapping[str, Any]] | None = None,
    credential: Any = None,
    **workspace: str | None,
) -> Any:
    """Check ``job``, then submit it with ``ml_client.jobs.create_or_update``; returns the created job.

    Args:
        job: a CLI v2 sweep YAML path, an azure-ai-ml / azsweep ``SweepJob``, or the ``.sweep()`` node.
        ml_client: an ``azure.ai.ml.MLClient``; without it one is built with ``credential``
            (default ``DefaultAzureCredential()``) for the workspace given by ``subscription_id``,
            ``resource_group_name`` and ``workspace_name``, completed from a config.json found as
            ``MLClient.from_config`` finds it.
        force: skip azsweep's checks (azure-ai-ml's own still apply).
        params_override: ``[{"limits.max_total_trials": 5}]`` applied by ``load_job`` (YAML only), as ``--set``.

    Returns:
        azure-ai-ml's job as created: ``.name``, ``.status``, ``.studio_url``.

    Raises:
        DefinitionError: the definition has errors; nothing was sent.
        SubmitError: no workspace, no sign-in, no network, or Azure refused the request (one line each).
    """
    unknown = sorted(set(workspace) - set(WORKSPACE_FLAGS))
    if unknown:
        raise TypeError(
            f"submit() got unexpected keyword argument(s) {', '.join(unknown)}; workspace details are "
            f"{', '.join(WORKSPACE_FLAGS)}"
        )
    if ml_client is not None and any(workspace.values()):
        raise TypeError("submit(): give ml_client or workspace details, not both")
    submission = load_submission(job, params_override=params_override, force=force)
    if ml_client is None:
        ml_client = build_client(
            resolve_workspace(
                workspace.get("subscription_id"), workspace.get("resource_group_name"), workspace.get("workspace_name")
            ),
            credential,
        )
    client = ml_client
    return send(submission, client)


def send(submission: Submission, ml_client: Any) -> Any:
    """``ml_client.jobs.create_or_update`` on a checked job, with Azure's errors as one line."""
    with azure_errors(ml_client):
        return ml_client.jobs.create_or_update(submission.job)


def stream(ml_client: Any, name: str) -> Any:
    """Wait for the cloud job ``name`` while printing its log, as ``az ml job stream`` does; returns the final job."""
    with azure_errors(ml_client, submitting=False):
        ml_client.jobs.stream(name)
        return ml_client.jobs.get(name)


# --- errors -------------------------------------------------------------------------------------


@contextlib.contextmanager
def azure_errors(client: Any = None, *, submitting: bool = True) -> Iterator[None]:
    """Turn azure-core / azure-identity / azure-ai-ml errors into one line.

    While ``submitting``, azure-ai-ml's own refusals (a missing code folder, a schema error) are
    ``DefinitionError``s: nothing was sent. Sign-in, network and service errors are ``SubmitError``s.
    """
    try:
        yield
    except AzsweepError:
        raise
    except Exception as exc:
        raise translate_error(exc, client, submitting=submitting) from exc


def translate_error(exc: Exception, client: Any = None, *, submitting: bool = True) -> Exception:
    """The azsweep error for an exception raised inside azure-ai-ml (the exception itself when it is not Azure's)."""
    from azure.ai.ml.exceptions import MlException
    from azure.core.exceptions import AzureError
    from marshmallow import ValidationError

    from azsweep.definition import translate_sdk_error

    if isinstance(exc, ValidationError) or (isinstance(exc, MlException) and "Validation" in type(exc).__name__):
        return DefinitionError(translate_sdk_error(exc), "azure-ai-ml")
    if isinstance(exc, MlException):
        message = _sdk_message(str(getattr(exc, "message", None) or exc))
        if submitting:
            return DefinitionError([Problem("error", "", f"azure-ai-ml refused the job: {message}")], "azure-ai-ml")
        return SubmitError(f"azure-ai-ml: {message}")
    if isinstance(exc, AzureError):
        return SubmitError(describe_azure_error(exc, client))
    return exc


def _sdk_message(text: str) -> str:
    """azure-ai-ml's formatted errors put the useful line under "Details:"; else the first line."""
    if "Details:" in text:
        details = [line.strip() for line in text.split("Details:", 1)[1].splitlines() if line.strip()]
        if details:
            return re.sub(r"^\(\w\)\s*", "", details[0])
    return _first_line(text)


def describe_azure_error(exc: BaseException, client: Any = None) -> str:
    """One line for a sign-in, network or HTTP error: what happened and what to do."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    text = str(getattr(exc, "message", None) or exc)
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        tried = re.findall(r"^\s*(\w+Credential): (.*)$", text, flags=re.MULTILINE)
        if tried:
            reasons = dict(tried)
            cli = reasons.get("AzureCliCredential")
            hint = f" (AzureCliCredential: {cli.strip().rstrip('.')})" if cli else ""
            return (
                f"cannot sign in to Azure: DefaultAzureCredential tried {', '.join(n for n, _ in tried)} and none "
                f"gave a token{hint}; {LOGIN_HINT}"
            )
        return f"cannot sign in to Azure ({type(exc).__name__}): {_first_line(text)}; {LOGIN_HINT}"
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        reason = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>:\s*", "", _first_line(text))
        verb = "cannot reach" if isinstance(exc, ServiceRequestError) else "lost the connection to"
        return (
            f"{verb} Azure (management.azure.com): {reason}; check the network connection and proxy settings "
            "(HTTPS_PROXY), then retry"
        )
    if isinstance(exc, HttpResponseError):
        status = getattr(exc, "status_code", None)
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) or getattr(exc, "reason", None) or ""
        message = _first_line(getattr(error, "message", None) or text)
        message = re.sub(r"^\([^)]*\)\s*", "", message)
        where = _client_workspace(client)
        hint = {
            401: f"sign in again ({LOGIN_HINT.split(' (')[0]}), with the tenant that owns the workspace",
            403: f"the signed-in identity needs a role on {where or 'the workspace'} (e.g. AzureML Data Scientist)",
            404: f"check --subscription, --resource-group and --workspace ({where})" if where else "check the workspace details",
        }.get(status or 0, "")
        return f"Azure ML refused the request ({status} {code}): {message}" + (f"; {hint}" if hint else "")
    return f"Azure error ({type(exc).__name__}): {_first_line(text)}"


def _client_workspace(client: Any) -> str:
    try:
        return str(Workspace(client.subscription_id, client.resource_group_name, client.workspace_name))
    except Exception:  # a test double or a registry client: no workspace to name
        return ""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""
