"""`fireside project create`: a new tenant, ready for `fireside client create --project`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Invoke
from tests.conftest import RunningServer


def test_project_create_makes_a_project_its_clients_work_in(
        server: RunningServer, fireside: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", server.database_url)
    created = fireside("project", "create", "Clinic", "--data-dir", str(tmp_path))
    assert created.exit_code == 0, created.output
    project = json.loads(created.stdout)
    assert project["name"] == "Clinic"
    made = fireside("client", "create", "--data-dir", str(tmp_path), "--name", "ehr", "--project",
                    project["project_id"])
    assert made.exit_code == 0, made.output
    credentials = json.loads(made.stdout)
    assert credentials["project_id"] == project["project_id"]
    token = server.token(credentials)
    read = httpx.get(f"{server.fhir_url}/Project/{project['project_id']}",
                     headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json()["name"] == "Clinic"
