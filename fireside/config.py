"""Server settings, from the command line and the environment (FIRESIDE_*, DATABASE_URL)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8103
FHIR_BASE_PATH = "/fhir/R4"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("FIRESIDE_DATA_DIR", ".fireside")))
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    host: str = field(default_factory=lambda: os.environ.get("FIRESIDE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: _env_int("FIRESIDE_PORT", DEFAULT_PORT))
    # The public URL clients use to reach the server; defaults to http://host:port.
    public_url: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_PUBLIC_URL") or None)
    max_body_bytes: int = field(default_factory=lambda: _env_int("FIRESIDE_MAX_BODY_BYTES", 16 * 1024 * 1024))
    access_token_seconds: int = field(default_factory=lambda: _env_int("FIRESIDE_ACCESS_TOKEN_SECONDS", 3600))
    admin_email: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_ADMIN_EMAIL") or None)
    admin_password: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_ADMIN_PASSWORD") or None)
    # Encrypts signing keys at rest. Every API process of one deployment must share it; without
    # the variable it is generated once into the data dir.
    secret_key: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_SECRET_KEY") or None)
    pool_size: int = field(default_factory=lambda: _env_int("FIRESIDE_DB_POOL_SIZE", 10))
    default_page_size: int = 20
    max_page_size: int = 1000

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def fhir_base_url(self) -> str:
        return self.base_url + FHIR_BASE_PATH

    def resolve_secret_key(self) -> str:
        """The configured secret key, or the one kept in the data dir (created on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        self.secret_key = path.read_text().strip()
        return self.secret_key
