"""PACS server addresses, credentials and the one error type of the PACS layer.

`parse_server("dicom://ORTHANC@pacs.example.org:4242")` → a DIMSE server (`dicoms://` for DICOM
TLS); `parse_server("https://pacs.example.org:8042/dicom-web")` → a DICOMweb root. A user name may
precede the host of a DICOMweb URL (`https://alice@host/...`); a password in the URL is refused,
so no secret ever lands in a settings file, a shell history or a log. Secrets come from the
environment (`RADLENS_PACS_PASSWORD`, `RADLENS_PACS_TOKEN`) or from the per-user secrets file
(`pacs-secrets.json`, readable by its owner only), never from the plain settings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from viewer.core.atomic import atomic_write_text
from viewer.core.errors import RadLensError
from viewer.paths import user_data_dir

DEFAULT_OUR_AET = "RADLENS"
DEFAULT_TIMEOUT_S = 30.0
DIMSE_SCHEMES = {"dicom": False, "dicoms": True}  # scheme → TLS
WEB_SCHEMES = {"http": False, "https": True}
AET_PATTERN = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable, no backslash
PASSWORD_ENV, TOKEN_ENV = "RADLENS_PACS_PASSWORD", "RADLENS_PACS_TOKEN"
SECRETS_FILE = "pacs-secrets.json"


Progress = Callable[[int, int], None]  # (instances done, instances in all)
Cancel = Callable[[], bool]  # True once the user asked to stop


def no_progress(_done: int, _total: int) -> None:
    pass


def never_cancelled() -> bool:
    return False


class PacsError(RadLensError):
    """A PACS operation failed; `str()` is one line: `server: reason`."""

    def __init__(self, server: str, reason: str, received: int = 0) -> None:
        super().__init__(f"{server}: {reason}")
        self.server, self.reason, self.received = server, reason, received


class PacsCancelled(PacsError):
    """The user cancelled; `received` instances had arrived (and were discarded)."""


@dataclass(frozen=True)
class PacsServer:
    kind: str  # "dimse" | "dicomweb"
    host: str
    port: int
    called_aet: str = ""  # DIMSE: the server's AE title
    root: str = ""  # DICOMweb: the path of the service root ("/dicom-web")
    tls: bool = False
    ca_file: str = ""  # PEM bundle trusted for TLS/HTTPS ("" = the system's)
    username: str = ""  # DICOMweb basic auth (the password is a secret, kept elsewhere)
    name: str = ""  # the node's name in the PACS panel (keys its secrets)

    @property
    def is_dimse(self) -> bool:
        return self.kind == "dimse"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{self.root}"

    def label(self) -> str:
        """How messages name the server (no user name, no secret)."""
        if self.is_dimse:
            return (
                f"{'dicoms' if self.tls else 'dicom'}://{self.called_aet}@{self.host}:{self.port}"
            )
        return self.base_url

    def url(self) -> str:
        """The text `parse_server` reads back (user name included, never a secret)."""
        if self.is_dimse or not self.username:
            return self.label()
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.username}@{self.host}:{self.port}{self.root}"


def parse_server(text: str, *, ca_file: str = "", name: str = "") -> PacsServer:
    """`dicom[s]://AET@HOST:PORT` or `http[s]://[USER@]HOST[:PORT]/ROOT` → PacsServer."""
    text = text.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise PacsError(text, f"not a server address ({exc})") from None
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise PacsError(
            text,
            "not a server address (expected dicom://AET@HOST:PORT or http(s)://HOST:PORT/ROOT)",
        )
    if parts.password is not None:
        raise PacsError(
            text, "put no password in the address (use RADLENS_PACS_PASSWORD or the secrets file)"
        )
    if scheme in DIMSE_SCHEMES:
        return _dimse_server(text, parts, port, DIMSE_SCHEMES[scheme], ca_file, name)
    if scheme in WEB_SCHEMES:
        tls = WEB_SCHEMES[scheme]
        return PacsServer(
            "dicomweb",
            parts.hostname,
            port or (443 if tls else 80),
            root=parts.path.rstrip("/"),
            tls=tls,
            ca_file=ca_file,
            username=parts.username or "",
            name=name,
        )
    raise PacsError(
        text,
        f"unknown scheme {scheme or '(none)'!r} (use dicom://, dicoms://, http:// or https://)",
    )


def _dimse_server(text, parts, port, tls, ca_file, name) -> PacsServer:
    aet = parts.username or ""
    if not AET_PATTERN.match(aet) or aet.strip() != aet:
        raise PacsError(text, "a DIMSE address needs the server's AE title: dicom://AET@HOST:PORT")
    if port is None:
        raise PacsError(text, "a DIMSE address needs a port: dicom://AET@HOST:PORT")
    return PacsServer(
        "dimse", parts.hostname, port, called_aet=aet, tls=tls, ca_file=ca_file, name=name
    )


def check_aet(aet: str) -> str:
    """An AE title of ours (1-16 printable characters, no backslash), else PacsError."""
    if not AET_PATTERN.match(aet) or aet.strip() != aet:
        raise PacsError(aet or "(empty)", "not a valid AE title (1-16 characters, no backslash)")
    return aet


# --- secrets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """DICOMweb authentication: basic (username + password) or bearer (token)."""

    username: str = ""
    password: str = ""
    token: str = ""

    def __repr__(self) -> str:  # never print a secret by accident
        kind = "bearer" if self.token else "basic" if self.username else "none"
        return f"Credentials({kind})"


def secrets_file() -> Path:
    return user_data_dir() / SECRETS_FILE


def load_secrets(path: Path | None = None) -> dict[str, dict[str, str]]:
    """Node name → {"password"|"token": value}; a missing or damaged file is empty."""
    try:
        data = json.loads((path or secrets_file()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def save_secret(
    node: str, *, password: str = "", token: str = "", path: Path | None = None
) -> None:
    """Store (or, with both empty, forget) a node's secret; the file is readable by its owner only."""
    path = path or secrets_file()
    secrets = load_secrets(path)
    secrets.pop(node, None)
    entry = {k: v for k, v in (("password", password), ("token", token)) if v}
    if entry:
        secrets[node] = entry
    old_umask = os.umask(0o077)
    try:
        atomic_write_text(path, json.dumps(secrets, indent=1))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)


def credentials_for(server: PacsServer, environ=None, path: Path | None = None) -> Credentials:
    """The environment's secrets first, then the secrets file's entry for the node's name."""
    environ = os.environ if environ is None else environ
    stored = load_secrets(path).get(server.name, {}) if server.name else {}
    token = environ.get(TOKEN_ENV) or stored.get("token", "")
    password = environ.get(PASSWORD_ENV) or stored.get("password", "")
    return Credentials(server.username, password if server.username else "", token)
