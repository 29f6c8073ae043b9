"""Sweep and job names are Azure's job names (letters, digits, '_' and '-', bounded length): a name never
becomes a path outside the home, and every MLflow filter string that holds a name or value finds exactly it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from azsweep.cli import main
from azsweep.errors import ArgumentError, DefinitionError
from azsweep.runner.layout import MAX_JOB_NAME, Settings, check_job_name
from azsweep.runner.prepare import prepare
from azsweep.runner.tracking import Tracker


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "work" / "home", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/b", "..", ".", "quote'name", "a b", "x\0y", "é", "", "a" * 252])
def test_a_name_that_azure_refuses_is_refused_before_it_names_a_folder(
    name: str, settings: Settings, sweep_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(ArgumentError) as raised:
        prepare(sweep_yaml(), settings=settings, name=name)
    message = str(raised.value)
    assert message.startswith("name: expected a job name") and "letters, digits, '_' and '-'" in message
    assert "\n" not in message and len(message) < 300  # one line; a long name is cut in the message
    assert not (tmp_path / "x").exists() and not settings.home.exists()


def test_resume_of_a_dotted_name_deletes_nothing_outside_the_home(
    settings: Settings, sweep_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    """The defect: ``--resume --name ../../x`` resolved a sweep folder outside the home (and a resume
    deletes a trial's ``code`` folder there)."""
    outside = tmp_path / "work" / "x"
    (outside / "code").mkdir(parents=True)
    (outside / "definition.json").write_text("{}")
    with pytest.raises(ArgumentError, match=r"^name: expected a job name"):
        prepare(sweep_yaml(), settings=settings, name="../../x", resume=True)
    assert (outside / "code").is_dir() and (outside / "definition.json").read_text() == "{}"


def test_the_command_line_names_the_flag(
    sweep_yaml: Callable[..., Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["run", str(sweep_yaml()), "--name", "../escape"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("azsweep: error: --name: expected a job name (a non-empty str), got '../escape'")
    assert not (tmp_path.parent / "escape").exists()


def test_the_name_a_definition_gives_itself_is_checked_as_a_definition_field(
    settings: Settings, sweep_yaml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import azsweep.definition

    load = azsweep.definition.load_job_spec

    def named(definition: object) -> object:  # a definition whose spec carries a name
        spec, d = load(definition)
        return dataclasses.replace(spec, name="../up"), d

    monkeypatch.setattr(azsweep.definition, "load_job_spec", named)
    with pytest.raises(DefinitionError) as raised:
        prepare(sweep_yaml(), settings=settings)
    assert str(raised.value).endswith(
        "error: name: a job name is letters, digits, '_' and '-', 1 to 251 characters (Azure's rule for job names); got '../up'"
    )  # noqa: E501
    assert not settings.home.exists()


def test_azure_style_names_pass() -> None:
    for name in ["keen_otter_3k9x2m7q", "A-1_b", "x" * MAX_JOB_NAME, "0"]:
        assert check_job_name(name) == name


@pytest.mark.parametrize("name", ["quote'name", 'dq"name', "both'\"x", "back\\slash", "pct%name"])
def test_mlflow_searches_find_exactly_the_name_whatever_its_quotes(name: str, tmp_path: Path) -> None:
    """The defect: ``quote'name`` ran, then ``show`` failed (MLflow's filter strings have no escapes, so the
    backslash-escaped quote searched for another name). Written straight to the store (the name rule refuses
    such names now), each is found, and a look-alike is not."""
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=tmp_path / "artifacts")
    experiment = tracker.experiment_id("e")
    tracker.start_parent(experiment, name.replace("'", "_").replace('"', "_").upper(), {})  # LIKE's look-alike
    parent = tracker.start_parent(experiment, name, {})
    child = tracker.start_child(experiment, parent, name, 0, {"lr": "0.1"})
    record = tracker.read_sweep(name)
    assert record is not None and record.parent_run_id == parent and record.name == name
    assert [t.run_id for t in record.trials] == [child]
    assert [r.run_id for r in tracker.children(experiment, parent)] == [child]
