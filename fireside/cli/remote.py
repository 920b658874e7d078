"""The commands that talk to a running server, registered in the `fireside` group.

Add a command group here (`fireside bot`, `fireside export`) by writing it in its own module
with `@remote_command` (fireside.cli.session) and listing it in `REMOTE_COMMANDS`.
"""

from __future__ import annotations

import click

from fireside.cli.bundles import bundle
from fireside.cli.login import login, logout, whoami
from fireside.cli.rest import delete, get, patch, post, put, search

REMOTE_COMMANDS: tuple[click.Command, ...] = (login, logout, whoami, get, post, put, patch, delete, search, bundle)


def register_remote_commands(group: click.Group) -> None:
    for command in REMOTE_COMMANDS:
        group.add_command(command)
