"""DICOMweb: QIDO-RS and STOW-RS with dicomweb-client, WADO-RS streamed to disk.

The requests session carries the TLS trust (`ca_file`) and the authentication (basic or
bearer; secrets from `servers.credentials_for`, never from settings). WADO-RS asks for the
stored transfer syntax (`transfer-syntax=*`: Orthanc 1.10 can crash transcoding JPEG 2000) and
writes each part of the multipart answer straight into the landing folder as it arrives, so
memory stays bounded whatever size the server announces; cancel is checked between chunks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient

from viewer.core.pacs.query import qido_params, result_from_json
from viewer.core.pacs.retrieve import Landing
from viewer.core.pacs.servers import (
    DEFAULT_TIMEOUT_S,
    Cancel,
    Credentials,
    PacsCancelled,
    PacsError,
    PacsServer,
    Progress,
    never_cancelled,
    no_progress,
)
from viewer.core.scan import max_image_bytes

CHUNK_BYTES = 1 << 20
MAX_PART_HEADER_BYTES = 64 * 1024
STOW_BATCH_FILES = 16
WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


@contextlib.contextmanager
def web_errors(label: str, received: int = 0):
    """requests' exceptions → one-line PacsError."""
    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise PacsError(label, f"TLS failed ({_first_line(exc)})", received) from None
    except requests.exceptions.ConnectionError as exc:
        raise PacsError(label, f"unreachable ({_connection_reason(exc)})", received) from None
    except requests.exceptions.Timeout:
        raise PacsError(label, "timeout (no answer in time)", received) from None
    except requests.exceptions.HTTPError as exc:
        response = exc.response
        status = (
            f"HTTP {response.status_code} {response.reason}"
            if response is not None
            else "HTTP error"
        )
        raise PacsError(label, status, received) from None
    except requests.exceptions.RequestException as exc:
        raise PacsError(label, f"request failed ({type(exc).__name__})", received) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for marker in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if marker in str(exc):
            return marker.lower().replace("_", " ")
    return text[:160]


def _connection_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("timed out", "timeout"),
        ("Connection reset", "connection reset"),
        ("Connection aborted", "connection lost"),
    ):
        if marker in text:
            return reason
    return type(exc).__name__


def make_session(server: PacsServer, credentials: Credentials) -> requests.Session:
    session = requests.Session()
    session.verify = server.ca_file or True
    session.trust_env = False  # no proxy or netrc from the environment sees our secrets
    if credentials.token:
        session.headers["Authorization"] = f"Bearer {credentials.token}"
    elif credentials.username:
        session.auth = (credentials.username, credentials.password)
    return session


class DicomWebClient:
    def __init__(
        self,
        server: PacsServer,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.server, self.timeout = server, timeout
        self.label = server.label()
        self.session = make_session(server, credentials or Credentials())
        self.api = DICOMwebClient(server.base_url, session=self.session, timeout=timeout)

    def echo(self) -> None:
        self._qido("/studies", {"limit": "1"})

    def find(self, level: str, filters: dict[str, str]) -> list[dict]:
        params = qido_params(level, filters)
        path = "/studies"
        if level == "series":
            study = params.pop("StudyInstanceUID", "")
            path = f"/studies/{study}/series" if study else "/series"
        return [result_from_json(item, level) for item in self._qido(path, params)]

    def _qido(self, path: str, params: dict) -> list[dict]:
        """GET a QIDO-RS search. The query string keeps `*` literal: Orthanc's DICOMweb
        plugin (1.7) does not decode `%2A`, so an encoded wildcard would match nothing."""
        query = urlencode(params, doseq=True, safe="*")
        with web_errors(self.label):
            response = self.session.get(
                f"{self.server.base_url}{path}?{query}",
                headers={"Accept": "application/dicom+json"},
                timeout=self.timeout,
            )
            response.raise_for_status()
        if response.status_code == 204 or not response.content.strip():
            return []
        try:
            found = response.json()
        except ValueError:
            raise PacsError(self.label, "QIDO-RS answer is not JSON") from None
        if not isinstance(found, list):
            raise PacsError(self.label, "QIDO-RS answer is not a list")
        return [item for item in found if isinstance(item, dict)]

    def count(self, study_uid: str, series_uid: str = "") -> int | None:
        """Instances the server holds for the study (or series), for the completeness check."""
        level, filters = (
            "series",
            {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid},
        )
        if not series_uid:
            level, filters = "study", {"StudyInstanceUID": study_uid}
        found = self.find(level, filters)
        if not found:
            raise PacsError(self.label, f"no such {level} on the server")
        key = "NumberOfSeriesRelatedInstances" if series_uid else "NumberOfStudyRelatedInstances"
        value = found[0].get(key)
        return value if isinstance(value, int) else None

    def retrieve(
        self,
        study_uid: str,
        series_uid: str,
        landing: Landing,
        progress: Progress = no_progress,
        cancel: Cancel = never_cancelled,
        move_to: str = "",
        listen_port: int = 0,
    ) -> int | None:
        if move_to:
            raise PacsError(
                self.label, "--move-to is a DIMSE (dicom://) option; DICOMweb retrieves directly"
            )
        expected = self.count(study_uid, series_uid)
        url = f"{self.server.base_url}/studies/{study_uid}"
        if series_uid:
            url += f"/series/{series_uid}"
        with web_errors(self.label, landing.received):
            response = self.session.get(
                url, headers={"Accept": WADO_ACCEPT}, stream=True, timeout=self.timeout
            )
            with response:
                response.raise_for_status()
                MultipartWriter(response, landing, progress, cancel, expected or 0).run()
        return expected

    def send(
        self,
        paths: Iterable[str | Path],
        progress: Progress = no_progress,
        cancel: Cancel = never_cancelled,
    ) -> int:
        """STOW-RS in batches of STOW_BATCH_FILES files (memory: one batch)."""
        files = [Path(p) for p in paths]
        stored = 0
        for start in range(0, len(files), STOW_BATCH_FILES):
            if cancel():
                raise PacsCancelled(self.label, f"cancelled after {stored} instance(s)", stored)
            batch = [
                _read_for_sending(p, self.label) for p in files[start : start + STOW_BATCH_FILES]
            ]
            with web_errors(self.label, stored):
                answer = self.api.store_instances(batch)
            failed = answer.get("FailedSOPSequence", []) if answer is not None else []
            if failed:
                reason = failed[0].get("FailureReason", "?")
                raise PacsError(
                    self.label,
                    f"STOW-RS refused {len(failed)} instance(s) (reason {reason})",
                    stored,
                )
            stored += len(batch)
            progress(stored, len(files))
        return stored


def _read_for_sending(path: Path, label: str) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line
        raise PacsError(
            label, f"{path.name}: not a DICOM file to send ({type(exc).__name__})"
        ) from None


class MultipartWriter:
    """Writes each part of a streamed multipart/related answer to its own landing file.

    A part growing past the per-file cap (`scan.max_image_bytes`, RADLENS_MAX_IMAGE_GB) stops
    being written: its partial file is removed, its bytes up to the next boundary are counted
    but dropped, and the landing lists it as refused (named by the SOP Instance UID read from
    the part's head); the following parts land as usual.
    """

    def __init__(
        self, response, landing: Landing, progress: Progress, cancel: Cancel, expected: int
    ):
        self.response, self.landing = response, landing
        self.progress, self.cancel, self.expected = progress, cancel, expected
        self.out: BinaryIO | None = None
        self.path: Path | None = None
        self.limit = max_image_bytes()
        self.part_bytes = 0  # the current part's body so far, written or dropped
        self.dropped: str | None = None  # SOP Instance UID of the part being dropped
        self.buffer = bytearray(b"\r\n")  # the first boundary has no CRLF before it
        self.state = "preamble"
        boundary = _boundary(response.headers.get("Content-Type", ""))
        if boundary is None:
            raise PacsError(landing.server, "WADO-RS answer is not multipart/related")
        self.delimiter = b"\r\n--" + boundary

    def run(self) -> None:
        try:
            for chunk in self.response.iter_content(CHUNK_BYTES):
                if self.cancel():
                    raise PacsCancelled(
                        self.landing.server,
                        f"cancelled; {self.landing.received} instance(s) had arrived and were "
                        "discarded",
                        self.landing.received,
                    )
                self.buffer += chunk
                if self._consume():
                    return
            if self.state != "done":
                raise PacsError(
                    self.landing.server,
                    f"answer ended early: {self.landing.received} instance(s) arrived",
                    self.landing.received,
                )
        finally:
            self._close_part()

    def _consume(self) -> bool:
        """Process the buffer as far as it goes; True at the closing boundary."""
        while True:
            if self.state in ("preamble", "body"):
                index = self.buffer.find(self.delimiter)
                if index < 0:
                    self._flush(len(self.buffer) - len(self.delimiter))
                    return False
                self._flush(index)
                del self.buffer[: len(self.delimiter)]
                self._close_part()
                self.state = "after"
            if self.state == "after":
                if len(self.buffer) < 2:
                    return False
                if self.buffer[:2] == b"--":
                    self.state = "done"
                    return True
                self.state = "headers"
            if self.state == "headers":
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_PART_HEADER_BYTES:
                        raise PacsError(
                            self.landing.server,
                            "malformed multipart answer (part headers too long)",
                        )
                    return False
                del self.buffer[: end + 4]
                self.path = self.landing.next_path()
                self.out = open(self.path, "wb")  # noqa: SIM115 - closed in _close_part
                self.part_bytes = 0
                self.state = "body"

    def _flush(self, upto: int) -> None:
        if upto <= 0:
            return
        if self.out is not None:
            room = self.limit - self.part_bytes
            self.landing.add_bytes(min(upto, room))
            self.out.write(self.buffer[: min(upto, room)])
            if upto > room:
                self._drop_part()
        if self.state == "body":
            self.part_bytes += upto
        del self.buffer[:upto]

    def _drop_part(self) -> None:
        """The current part is over the cap: its file (the first `limit` bytes) goes."""
        assert self.out is not None and self.path is not None
        self.out.close()
        self.out = None
        self.dropped = _instance_uid(self.path)
        self.landing.unstream(self.path, self.limit)

    def _close_part(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        elif self.dropped is not None:
            self.landing.refuse_too_large(self.dropped, self.part_bytes, self.limit)
            self.dropped = None
        else:
            return
        arrived = self.landing.received + len(self.landing.refused)
        self.progress(arrived, max(self.expected, arrived))


def _instance_uid(path: Path) -> str:
    """The SOP Instance UID in the head of a (cut off) part; "" when it cannot be read."""
    try:
        head = pydicom.dcmread(
            path, stop_before_pixels=True, defer_size=1024, specific_tags=["SOPInstanceUID"]
        )
        return str(head.get("SOPInstanceUID", ""))
    except Exception:  # noqa: BLE001 - a head too short or malformed names no instance
        return ""


def _boundary(content_type: str) -> bytes | None:
    media_type, *params = [p.strip() for p in content_type.split(";")]
    if media_type.lower() != "multipart/related":
        return None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"').encode("ascii", "replace")
    return None
