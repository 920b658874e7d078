"""`fireside get | post | put | patch | delete | search` against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fireside.cli import main
from tests.cli.conftest import Invoke
from tests.client.conftest import require
from tests.conftest import RunningServer


def test_post_get_put_and_delete_a_patient(logged_in: Invoke, tmp_path: Path) -> None:
    source = tmp_path / "patient.json"
    source.write_text(json.dumps({"resourceType": "Patient", "name": [{"family": "Shell"}]}))
    created = json.loads(logged_in("post", "Patient", str(source)).stdout)
    path = f"Patient/{created['id']}"
    assert json.loads(logged_in("get", path).stdout)["name"][0]["family"] == "Shell"
    changed = json.dumps({**created, "active": True})
    updated = logged_in("put", path, "-", "-H", 'If-Match: W/"1"', input=changed)
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["meta"]["versionId"] == "2"
    assert logged_in("delete", path).exit_code == 0
    assert logged_in("get", path).exit_code == 1


def test_a_failed_request_prints_the_outcome_to_stderr_and_exits_1(logged_in: Invoke) -> None:
    result = logged_in("put", "Patient/abc", "-", input=json.dumps({"resourceType": "Patient", "id": "xyz"}))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Error: HTTP 400 from PUT http://" in result.stderr
    assert "  error invalid at Patient.id: " in result.stderr


def test_a_stale_if_match_is_reported_as_a_412_conflict(logged_in: Invoke) -> None:
    created = json.loads(logged_in("post", "Patient", "-", input='{"resourceType": "Patient"}').stdout)
    logged_in("put", f"Patient/{created['id']}", "-", input=json.dumps(created))
    result = logged_in("put", f"Patient/{created['id']}", "-", "-H", 'If-Match: W/"1"', input=json.dumps(created))
    assert result.exit_code == 1
    assert "HTTP 412" in result.stderr and "error conflict" in result.stderr


def test_patch_takes_a_json_patch_array(server: RunningServer, logged_in: Invoke) -> None:
    require(server, "patch")
    created = json.loads(logged_in("post", "Patient", "-", input='{"resourceType": "Patient", "active": true}').stdout)
    operations = json.dumps([{"op": "replace", "path": "/active", "value": False}])
    patched = logged_in("patch", f"Patient/{created['id']}", "-", input=operations)
    assert json.loads(patched.stdout)["active"] is False


def test_a_body_that_is_not_json_is_a_usage_error(logged_in: Invoke) -> None:
    result = logged_in("post", "Patient", "-", input="<Patient/>")
    assert result.exit_code == 2
    assert "stdin is not JSON" in result.stderr


def test_search_prints_a_table_with_id_last_updated_and_summary(server: RunningServer, logged_in: Invoke) -> None:
    require(server, "search-type")
    patient = json.dumps({"resourceType": "Patient", "name": [{"given": ["Ada"], "family": "Lovelace"}]})
    created = json.loads(logged_in("post", "Patient", "-", input=patient).stdout)
    result = logged_in("search", "Patient", "family=Lovelace")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["ID", "LAST", "UPDATED", "SUMMARY"]
    assert row.split()[0] == created["id"] and row.endswith("Ada Lovelace")
    assert "1" in result.stderr and "matches shown" in result.stderr
    bundle = json.loads(logged_in("search", "Patient", "family=Lovelace", "--json").stdout)
    assert bundle["resourceType"] == "Bundle" and bundle["entry"][0]["resource"]["id"] == created["id"]
    raw = logged_in("get", "Patient?family=Lovelace&_profile=http://example.org/StructureDefinition/none")
    assert raw.exit_code == 0, raw.output
    assert json.loads(raw.stdout)["resourceType"] == "Bundle"


def test_search_all_pages_as_json_lines(server: RunningServer, logged_in: Invoke) -> None:
    require(server, "search-type")
    for family in ("Page", "Page", "Page"):
        logged_in("post", "Patient", "-", input=json.dumps({"resourceType": "Patient", "name": [{"family": family}]}))
    result = logged_in("search", "Patient", "family=Page", "_count=1", "--all", "--json")
    assert [json.loads(line)["resourceType"] for line in result.stdout.splitlines()] == ["Patient"] * 3


def test_every_command_has_help_text(fireside: Invoke) -> None:
    for name, command in main.commands.items():
        assert command.help, name
        assert fireside(name, "--help").exit_code == 0


def test_the_installed_fireside_script_prints_help() -> None:
    script = Path(sys.executable).parent / "fireside"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True,
                            env={**os.environ, "NO_COLOR": "1"})
    for command in ("login", "whoami", "get", "post", "put", "patch", "delete", "search", "bundle", "serve"):
        assert f"  {command} " in result.stdout
