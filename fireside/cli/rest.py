"""`fireside get | post | put | patch | delete | search`: the FHIR REST API from the shell.

PATH is relative to the server's FHIR base (`Patient/123`, `Patient?name=smith`, `metadata`,
`/` for the base itself). Bodies come from a file or stdin (`-`). Answers print as JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
import orjson

from fireside.cli.session import Session, print_json, read_body, remote_command
from fireside.cli.summary import print_table

if TYPE_CHECKING:
    from fireside.client import HttpResponse

header_option = click.option(
    "-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'",
    help="An extra request header, e.g. -H 'If-Match: W/\"2\"' (repeatable).",
)
body_argument = click.argument("source", metavar="[FILE|-]", default="-")


def _headers(values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, separator, content = value.partition(":")
        if not separator or not name.strip():
            raise click.BadParameter(f"{value!r} is not 'Name: value'", param_hint="--header")
        headers[name.strip()] = content.strip()
    return headers


def _print_response(response: HttpResponse) -> None:
    if not response.content:
        return
    try:
        print_json(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        click.echo(response.content.decode("utf-8", "replace"))


@click.command("get")
@click.argument("path")
@header_option
@remote_command
def get(session: Session, path: str, headers: tuple[str, ...]) -> None:
    """GET a FHIR path and print the answer.

    PATH is relative to the FHIR base: Patient/123, Patient/123/_history/2, Patient?name=smith,
    metadata.
    """
    _print_response(session.client.request("GET", path, headers=_headers(headers)))


def _write_command(method: str, summary: str) -> click.Command:
    @click.argument("path")
    @body_argument
    @header_option
    @remote_command
    def command(session: Session, path: str, source: str, headers: tuple[str, ...]) -> None:
        body: Any = read_body(source)
        content_type = "application/fhir+json"
        if method == "PATCH" and isinstance(body, list):
            content_type = "application/json-patch+json"
        _print_response(session.client.request(method, path, body=body, content_type=content_type,
                                               headers={"Prefer": "return=representation", **_headers(headers)}))

    command.__doc__ = summary
    return click.command(method.lower())(command)


post = _write_command("POST", """POST JSON from FILE or stdin: create, or run a Bundle.

    `fireside post Patient patient.json` creates; `fireside post / transaction.json` runs a batch
    or transaction Bundle. Add -H 'If-None-Exist: identifier=...' for a conditional create.""")
put = _write_command("PUT", """PUT JSON from FILE or stdin: update a resource.

    PATH is Patient/123, or Patient?criteria for a conditional update. Add -H 'If-Match: W/"3"'
    to fail rather than overwrite a newer version.""")
patch = _write_command("PATCH", """PATCH a resource with JSON from FILE or stdin.

    The JSON is a JSON Patch array ([{"op": "replace", "path": "/active", "value": false}]) or a
    FHIRPath Patch Parameters resource.""")


@click.command("delete")
@click.argument("path")
@header_option
@remote_command
def delete(session: Session, path: str, headers: tuple[str, ...]) -> None:
    """DELETE a resource: Patient/123, or Patient?criteria (conditional)."""
    _print_response(session.client.request("DELETE", path, headers=_headers(headers)))


@click.command("search")
@click.argument("resource_type", metavar="TYPE")
@click.argument("criteria", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("--json", "as_json", is_flag=True, help="Print the searchset Bundle (with --all: one resource per line).")
@click.option("--all", "all_pages", is_flag=True, help="Follow `next` links and show every match, not one page.")
@remote_command
def search(session: Session, resource_type: str, criteria: tuple[str, ...], as_json: bool, all_pages: bool) -> None:
    """Search TYPE and print a table of the matches.

    `fireside search Observation subject=Patient/123 code=http://loinc.org|8867-4` prints id,
    lastUpdated and a summary per match; --json prints what the server sent.
    """
    params = []
    for criterion in criteria:
        name, separator, value = criterion.partition("=")
        if not separator:
            raise click.BadParameter(f"{criterion!r} is not NAME=VALUE", param_hint="CRITERIA")
        params.append((name, value))
    if all_pages:
        resources = session.client.search_resources(resource_type, params)
        if as_json:
            for resource in resources:
                click.echo(orjson.dumps(resource).decode())
        else:
            click.echo(f"{print_table(resources)} matches", err=True)
        return
    bundle = session.client.search(resource_type, params)
    if as_json:
        print_json(bundle)
        return
    shown = print_table(entry["resource"] for entry in bundle.get("entry", []) if "resource" in entry
                        and entry.get("search", {}).get("mode", "match") == "match")
    total = f" of {bundle['total']}" if "total" in bundle else ""
    more = "; more pages: add --all" if any(link.get("relation") == "next" for link in bundle.get("link", [])) else ""
    click.echo(f"{shown}{total} matches shown{more}", err=True)
