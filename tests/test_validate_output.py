"""``azsweep validate`` as a CI reads it: folders of every job kind (Microsoft's own examples), FILE:LINE:COL lines,
``--format github`` and ``--format json``, the summary line, exit codes, and the pre-commit hook's entry."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from azsweep.cli import main

ROOT = Path(__file__).resolve().parents[1]
AZURE_JOBS = Path(__file__).resolve().parent / "azure_jobs"
PLACEHOLDER = "cli/jobs/nebulaml/cifar10_deepspeed/job.yml"  # `environment: < your environment name >`: a template


def run(capsys, *argv) -> tuple[int, list[str], str]:
    code = main(["validate", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out.splitlines(), err


def _local_folders(job: dict) -> list[str]:
    """The local folders a job YAML refers to (code, trial.code, environment.build.path; in a pipeline, each step's
    and its inline component's)."""
    found = []
    steps = [s for s in (job.get("jobs") or {}).values() if isinstance(s, dict)] if isinstance(job.get("jobs"), dict) else []
    nested = [s.get("component") for s in steps if isinstance(s.get("component"), dict)]
    nested += [s.get("task") for s in steps if isinstance(s.get("task"), dict)]  # a parallel step's task.code
    nested += [s.get("trial") for s in steps if isinstance(s.get("trial"), dict)]
    for holder in (job, job.get("trial") if isinstance(job.get("trial"), dict) else {}, *steps, *nested):
        code = holder.get("code")
        if isinstance(code, str) and ":" not in code:
            found.append(code)
        env = holder.get("environment")
        build = env.get("build") if isinstance(env, dict) else None
        if isinstance(build, dict) and isinstance(build.get("path"), str):
            found.append(build["path"])
    return found


@pytest.fixture(scope="module")
def microsoft_jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Microsoft's cli/jobs YAML files, with the empty local folders they refer to (only the YAML was copied)."""
    root = tmp_path_factory.mktemp("azure_jobs") / "jobs"
    shutil.copytree(AZURE_JOBS / "cli" / "jobs", root / "cli" / "jobs")
    for path in root.rglob("*.y*ml"):
        try:
            job = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if isinstance(job, dict):
            for folder in _local_folders(job):
                (path.parent / folder).mkdir(parents=True, exist_ok=True)
    return root


def test_microsoft_examples_folder_has_no_false_error_and_every_file_is_accounted_for(microsoft_jobs, capsys):
    code, lines, _ = run(capsys, "--format", "json", microsoft_jobs)
    objects = [json.loads(line) for line in lines]
    summary = objects.pop()["summary"]
    files = {str(Path(o["file"]).relative_to(microsoft_jobs)): o for o in objects}
    yaml_files = {str(p.relative_to(microsoft_jobs)) for p in microsoft_jobs.rglob("*") if p.suffix in (".yml", ".yaml")}
    # every job file has an object; the others were skipped and counted in the summary
    skipped = len(yaml_files) - len(files)
    assert set(files) <= yaml_files and skipped == int(summary.split("; ")[1].split()[0])
    assert f"{len(files)} files:" in summary
    invalid = {name for name, o in files.items() if o["status"] == "invalid"}
    assert invalid == {PLACEHOLDER}, {n: files[n]["problems"] for n in invalid}  # azure-ai-ml refuses it too
    assert code == 1
    kinds = {o["kind"] for o in files.values()}
    assert {"sweep", "command", "pipeline", "automl", "spark"} <= kinds
    checked = [o for o in files.values() if o["checked"]]
    assert {o["kind"] for o in checked} == {"sweep", "command", "pipeline"} and len(checked) >= 40
    for o in files.values():
        if not o["checked"] and o["status"] != "invalid":
            assert [p["severity"] for p in o["problems"]] == ["note"] and "not checked by azsweep" in o["problems"][0]["message"]
    assert files["cli/jobs/basics/hello-sweep.yml"]["status"] == "ok"
    assert files["cli/jobs/single-step/on-behalf-of/job.yaml"]["kind"] == "command"  # no type: a command job
    component = files["cli/jobs/pipelines-with-components/basics/1b_e2e_registered_components/train.yml"]
    assert component["kind"] == "" and "commandComponent" in component["problems"][0]["message"]


def test_a_folder_without_the_placeholder_file_passes(microsoft_jobs, capsys):
    code, lines, _ = run(capsys, microsoft_jobs / "cli" / "jobs" / "basics", microsoft_jobs / "cli" / "jobs" / "pipelines")
    assert code == 0
    assert not [line for line in lines if ": error: " in line]


def test_text_lines_carry_the_line_and_column_of_the_field(sweep_yaml, capsys):
    path = sweep_yaml({"limits.max_total_trials": 5000})
    code, lines, err = run(capsys, path)
    assert code == 1 and err == ""
    text = path.read_text(encoding="utf-8").splitlines()
    first = lines[0]
    where, message = first.split(": error: ")
    file, line, column = where.rsplit(":", 2)
    assert file == str(path)
    assert text[int(line) - 1][int(column) - 1 :].startswith("max_total_trials:")
    assert message == "limits.max_total_trials: must be an integer between 1 and 1000 (got 5000)"
    assert lines[-1] == "azsweep validate: 1 file: 0 ok, 1 invalid, 0 not checked (1 error, 0 warnings)"


def test_a_valid_file_prints_only_the_summary(sweep_yaml, capsys):
    code, lines, err = run(capsys, sweep_yaml())
    assert code == 0 and err == ""
    assert lines == ["azsweep validate: 1 file: 1 ok, 0 invalid, 0 not checked (0 errors, 0 warnings)"]


def test_github_annotations(sweep_yaml, capsys):
    path = sweep_yaml({"limits.max_total_trials": 5000, "trial.command": "python t.py ${{search_space.lr}}"}, name="a,b.yml")
    code, lines, _ = run(capsys, "--format", "github", path)
    assert code == 1
    error = next(line for line in lines if line.startswith("::error "))
    warning = next(line for line in lines if line.startswith("::warning "))
    props, message = error[len("::error ") :].split("::", 1)
    fields = dict(p.split("=", 1) for p in props.split(","))
    assert fields["file"] == str(path).replace(":", "%3A").replace(",", "%2C")
    assert int(fields["line"]) > 0 and int(fields["col"]) > 0
    assert message == "limits.max_total_trials: must be an integer between 1 and 1000 (got 5000)"
    assert "search_space.opt" in warning
    assert lines[-1].startswith("azsweep validate: 1 file: ")


def test_github_annotations_escape_newlines_and_percent(tmp_path, capsys):
    path = tmp_path / "n.yml"
    path.write_text("type: sweep\nsearch_space: {lr: [\n", encoding="utf-8")
    _, lines, _ = run(capsys, "--format", "github", path)
    assert all("\n" not in line for line in lines)
    assert lines[0].startswith("::error file=")


def test_json_is_one_object_per_file_then_the_summary(sweep_yaml, tmp_path, capsys):
    good, bad = sweep_yaml(), sweep_yaml({"objective.primary_metric": "loss "})
    automl = tmp_path / "automl.yml"
    automl.write_text("type: automl\ntask: classification\n", encoding="utf-8")
    code, lines, _ = run(capsys, "--format", "json", good, bad, automl)
    assert code == 1
    objects = [json.loads(line) for line in lines]
    assert [o.get("status") for o in objects[:3]] == ["ok", "invalid", "not checked"]
    (problem,) = objects[1]["problems"]
    assert problem["path"] == "objective.primary_metric" and problem["severity"] == "error" and problem["line"] > 0
    assert objects[2]["kind"] == "automl" and objects[2]["problems"][0]["severity"] == "note"
    assert objects[3] == {"summary": "azsweep validate: 3 files: 1 ok, 1 invalid, 1 not checked (1 error, 0 warnings)"}


def test_a_command_job_without_type_is_checked_not_refused(tmp_path, capsys):
    path = tmp_path / "job.yml"
    path.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: echo ${{inputs.x}}\nenvironment: azureml:env@latest\ninputs: {x: 1}\n",
        encoding="utf-8",
    )
    code, lines, _ = run(capsys, path)
    assert code == 0 and lines == ["azsweep validate: 1 file: 1 ok, 0 invalid, 0 not checked (0 errors, 0 warnings)"]


def test_a_missing_path_is_a_usage_error(sweep_yaml, tmp_path, capsys):
    code, lines, err = run(capsys, sweep_yaml(), tmp_path / "nope.yml")
    assert code == 2
    assert f"{tmp_path / 'nope.yml'}: no such file or folder" in err


def test_azure_ai_ml_chatter_stays_out_of_the_output(sweep_yaml, capsys):
    code, lines, err = run(capsys, sweep_yaml({"queue_settings": {"job_tier": "spot"}}))
    assert code == 0
    assert "experimental" not in "\n".join(lines) + err
    assert any(": warning: queue_settings: " in line for line in lines)


def test_the_pre_commit_hook_entry_runs(sweep_yaml, tmp_path):
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "azsweep-validate" and hook["language"] == "python"
    good, bad = sweep_yaml(), sweep_yaml({"limits.max_total_trials": 0})
    conda = tmp_path / "conda.yml"
    conda.write_text("name: env\ndependencies: [python=3.11]\n", encoding="utf-8")
    entry = shlex.split(hook["entry"])
    assert entry[0] == "azsweep"
    command = [sys.executable, "-m", "azsweep", *entry[1:]]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    passed = subprocess.run([*command, str(good), str(conda)], capture_output=True, text=True, env=env, timeout=300)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert ": note: not an Azure ML job" in passed.stdout  # pre-commit hands every YAML file: others are notes
    failed = subprocess.run([*command, str(bad)], capture_output=True, text=True, env=env, timeout=300)
    assert failed.returncode == 1
    assert ": error: limits.max_total_trials: " in failed.stdout and "Traceback" not in failed.stderr


def test_the_action_validates_with_annotations():
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    runs = " ".join(step.get("run", "") for step in action["runs"]["steps"])
    assert "azsweep validate --format github" in runs and "azsweep run --smoke" in runs
    assert set(action["inputs"]) >= {"paths", "smoke", "smoke-args", "install"}
