"""A real Orthanc for the PACS tests: own configuration, 127.0.0.1, free ports, stopped by PID.

Debian's `orthanc` + `orthanc-dicomweb` (+ `orthanc-gdcm`) packages, installed by `.ci/install`.
The DICOMweb plugin is looked for where Debian puts it (/usr/share/orthanc/plugins, a link to
/usr/lib/orthanc). HTTP needs a user (basic auth), so the tests also cover authentication.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
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

    @property
    def dimse_url(self) -> str:
        return f"dicom://{ORTHANC_AET}@127.0.0.1:{self.dicom_port}"

    @property
    def web_url(self) -> str:
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


def start_orthanc(folder: Path) -> Orthanc:
    folder.mkdir(parents=True, exist_ok=True)
    ports = free_port(), free_port(), free_port()
    config = folder / "orthanc.json"
    config.write_text(json.dumps(configuration(folder, *ports), indent=1))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - the child process writes it
    process = subprocess.Popen(
        [orthanc_binary(), str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    server = Orthanc(process, folder, *ports)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Orthanc exited at start: {(folder / 'orthanc.log').read_text()[-2000:]}"
            )
        try:
            answer = requests.get(
                f"{server.rest}/dicom-web/studies", auth=(HTTP_USER, HTTP_PASSWORD), timeout=2
            )
            if answer.status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("Orthanc did not answer within 60 s")
