"""`fireside bundle run FILE_OR_FOLDER`: load batch and transaction Bundles into a server.

A folder's bundles run in name order, except `practitioners.json`, which runs first: the sample
patient bundles refer to practitioners by conditional reference (`Practitioner?identifier=...`),
which only resolves once they exist.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from fireside.cli.session import Session, remote_command, report_error

if TYPE_CHECKING:
    from fireside.client import FiresideClient, FiresideError

RUN_FIRST = "practitioners.json"


@dataclass
class BundleResult:
    path: Path
    resources: int
    error: FiresideError | None = None
    failed_entries: list[str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed_entries


def bundle_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    files = sorted(source.glob("*.json"))
    return sorted(files, key=lambda path: path.name != RUN_FIRST)  # stable: name order otherwise


def post_bundle(client: FiresideClient, path: Path) -> BundleResult:
    from fireside.client import FiresideError

    try:
        bundle: Any = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise click.ClickException(f"{path}: not a readable JSON file ({error})") from error
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise click.ClickException(f"{path}: not a FHIR Bundle")
    resources = len(bundle.get("entry") or [])
    try:
        response = client.request("POST", "", body=bundle).json()
    except FiresideError as error:
        return BundleResult(path, resources, error=error)
    # A batch answers 200 even when entries fail; each entry carries its own status.
    failed = [
        f"entry {index}: {(entry.get('response') or {}).get('status')}"
        for index, entry in enumerate(response.get("entry") or [])
        if not str((entry.get("response") or {}).get("status", "200")).startswith(("2", "3"))
    ]
    return BundleResult(path, resources, failed_entries=failed)


def _results(session: Session, files: list[Path], concurrency: int) -> Iterator[BundleResult]:
    client = session.client
    first = [path for path in files if path.name == RUN_FIRST]
    for path in first:
        yield post_bundle(client, path)
    rest = [path for path in files if path.name != RUN_FIRST]
    if concurrency <= 1:
        yield from (post_bundle(client, path) for path in rest)
        return
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        yield from pool.map(lambda path: post_bundle(client, path), rest)


@click.group("bundle")
def bundle() -> None:
    """Work with batch and transaction Bundles."""


@bundle.command("run")
@click.argument("source", metavar="FILE_OR_FOLDER", type=click.Path(exists=True, path_type=Path))
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Bundles in flight at once (after practitioners.json, which always runs alone, first).")
@remote_command
def run(session: Session, source: Path, concurrency: int) -> None:
    """POST each Bundle in FILE_OR_FOLDER (*.json) to the server, with a progress bar.

    Prints bundles, resources, seconds and resources per second; exits 1 if any bundle failed.
    """
    files = bundle_files(source)
    if not files:
        raise click.ClickException(f"No *.json bundles in {source}")
    started = time.perf_counter()
    results: list[BundleResult] = []
    with click.progressbar(length=len(files), label="Loading bundles", file=sys.stderr) as bar:
        for result in _results(session, files, concurrency):
            results.append(result)
            bar.update(1)
    seconds = time.perf_counter() - started
    failures = [result for result in results if not result.ok]
    for failure in failures:
        click.echo(f"{failure.path.name} failed:", err=True)
        if failure.error is not None:
            report_error(failure.error)
        for line in failure.failed_entries or []:
            click.echo(f"  {line}", err=True)
    loaded = sum(result.resources for result in results if result.ok)
    rate = loaded / seconds if seconds > 0 else 0.0
    click.echo(f"{len(results) - len(failures)} bundles, {loaded} resources, {seconds:.1f} s, {rate:.0f} resources/s"
               + (f"; {len(failures)} bundles failed" if failures else ""))
    if failures:
        sys.exit(1)
