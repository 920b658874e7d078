"""The app factory uvicorn's worker processes call (`fireside serve --workers N`).

The parent process migrates and boots any embedded PostgreSQL, then passes the resolved
database URL and settings down through the environment, since workers are fresh interpreters.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from fireside.api.app import create_app
from fireside.config import Settings

DATABASE_URL_VARIABLE = "FIRESIDE_RESOLVED_DATABASE_URL"


def app_from_environment() -> Starlette:
    return create_app(Settings(), os.environ[DATABASE_URL_VARIABLE])
