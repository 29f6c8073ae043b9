"""Every use of azure-ai-ml's private internals, in one place.

azsweep relies on a few parts of azure-ai-ml that are not its public API: the REST body a job
serializes to (``_to_rest_object`` and the SDK's JSON encoder), a job rebuilt from that body
(``Job._from_rest_object``), the ``SweepJob`` a ``.sweep()`` node stands for (``_to_job``), the
folder a job resolves local paths against (``_base_path``), and the upload hook a dry run replaces
(``_job_operations._upload_and_generate_remote_uri``). ``tests/test_azure_compat.py`` checks each of
them against the installed azure-ai-ml, so a version that moves one fails there, by name, first.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

# what each function below needs from azure-ai-ml (for the compatibility test and its message)
INTERNALS = {
    "rest_body": "azure.ai.ml._restclient.arm_ml_service._utils.model_base.SdkJSONEncoder, Job._to_rest_object",
    "job_from_rest": "azure.ai.ml._restclient.arm_ml_service.models.JobBase, Job._from_rest_object",
    "as_job": "azure.ai.ml.entities.Sweep._to_job",
    "base_path / set_base_path": "Job._base_path",
    "replaced_upload": "azure.ai.ml.operations._job_operations._upload_and_generate_remote_uri",
}


def rest_body(job: Any) -> dict[str, Any]:
    """The JSON body azure-ai-ml builds for ``job`` (a ``SweepJob``), without sending it."""
    from azure.ai.ml._restclient.arm_ml_service._utils.model_base import SdkJSONEncoder

    class Encoder(SdkJSONEncoder):
        def default(self, o: Any) -> Any:
            try:
                return super().default(o)
            except TypeError:  # an inline environment stays an object until create_or_update registers it
                image = getattr(o, "image", None)
                return f"inline {type(o).__name__}" + (f" (image {image})" if image else "")

    return json.loads(json.dumps(job._to_rest_object(), cls=Encoder, exclude_readonly=True))


def job_from_rest(props: Mapping[str, Any], base_dir: str | Path) -> Any:
    """azure-ai-ml's job (a ``SweepJob`` for a sweep's properties) from the REST ``properties`` it would send,
    resolving local code and inputs against ``base_dir`` as for the YAML it came from."""
    from azure.ai.ml._restclient.arm_ml_service.models import JobBase
    from azure.ai.ml.entities import Job

    job: Any = Job._from_rest_object(JobBase({"properties": copy.deepcopy(dict(props))}))
    set_base_path(job, base_dir)
    return job


def as_job(job: Any) -> Any:
    """The job a node stands for (a ``SweepJob`` for ``.sweep()``, a ``CommandJob`` for ``command(...)``);
    any other job as it is. The node is left as it was.

    azure-ai-ml's ``Sweep._to_job`` rewrites the trial component's command in place (``${{inputs.lr}}``
    becomes ``${{search_space.lr}}``); inside a pipeline that component must keep its inputs, or a later
    submit of the pipeline is refused. The sweep job gets a copy of the component with the new command.
    """
    if not hasattr(job, "_to_job"):
        return job
    trial = getattr(job, "trial", None)
    command = getattr(trial, "command", None)
    converted = job._to_job()
    if trial is not None and getattr(trial, "command", None) != command:
        converted.trial = deep_copy(trial)
        trial.command = command
    return converted


def deep_copy(job: Any) -> Any:
    """A deep copy of an azure-ai-ml job object, a pipeline built with ``@pipeline`` included.

    A pipeline node keeps its inputs and outputs in dicts that answer a missing attribute with ``KeyError``,
    which ``copy.deepcopy`` cannot take; while copying, they are copied item by item (the links between
    nodes, an input bound to another node's output, point into the copy).
    """
    import copy

    try:
        from azure.ai.ml.entities._job.pipeline._io import attr_dict
    except ImportError:
        return copy.deepcopy(job)

    def copy_items(self: dict[str, Any], memo: dict[int, Any]) -> dict[str, Any]:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.items():
            dict.__setitem__(new, key, copy.deepcopy(value, memo))
        for key, value in vars(self).items():
            object.__setattr__(new, key, copy.deepcopy(value, memo))
        return new

    classes = [
        c for c in vars(attr_dict).values() if isinstance(c, type) and issubclass(c, dict) and "__deepcopy__" not in vars(c)
    ]
    for cls in classes:
        cls.__deepcopy__ = copy_items  # type: ignore[attr-defined]
    try:
        return copy.deepcopy(job)
    finally:
        for cls in classes:
            del cls.__deepcopy__  # type: ignore[attr-defined]


def base_path(job: Any) -> str | None:
    """The folder a job resolves its local paths against (its YAML's folder), when it has one."""
    return getattr(job, "_base_path", None)


def set_base_path(job: Any, folder: str | Path) -> None:
    job._base_path = str(folder)


@contextlib.contextmanager
def replaced_upload(replacement: Callable[..., str]) -> Iterator[bool]:
    """While active, azure-ai-ml's upload of local input files calls ``replacement`` (which returns the
    remote URI); yields False, replacing nothing, when this azure-ai-ml has no such hook."""
    try:
        from azure.ai.ml.operations import _job_operations
    except ImportError:
        yield False
        return
    original = getattr(_job_operations, "_upload_and_generate_remote_uri", None)
    if original is None:
        yield False
        return
    _job_operations._upload_and_generate_remote_uri = replacement
    try:
        yield True
    finally:
        _job_operations._upload_and_generate_remote_uri = original
