"""DIMSE with pynetdicom: C-ECHO, C-FIND, C-GET, C-MOVE to our own storage listener, C-STORE.

Every operation opens one association and closes it. Failures become `PacsError` with one
reason: unreachable (connection refused, unknown host, timeout), association rejected (with
the server's reason: unknown called / calling AE title…), aborted, or the failure status.
C-GET offers the storage SOP classes with every still-image transfer syntax (JPEG, JPEG-LS,
JPEG 2000, HTJ2K, RLE, deflated, uncompressed) and the C-MOVE listener accepts them all, so the
server never has to transcode; received instances are written raw (`encoded_dataset`).
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import threading
from collections.abc import Iterable
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from viewer.core.pacs.query import dimse_identifier, result_from_dataset
from viewer.core.pacs.retrieve import Landing
from viewer.core.pacs.servers import (
    DEFAULT_OUR_AET,
    DEFAULT_TIMEOUT_S,
    Cancel,
    PacsCancelled,
    PacsError,
    PacsServer,
    Progress,
    never_cancelled,
    no_progress,
)
from viewer.core.scan import max_image_bytes

# pynetdicom logs rejected associations and failed connections at ERROR with its own wording;
# we report them once, in our words, and its debug output could carry identifiers.
logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)

# In order of preference: when a C-GET cannot offer every syntax for every object class (at
# most 128 presentation contexts), the ones at the end are dropped first.
STILL_IMAGE_SYNTAXES = [
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near Lossless
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203",  # HTJ2K
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
]
SUCCESS, PENDING = 0x0000, (0xFF00, 0xFF01)
CANCEL_STATUS = 0xFE00
STORE_REFUSED = 0xA700  # out of resources: a limit was reached or the user cancelled
# An instance over the per-file cap is answered "warning: elements discarded" (it was, all of
# them), not a failure: some servers (Orthanc) end a whole C-MOVE at the first failed store.
STORE_DROPPED = 0xB006
SUB_OPERATION_WARNINGS = 0xB000  # C-GET/C-MOVE: complete, with failures or warnings
MAX_CONTEXTS = 128


class DimseClient:
    """One remote DIMSE node; `our_aet` is the calling AE title."""

    def __init__(
        self, server: PacsServer, our_aet: str = DEFAULT_OUR_AET, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.server, self.our_aet, self.timeout = server, our_aet, timeout
        self.label = server.label()

    # --- association ---------------------------------------------------------------------------

    def _ae(self) -> AE:
        ae = AE(ae_title=self.our_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.connection_timeout = self.timeout
        ae.maximum_associations = 1
        return ae

    def _tls_args(self):
        if not self.server.tls:
            return None
        context = ssl.create_default_context(cafile=self.server.ca_file or None)
        return context, self.server.host

    def _associate(self, ae: AE, ext_neg=None, handlers=None):
        if not self._resolvable():
            raise PacsError(self.label, "unreachable (unknown host)")
        assoc = ae.associate(
            self.server.host,
            self.server.port,
            ae_title=self.server.called_aet,
            ext_neg=ext_neg,
            evt_handlers=handlers,
            tls_args=self._tls_args(),
        )
        if assoc.is_established:
            return assoc
        if assoc.is_rejected:
            reason = getattr(assoc.acceptor.primitive, "reason_str", "no reason given")
            raise PacsError(self.label, f"association rejected ({reason})")
        raise PacsError(self.label, self._why_not_connected())

    def _resolvable(self) -> bool:
        try:
            socket.getaddrinfo(self.server.host, self.server.port)
        except (socket.gaierror, UnicodeError):
            return False
        return True

    def _why_not_connected(self) -> str:
        """Why the association did not start: connect again, without DICOM, to find out."""
        try:
            with socket.create_connection(
                (self.server.host, self.server.port), self.timeout
            ) as raw:
                if self.server.tls:
                    context, hostname = self._tls_args()
                    context.wrap_socket(raw, server_hostname=hostname).close()
        except socket.gaierror:
            return "unreachable (unknown host)"
        except TimeoutError:
            return f"unreachable (no answer within {self.timeout:g} s)"
        except ssl.SSLError as exc:
            return f"TLS failed ({(exc.reason or type(exc).__name__).lower().replace('_', ' ')})"
        except OSError as exc:
            return f"unreachable ({(exc.strerror or type(exc).__name__).lower()})"
        return "association aborted by the server (does it expect TLS, or another address?)"

    # --- services ------------------------------------------------------------------------------

    def echo(self) -> None:
        ae = self._ae()
        ae.add_requested_context(Verification)
        assoc = self._associate(ae)
        try:
            status = assoc.send_c_echo()
        finally:
            _close(assoc)
        self._check_final(status, "C-ECHO")

    def find(self, level: str, filters: dict[str, str]) -> list[dict]:
        found = self._c_find(dimse_identifier(level, filters))
        return [result_from_dataset(identifier, level) for identifier in found]

    def sop_classes_in_study(self, study_uid: str) -> list[str]:
        """The study's SOP classes (SOPClassesInStudy), [] when the server does not say."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = study_uid
        ds.SOPClassesInStudy = ""
        classes: list[str] = []
        for found in self._c_find(ds):
            value = found.get("SOPClassesInStudy", [])
            values = value if isinstance(value, list | MultiValue) else [value]
            classes += [str(v) for v in values if v]
        return list(dict.fromkeys(classes))

    def _c_find(self, identifier: Dataset) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        assoc = self._associate(ae)
        found = []
        try:
            responses = assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind)
            for status, answer in responses:
                if status and status.Status in PENDING and answer is not None:
                    found.append(answer)
                else:
                    self._check_final(status, "C-FIND")
        finally:
            _close(assoc)
        return found

    def retrieve(
        self,
        study_uid: str,
        series_uid: str,
        landing: Landing,
        progress: Progress = no_progress,
        cancel: Cancel = never_cancelled,
        move_to: str = "",
        listen_port: int = 0,
    ) -> int:
        """C-GET (or C-MOVE to `move_to`, received on `listen_port`) into `landing`; returns
        the number of instances the server reports as sent."""
        identifier = retrieve_identifier(study_uid, series_uid)
        if move_to:
            return self._move(identifier, landing, progress, cancel, move_to, listen_port)
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        contexts = get_contexts(self.sop_classes_in_study(study_uid))
        for sop_class, syntaxes in contexts:
            ae.add_requested_context(sop_class, syntaxes)
        roles = [build_role(uid, scp_role=True) for uid in dict.fromkeys(c for c, _ in contexts)]
        receiver = _Receiver(landing, cancel)
        assoc = self._associate(ae, roles, receiver.handlers())
        try:
            responses = assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)
            return self._follow(assoc, responses, landing, progress, cancel, receiver, "C-GET")
        finally:
            _close(assoc)

    def _move(self, identifier, landing, progress, cancel, move_to, listen_port) -> int:
        listener_ae = AE(ae_title=move_to)
        listener_ae.network_timeout = listener_ae.acse_timeout = self.timeout
        for context in all_storage_contexts():
            listener_ae.add_supported_context(context, STILL_IMAGE_SYNTAXES)
        receiver = _Receiver(landing, cancel)
        try:
            listener = listener_ae.start_server(
                ("", listen_port), block=False, evt_handlers=receiver.handlers()
            )
        except OSError as exc:
            raise PacsError(
                self.label, f"cannot listen on port {listen_port} ({exc.strerror or exc})"
            ) from None
        try:
            ae = self._ae()
            ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
            assoc = self._associate(ae)
            try:
                responses = assoc.send_c_move(
                    identifier, move_to, StudyRootQueryRetrieveInformationModelMove
                )
                return self._follow(assoc, responses, landing, progress, cancel, receiver, "C-MOVE")
            finally:
                _close(assoc)
        finally:
            listener.shutdown()

    def _follow(self, assoc, responses, landing, progress, cancel, receiver, what) -> int:
        """Walk the pending responses (progress, cancel) to the final one; return its count."""
        total = 0
        for status, _identifier in responses:
            if receiver.error is not None:
                assoc.abort()
                raise receiver.error
            if cancel():
                assoc.abort()
                raise PacsCancelled(
                    self.label,
                    f"cancelled; {landing.received} instance(s) had arrived and were discarded",
                    landing.received,
                )
            if not status:
                raise PacsError(
                    self.label,
                    f"{what}: connection lost or no answer; {landing.received} instance(s) had "
                    "arrived and were discarded",
                    landing.received,
                )
            counts = _sub_operations(status)
            total = max(total, sum(counts))
            if status.Status in PENDING:
                progress(counts[0] + counts[1] + counts[2], total)
                continue
            completed, failed, warning, _remaining = counts
            self._check_final(status, what, landing.received, failed)
            progress(completed + warning, completed + warning)
            return completed + warning
        raise PacsError(self.label, f"{what}: no final answer", landing.received)

    def send(
        self,
        paths: Iterable[str | Path],
        progress: Progress = no_progress,
        cancel: Cancel = never_cancelled,
    ) -> int:
        """C-STORE each file as stored (no transcoding); returns how many were stored."""
        files = [Path(p) for p in paths]
        headers = [_store_header(p, self.label) for p in files]
        ae = self._ae()
        for sop_class, syntax in _contexts_for(headers):
            ae.add_requested_context(sop_class, [syntax])
        assoc = self._associate(ae)
        stored = 0
        try:
            for number, path in enumerate(files, 1):
                if cancel():
                    raise PacsCancelled(self.label, f"cancelled after {stored} instance(s)", stored)
                try:
                    status = assoc.send_c_store(path)
                except ValueError as exc:  # no accepted context for this object
                    raise PacsError(
                        self.label, f"{path.name}: not accepted ({exc})", stored
                    ) from None
                self._check_final(status, f"C-STORE of {path.name}", stored)
                stored += 1
                progress(number, len(files))
        finally:
            _close(assoc)
        return stored

    def _check_final(self, status, what: str, received: int = 0, failed: int = 0) -> None:
        """Raise unless the final status is success, or warnings without a failed sub-operation
        (an instance we dropped as too large is one: the landing lists it)."""
        if not status:
            raise PacsError(
                self.label,
                f"{what}: no answer (the server aborted the association or timed out)",
                received,
            )
        code = int(status.Status)
        if not failed and code in (SUCCESS, SUB_OPERATION_WARNINGS):
            return
        if code == CANCEL_STATUS:
            raise PacsCancelled(self.label, f"{what} cancelled", received)
        detail = f"{failed} sub-operation(s) failed, " if failed else ""
        comment = str(status.get("ErrorComment", "")).strip()
        comment = f": {comment}" if comment else ""
        raise PacsError(
            self.label, f"{what} failed ({detail}status 0x{code:04X}{comment})", received
        )


class _Receiver:
    """EVT_C_STORE handler: each received instance goes raw into the landing folder.

    An instance larger than the per-file cap (`scan.max_image_bytes`, RADLENS_MAX_IMAGE_GB) is
    dropped as it arrives (`watch`, on each PDU before it joins the message, so memory stays
    bounded), answered STORE_DROPPED and listed by the landing as refused; the retrieval goes on.
    """

    def __init__(self, landing: Landing, cancel: Cancel) -> None:
        self.landing, self.cancel = landing, cancel
        self.error: PacsError | None = None
        self.limit = max_image_bytes()
        self._lock = threading.Lock()

    def handlers(self) -> list:
        return [(evt.EVT_C_STORE, self), (evt.EVT_PDU_RECV, self.watch)]

    def watch(self, event) -> None:
        """On the association's reader thread, before the PDU's data joins the message."""
        message = event.assoc.dimse.message
        if not isinstance(message, C_STORE_RQ) or isinstance(message.data_set, _Dropped):
            return
        items = getattr(event.pdu, "presentation_data_value_items", [])
        incoming = sum(len(item.presentation_data_value or b"") for item in items)
        if message.data_set.tell() + incoming > self.limit:
            message.data_set = _Dropped(message.data_set.tell())

    def __call__(self, event) -> int:
        if self.cancel() or self.error is not None:
            return STORE_REFUSED
        received = event.request.DataSet
        size = received.size if isinstance(received, _Dropped) else len(received.getbuffer())
        if size > self.limit:
            return self._refuse(event.request, size)
        try:
            data = event.encoded_dataset()
            with self._lock:
                self.landing.write(data)
        except PacsError as exc:
            self.error = exc
            return STORE_REFUSED
        except OSError as exc:
            self.error = PacsError(self.landing.server, f"cannot write a received instance ({exc})")
            return STORE_REFUSED
        return SUCCESS

    def _refuse(self, request, size: int) -> int:
        with self._lock:
            uid = str(request.AffectedSOPInstanceUID or "")
            self.landing.refuse_too_large(uid, size, self.limit)
        return STORE_DROPPED


class _Dropped(io.BytesIO):
    """Stands in for the data set of an instance over the cap: counts its bytes, keeps none."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def write(self, data) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def all_storage_contexts() -> list[str]:
    from pynetdicom import AllStoragePresentationContexts

    return [c.abstract_syntax for c in AllStoragePresentationContexts]


def retrieve_identifier(study_uid: str, series_uid: str = "") -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def get_contexts(sop_classes: list[str]) -> list[tuple[str, list[str]]]:
    """Storage contexts for a C-GET (SCP role). A server accepts one transfer syntax per
    context and prefers uncompressed ones, so each class gets one context per syntax (as many
    as 127 contexts allow, in STILL_IMAGE_SYNTAXES order); the server then sends each instance
    as stored. Without the study's classes: the common storage classes, all syntaxes in one
    context each (the server may then transcode)."""
    budget = MAX_CONTEXTS - 1
    if not sop_classes:
        return [(c.abstract_syntax, STILL_IMAGE_SYNTAXES) for c in StoragePresentationContexts][
            :budget
        ]
    per_class = min(len(STILL_IMAGE_SYNTAXES), budget // len(sop_classes))
    if per_class == 0:
        return [(uid, STILL_IMAGE_SYNTAXES) for uid in sop_classes[:budget]]
    return [(uid, [syntax]) for uid in sop_classes for syntax in STILL_IMAGE_SYNTAXES[:per_class]]


def _sub_operations(status: Dataset) -> tuple[int, int, int, int]:
    keys = ("Completed", "Failed", "Warning", "Remaining")
    completed, failed, warning, remaining = (
        int(status.get(f"NumberOf{k}Suboperations", 0) or 0) for k in keys
    )
    return completed, failed, warning, remaining


def _close(assoc) -> None:
    if assoc.is_established:
        assoc.release()


def _store_header(path: Path, label: str) -> tuple[str, str]:
    """(SOP Class UID, transfer syntax) of a file to send, else a one-line PacsError."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        return str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line
        raise PacsError(
            label, f"{path.name}: not a DICOM file to send ({type(exc).__name__})"
        ) from None


def _contexts_for(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One presentation context per (SOP class, transfer syntax) pair: servers accept one
    syntax per context (Orthanc prefers uncompressed), so each file goes as stored."""
    pairs = list(dict.fromkeys(headers))
    if len(pairs) > MAX_CONTEXTS:
        raise PacsError("send", f"more than {MAX_CONTEXTS} object class/encoding pairs in one send")
    return pairs
