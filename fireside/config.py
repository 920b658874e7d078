"""Server settings, from the command line and the environment (FIRESIDE_*, DATABASE_URL)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8103
FHIR_BASE_PATH = "/fhir/R4"


def _env_flag(name: str) -> bool:
    """On unless the variable says off (off, 0, false)."""
    return os.environ.get(name, "on").lower() not in ("off", "0", "false")


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
    # A new token signing key replaces the active one once it is this old (0: only on
    # `fireside keys rotate`); each process re-reads the keys this often (fireside/auth/key_ring.py).
    key_rotation_days: int = field(default_factory=lambda: _env_int("FIRESIDE_KEY_ROTATION_DAYS", 90))
    key_recheck_seconds: float = 10.0
    # Benchmarks only (bench/ingest.py --no-index): off writes no search index rows, so search
    # and conditional references find nothing. It measures what indexing costs ingest.
    search_indexing: bool = field(default_factory=lambda: _env_flag("FIRESIDE_SEARCH_INDEXING"))
    pool_size: int = field(default_factory=lambda: _env_int("FIRESIDE_DB_POOL_SIZE", 10))
    default_page_size: int = 20
    max_page_size: int = 1000
    # Where AuditEvents go (docs/audit.md): "store" (the caller's project, searchable), "log" (JSON
    # lines on the `fireside.audit` logger) or "off".
    audit: str = field(default_factory=lambda: os.environ.get("FIRESIDE_AUDIT", "store"))
    # The store sink writes a batch when this many events wait or this long after the first.
    audit_batch_size: int = 200
    audit_flush_seconds: float = 0.1
    # Token buckets on /oauth2/token and the sign-in form post: a burst, refilled per minute.
    rate_limit_ip_burst: int = field(default_factory=lambda: _env_int("FIRESIDE_RATE_LIMIT_IP_BURST", 60))
    rate_limit_ip_per_minute: int = field(default_factory=lambda: _env_int("FIRESIDE_RATE_LIMIT_IP_PER_MINUTE", 120))
    rate_limit_client_burst: int = field(default_factory=lambda: _env_int("FIRESIDE_RATE_LIMIT_CLIENT_BURST", 120))
    rate_limit_client_per_minute: int = field(
        default_factory=lambda: _env_int("FIRESIDE_RATE_LIMIT_CLIENT_PER_MINUTE", 600))
    # Lock-out: this many failed sign-ins for one email within the window lock it for lock_seconds.
    lockout_failures: int = field(default_factory=lambda: _env_int("FIRESIDE_LOCKOUT_FAILURES", 10))
    lockout_window_seconds: int = 15 * 60
    lockout_seconds: int = field(default_factory=lambda: _env_int("FIRESIDE_LOCKOUT_SECONDS", 15 * 60))
    # Outgoing email (invites, password reset links); no host: nothing is sent, and that is logged.
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_SMTP_HOST") or None)
    smtp_port: int = field(default_factory=lambda: _env_int("FIRESIDE_SMTP_PORT", 587))
    smtp_username: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_SMTP_USERNAME") or None)
    smtp_password: str | None = field(default_factory=lambda: os.environ.get("FIRESIDE_SMTP_PASSWORD") or None)
    smtp_from: str = field(default_factory=lambda: os.environ.get("FIRESIDE_SMTP_FROM", "fireside@localhost"))
    # STARTTLS before authenticating; off only for a local relay or a test sink.
    smtp_starttls: bool = field(default_factory=lambda: _env_flag("FIRESIDE_SMTP_STARTTLS"))
    # How long a one-time link to set a password works: a reset link, and an invite's.
    password_reset_seconds: int = field(default_factory=lambda: _env_int("FIRESIDE_PASSWORD_RESET_SECONDS", 3600))
    invite_seconds: int = field(default_factory=lambda: _env_int("FIRESIDE_INVITE_SECONDS", 7 * 24 * 3600))
    # Hosts (names or IP literals, comma-separated) the server may fetch from although they are
    # not public, and over plain http: a client's jwksUri, an identity provider's endpoints
    # (fireside/auth/outbound.py). Empty: https to public addresses only.
    outbound_allow_hosts: tuple[str, ...] = field(default_factory=lambda: tuple(
        host.strip() for host in os.environ.get("FIRESIDE_OUTBOUND_ALLOW_HOSTS", "").split(",") if host.strip()))
    # Serve HTTPS with this certificate chain and key (PEM files); see `fireside serve --tls-cert`.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return (self.public_url or f"{scheme}://{self.host}:{self.port}").rstrip("/")

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
