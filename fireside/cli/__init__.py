"""The `fireside` command line."""

from fireside.cli.main import main

__all__ = ["main"]
