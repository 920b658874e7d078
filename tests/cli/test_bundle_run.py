"""`fireside bundle run`: loading the sample bundles into a real server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.cli.conftest import Invoke
from tests.client.conftest import require
from tests.conftest import RunningServer

SUMMARY = re.compile(r"^(\d+) bundles, (\d+) resources, [\d.]+ s, \d+ resources/s")


def sample_folder(shared_dir: Path, destination: Path, patients: int) -> Path:
    source = shared_dir / "data" / "bundles"
    destination.mkdir()
    shutil.copy(source / "practitioners.json", destination)
    for path in sorted(source.glob("patient-*.json"))[:patients]:
        shutil.copy(path, destination)
    return destination


def entries(path: Path) -> int:
    return len(json.loads(path.read_text())["entry"])


def test_a_folder_loads_practitioners_first_then_every_patient_bundle(
        server: RunningServer, logged_in: Invoke, shared_dir: Path, tmp_path: Path) -> None:
    require(server, "transaction")
    folder = sample_folder(shared_dir, tmp_path / "bundles", patients=2)
    # "patient-..." sorts before "practitioners.json": the run must reorder, or the patients'
    # conditional references to practitioners would find nothing.
    result = logged_in("bundle", "run", str(folder))
    assert result.exit_code == 0, result.output
    match = SUMMARY.match(result.stdout)
    assert match, result.stdout
    assert int(match[1]) == 3
    assert int(match[2]) == sum(entries(path) for path in folder.glob("*.json"))


def test_bundles_can_run_concurrently(server: RunningServer, logged_in: Invoke, shared_dir: Path,
                                      tmp_path: Path) -> None:
    require(server, "transaction")
    folder = sample_folder(shared_dir, tmp_path / "bundles", patients=2)
    result = logged_in("bundle", "run", str(folder), "--concurrency", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 bundles, ")


def test_a_failing_bundle_is_reported_and_the_exit_status_is_1(server: RunningServer, logged_in: Invoke,
                                                               tmp_path: Path) -> None:
    require(server, "transaction")
    good = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}]}
    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "x"},
         "request": {"method": "PUT", "url": "Patient/x", "ifMatch": 'W/"7"'}}]}
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-good.json").write_text(json.dumps(good))
    (folder / "b-bad.json").write_text(json.dumps(bad))
    result = logged_in("bundle", "run", str(folder))
    assert result.exit_code == 1
    assert result.stdout.startswith("1 bundles, 1 resources, ") and "1 bundles failed" in result.stdout
    assert "b-bad.json failed:" in result.stderr and "HTTP 412" in result.stderr


def test_a_folder_without_bundles_is_an_error(logged_in: Invoke, tmp_path: Path) -> None:
    result = logged_in("bundle", "run", str(tmp_path))
    assert result.exit_code == 1
    assert "No *.json bundles" in result.stderr
