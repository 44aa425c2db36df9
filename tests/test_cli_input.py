"""The CLI's answers to bad input that needs no cluster: one clear line, the right exit
code, no traceback, nothing written. Also --help examples, config, and the plan file
format's schema. (Bad input that needs the engine is in test_cli_cluster.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from storekit.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("STOREKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STOREKIT_PARALLEL", raising=False)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)
    return invoke


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert lines and lines[-1].startswith("Error: "), result.output
    return lines[-1]


def commands() -> list[str]:
    with click.Context(cli) as ctx:
        return cli.list_commands(ctx)


def test_every_command_has_help_with_an_example(run):
    for name in commands():
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"`storekit {name} --help` has no example"


def test_each_command_loads_from_its_module_only_when_used():
    import importlib

    from storekit.cli.main import COMMAND_MODULES

    for module in set(COMMAND_MODULES.values()):
        names = {c.name for c in importlib.import_module(f"storekit.cli.{module}").COMMANDS}
        assert names == {n for n, m in COMMAND_MODULES.items() if m == module}, module


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and "storekit, version" in result.output


def test_config_shows_sources_and_hides_the_passphrase(run, monkeypatch):
    monkeypatch.setenv("STOREKIT_PASSPHRASE", "hunter2-hunter2")
    result = run("--parallel", "7", "config", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["parallel"]["value"] == 7 and rows["parallel"]["source"] == "option"
    assert rows["passphrase"]["value"] == "(sensitive)" and rows["passphrase"]["source"] == "env STOREKIT_PASSPHRASE"
    assert "hunter2" not in run("config").output


def test_bad_setting_is_one_line(run, monkeypatch):
    monkeypatch.setenv("STOREKIT_PARALLEL", "lots")
    result = run("config")
    assert result.exit_code == 7
    assert "parallel: must be a whole number" in one_error_line(result)


def test_unreachable_cluster_names_the_fix(run, tmp_path):
    result = run("--kubeconfig", str(tmp_path / "none"), "doctor")
    assert result.exit_code == 6
    line = one_error_line(result)
    assert "make cluster" in line or "make tools" in line


def test_missing_and_malformed_fleet_files(run, tmp_path):
    result = run("plan", "-f", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 7 and "does not exist" in one_error_line(result)

    bad = tmp_path / "bad.yaml"
    bad.write_text("stores:\n  - name: a\n   admin_email: x\n")
    result = run("plan", "-f", str(bad))
    assert result.exit_code == 7 and "not valid YAML at line 3" in one_error_line(result)

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("stores:\n  - name: ''\n    admin_email: nope\n  - colour: red\n")
    result = run("plan", "-f", str(wrong))
    line = one_error_line(result)
    assert result.exit_code == 7
    assert "stores[0].name: is required" in line and "stores[0].admin_email" in line
    assert "stores[1].colour: is not a store field" in line


def test_bad_plan_files(run, tmp_path):
    garbage = tmp_path / "plan.json"
    garbage.write_text("{not json")
    result = run("apply", str(garbage))
    assert result.exit_code == 7 and "is not a JSON plan" in one_error_line(result)
    garbage.write_text(json.dumps({"format_version": 99}))
    result = run("apply", str(garbage))
    assert result.exit_code == 7 and "format_version: must be 2" in one_error_line(result)


def test_usage_errors(run, tmp_path):
    assert run("plan").exit_code == 2
    assert run("plan", "shop", "-f", "x.yaml").exit_code == 2
    assert run("plan", "shop", "--prune").exit_code == 2
    assert run("restart", "shop", "--component", "nginx").exit_code == 2


def test_audit_filter_errors(run):
    result = run("audit", "--since", "yesterday-ish")
    assert result.exit_code == 7 and "since" in one_error_line(result)
    result = run("audit", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_plan_schema_accepts_a_plan_and_rejects_a_broken_one():
    import jsonschema

    from storekit.plan import Plan, PropertyChange, ResourceChange
    from storekit.spec import StoreSpec

    schema = json.loads((ROOT / "docs" / "plan-format.schema.json").read_text())
    spec = StoreSpec(name="Shop", admin_email="a@b.co", store_domain="x.io", ingress_class="sim",
                     storage_class="standard")
    plan = Plan(store="shop", action="update", spec=spec, fingerprint="absent", state_url="file:///s",
                changes=(ResourceChange(name="quota", type="kubernetes:core/v1:ResourceQuota", op="update",
                                        properties=(PropertyChange("spec.hard.pods", "update", "10", "20"),)),))
    jsonschema.validate(plan.to_dict(), schema)
    broken = plan.to_dict()
    broken["changes"][0]["op"] = "explode"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_every_setting_and_command_is_documented():
    from storekit.settings import SETTINGS

    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if s.env not in readme]
    missing += [f"storekit {name}" for name in commands() if f"storekit {name}" not in readme
                and f"| {name}" not in readme]
    assert not missing, f"undocumented in README.md: {missing}"


def test_shell_completion_script_and_completions():
    import subprocess
    import sys

    env = {"_STOREKIT_COMPLETE": "bash_source", "PATH": "/usr/bin:/bin"}
    script = subprocess.run([sys.executable, "-m", "storekit.cli"], env=env, capture_output=True, text=True)
    assert "_storekit_completion()" in script.stdout and "complete -o nosort" in script.stdout
    env = {"_STOREKIT_COMPLETE": "bash_complete", "COMP_WORDS": "storekit pl", "COMP_CWORD": "1",
           "PATH": "/usr/bin:/bin"}
    words = subprocess.run([sys.executable, "-m", "storekit.cli"], env=env, capture_output=True, text=True)
    assert "plain,plan" in words.stdout
