"""azure-ai-ml's private internals that azsweep uses (``azsweep/azure_compat.py``), each checked against the
installed azure-ai-ml: a new version that moves or changes one fails here first, naming it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest
from azure.ai.ml import command
from azure.ai.ml.sweep import Choice, SweepJob, Uniform

from azsweep import azure_compat as compat


@contextmanager
def internal(name: str) -> Iterator[None]:
    """Turn any failure into one naming the internal and the installed azure-ai-ml."""
    try:
        yield
    except Exception as exc:
        pytest.fail(
            f"azure-ai-ml {version('azure-ai-ml')} changed {compat.INTERNALS[name]} "
            f"(used by azsweep.azure_compat.{name.split(' ')[0]}): {type(exc).__name__}: {exc}"
        )


def _node(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "src").mkdir(exist_ok=True)
    trial = command(
        code=str(tmp_path / "src"),
        command="python t.py --lr ${{inputs.lr}} --opt ${{inputs.opt}}",
        environment="azureml:env@latest",
        inputs={"lr": 0.1, "opt": "sgd"},
        compute="cpu",
    )
    return trial(lr=Uniform(0.01, 0.1), opt=Choice(["sgd", "adam"])).sweep(
        primary_metric="loss", goal="minimize", sampling_algorithm="random", max_total_trials=4
    )


def test_a_sweep_node_stands_for_a_sweep_job(tmp_path: Path) -> None:
    with internal("as_job"):
        job = compat.as_job(_node(tmp_path))
        assert isinstance(job, SweepJob) and set(job.search_space) == {"lr", "opt"}
    assert compat.as_job(job) is job


def test_the_rest_body_and_a_job_rebuilt_from_it(tmp_path: Path) -> None:
    job = compat.as_job(_node(tmp_path))
    with internal("rest_body"):
        props = compat.rest_body(job)["properties"]
        assert props["jobType"] == "Sweep" and props["searchSpace"]["lr"] == ["uniform", [0.01, 0.1]]
        assert props["objective"] == {"goal": "minimize", "primaryMetric": "loss"}
    with internal("job_from_rest"):
        rebuilt = compat.job_from_rest(props, tmp_path)
        assert isinstance(rebuilt, SweepJob)
        assert compat.rest_body(rebuilt)["properties"]["searchSpace"] == props["searchSpace"]
    with internal("base_path / set_base_path"):
        assert compat.base_path(rebuilt) == str(tmp_path)


def test_the_upload_hook_a_dry_run_replaces_is_there_and_restored() -> None:
    from azure.ai.ml.operations import _job_operations

    with internal("replaced_upload"):
        original = _job_operations._upload_and_generate_remote_uri  # type: ignore[attr-defined]

        def replacement(*args: object, **kwargs: object) -> str:
            return "azureml://placeholder"

        with compat.replaced_upload(replacement) as replaced:
            assert replaced, "the hook is gone: a dry run with local input files can no longer be exact"
            assert _job_operations._upload_and_generate_remote_uri is replacement  # type: ignore[attr-defined]
        assert _job_operations._upload_and_generate_remote_uri is original  # type: ignore[attr-defined]
