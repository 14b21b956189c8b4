"""A real Orthanc for the PACS tests: own configuration, 127.0.0.1, free ports, stopped by PID.

Debian's `orthanc` + `orthanc-dicomweb` (+ `orthanc-gdcm`) packages, installed by `.ci/install`.
The DICOMweb plugin is looked for where Debian puts it (/usr/share/orthanc/plugins, a link to
/usr/lib/orthanc). HTTP needs a user (basic auth), so the tests also cover authentication.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ORTHANC_AET = "ORTHANC"
OUR_AET = "RADLENS"
MOVE_AET = "RADLENS_MOVE"
HTTP_USER, HTTP_PASSWORD = "radlens", "test-only-secret"
PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
START_TIMEOUT_S = 60


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or next(
        (str(p) for p in (Path("/usr/sbin/Orthanc"), Path("/usr/bin/Orthanc")) if p.exists()), None
    )


def plugin(name: str) -> Path | None:
    """`libOrthancDicomWeb` → its .so (the versioned file where no unversioned link exists)."""
    for folder in PLUGIN_DIRS:
        candidates = sorted(folder.glob(f"{name}.so*")) if folder.is_dir() else []
        if candidates:
            return candidates[0]
    return None


def missing_reason() -> str | None:
    if orthanc_binary() is None:
        return (
            "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb; see .ci/install)"
        )
    if plugin("libOrthancDicomWeb") is None:
        return "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Orthanc:
    process: subprocess.Popen
    folder: Path
    dicom_port: int
    http_port: int
    move_port: int
    ca_file: str = ""  # the self-signed certificate when started with TLS
    https: TlsProxy | None = None

    @property
    def dimse_url(self) -> str:
        scheme = "dicoms" if self.ca_file else "dicom"
        return f"{scheme}://{ORTHANC_AET}@127.0.0.1:{self.dicom_port}"

    @property
    def web_url(self) -> str:
        if self.https is not None:
            return f"https://{HTTP_USER}@127.0.0.1:{self.https.port}/dicom-web"
        return f"http://{HTTP_USER}@127.0.0.1:{self.http_port}/dicom-web"

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def kill(self) -> None:
        """Stop at once, as a crash or a power cut would (SIGKILL to our own child)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.https is not None:
            self.https.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def configuration(folder: Path, dicom_port: int, http_port: int, move_port: int) -> dict:
    plugins = [str(p) for p in (plugin("libOrthancDicomWeb"), plugin("libOrthancGdcm")) if p]
    return {
        "Name": "radlens-test",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": ORTHANC_AET,
        "DicomCheckCalledAet": True,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {HTTP_USER: HTTP_PASSWORD},
        "Plugins": plugins,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        # Known AEs: we query/get as RADLENS; C-MOVE sends to RADLENS_MOVE on our listener.
        "DicomModalities": {
            "radlens": [OUR_AET, "127.0.0.1", move_port],
            "radlens-move": [MOVE_AET, "127.0.0.1", move_port],
        },
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "OrthancExplorerEnabled": False,
        "WebDavEnabled": False,
        "SaveJobs": False,
        "DicomAssociationCloseDelay": 0,
        "StableAge": 1,
        "HttpCompressionEnabled": False,
        "MallocArenaMax": 2,
        "DicomThreadsCount": 2,
        "HttpThreadsCount": 4,
    }


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), valid one day."""
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_configuration(folder: Path) -> dict:
    cert, key = self_signed_certificate(folder)
    return {
        "DicomTlsEnabled": True,
        "DicomTlsCertificate": str(cert),
        "DicomTlsPrivateKey": str(key),
        "DicomTlsTrustedCertificates": str(cert),
        "DicomTlsRemoteCertificateRequired": False,
    }


def start_orthanc(folder: Path, tls: bool = False) -> Orthanc:
    """Start Orthanc (HTTPS and DICOM TLS with a self-signed certificate when `tls`)."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = free_port(), free_port(), free_port()
    settings = configuration(folder, *ports)
    if tls:
        settings.update(tls_configuration(folder))
    config = folder / "orthanc.json"
    config.write_text(json.dumps(settings, indent=1))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - the child process writes it
    process = subprocess.Popen(
        [orthanc_binary(), str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    server = Orthanc(process, folder, *ports, ca_file=str(folder / "server.crt") if tls else "")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Orthanc exited at start: {(folder / 'orthanc.log').read_text()[-2000:]}"
            )
        try:
            answer = requests.get(
                f"{server.rest}/dicom-web/studies",
                auth=(HTTP_USER, HTTP_PASSWORD),
                timeout=2,
            )
            if answer.status_code == 200:
                if tls:
                    folder = server.folder
                    server.https = TlsProxy(folder / "server.crt", folder / "server.key", ports[1])
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("Orthanc did not answer within 60 s")


class TlsProxy:
    """HTTPS in front of Orthanc's HTTP port, in this process (threads).

    Debian 12's Orthanc 1.10.1 crashes (SIGSEGV) on the first connection to its own HTTPS
    server (civetweb loading OpenSSL 3); Orthanc's documentation recommends a reverse proxy for
    HTTPS anyway. The client side is real TLS: certificate checks happen in our client.
    """

    def __init__(self, cert: Path, key: Path, target_port: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):  # e.g. a client that does not trust the certificate
            raw.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
