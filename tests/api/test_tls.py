"""`fireside serve --tls-cert/--tls-key` serves HTTPS, announces https URLs, and marks its cookie
Secure. The certificate is self-signed, made here with `cryptography`."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import unshared_port

FIRESIDE = str(Path(sys.executable).parent / "fireside")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def https_server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    cert, key = self_signed_certificate(tmp_path)
    port = unshared_port()
    env = {**os.environ, "DATABASE_URL": database_url, "FIRESIDE_SECRET_KEY": "tls-test-key"}
    process = subprocess.Popen(
        [FIRESIDE, "serve", "--data-dir", str(tmp_path), "--port", str(port), "--tls-cert", str(cert),
         "--tls-key", str(key)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    trust = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthcheck", verify=trust).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "no output") from None
                time.sleep(0.2)
        yield base, trust
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr:
            process.stderr.close()


def test_the_server_speaks_https_with_the_given_certificate(https_server: tuple[str, ssl.SSLContext]) -> None:
    base, trust = https_server
    metadata = httpx.get(base + "/fhir/R4/metadata", verify=trust)
    assert metadata.status_code == 200
    assert metadata.json()["resourceType"] == "CapabilityStatement"


def test_plain_http_gets_no_answer_on_the_tls_port(https_server: tuple[str, ssl.SSLContext]) -> None:
    base, _ = https_server
    with pytest.raises(httpx.TransportError):
        httpx.get(base.replace("https://", "http://") + "/healthcheck")


def test_discovery_announces_https_endpoints(https_server: tuple[str, ssl.SSLContext]) -> None:
    base, trust = https_server
    discovery = httpx.get(base + "/.well-known/openid-configuration", verify=trust).json()
    assert discovery["issuer"] == base
    assert discovery["token_endpoint"] == f"{base}/oauth2/token"


def test_the_sign_in_cookie_is_secure_httponly_and_samesite_over_https(
        https_server: tuple[str, ssl.SSLContext], database_url: str) -> None:
    import asyncio

    from fireside.auth.projects import system_context
    from fireside.store import ResourceStore, new_resource_id, open_pool

    base, trust = https_server
    client_id = new_resource_id()

    async def register() -> None:
        from fireside.auth import create_project

        pool = await open_pool(database_url, min_size=1, max_size=2)
        try:
            store = ResourceStore(pool)
            project = await create_project(store, "Clinic")
            async with store.transaction(system_context(project)) as unit:
                unit.stage_put({"resourceType": "ClientApplication", "name": "App",
                                "redirectUri": ["https://app.example/callback"]}, client_id, None)
        finally:
            await pool.close()

    asyncio.run(register())
    page = httpx.get(base + "/oauth2/authorize", verify=trust, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": "https://app.example/callback",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"})
    assert page.status_code == 200
    cookie = page.headers["set-cookie"].lower()
    assert "; secure" in cookie and "; httponly" in cookie and "samesite=lax" in cookie
