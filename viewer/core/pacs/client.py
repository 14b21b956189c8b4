"""One entry point for both protocols: open a client, search, retrieve, send.

`open_client(server)` gives a `DimseClient` or a `DicomWebClient`; both offer `echo()`,
`find(level, filters)`, `retrieve(study, series, landing, ...)` and `send(paths, ...)`.
The functions here add what is the same for both: a series search without a study UID goes
study by study, a retrieval lands, is checked and moved into place (`retrieve.Landing`), and
sending expands folders the way opening them does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from viewer.core.discovery import expand_inputs
from viewer.core.pacs.dicomweb import DicomWebClient
from viewer.core.pacs.dimse import DimseClient
from viewer.core.pacs.query import STUDY_FIELDS_ON_SERIES, Query
from viewer.core.pacs.retrieve import (
    DEFAULT_MAX_RETRIEVAL_BYTES,
    Landing,
    Retrieved,
    remove_stale_landings,
)
from viewer.core.pacs.servers import (
    DEFAULT_OUR_AET,
    DEFAULT_TIMEOUT_S,
    Cancel,
    Credentials,
    PacsError,
    PacsServer,
    Progress,
    check_aet,
    credentials_for,
    never_cancelled,
    no_progress,
)
from viewer.core.scan import SkippedFile

MAX_STUDIES_FOR_SERIES = 500  # a series search without a study UID expands this many studies


def open_client(
    server: PacsServer,
    our_aet: str = DEFAULT_OUR_AET,
    credentials: Credentials | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
):
    if server.is_dimse:
        return DimseClient(server, check_aet(our_aet), timeout)
    return DicomWebClient(server, credentials or credentials_for(server), timeout)


def find(client, query: Query) -> list[dict]:
    """Study rows, or series rows (each with its study's patient, date and description)."""
    query.check()
    studies = client.find("study", query.study_filters())
    if query.level == "study":
        return studies
    results = []
    for study in studies[:MAX_STUDIES_FOR_SERIES]:
        study_uid = study.get("StudyInstanceUID", "")
        if not study_uid:
            continue
        for series in client.find("series", query.series_filters(study_uid)):
            series.setdefault("StudyInstanceUID", study_uid)
            for keyword in STUDY_FIELDS_ON_SERIES:
                if keyword in study:
                    series.setdefault(keyword, study[keyword])
            results.append(series)
    return results


def find_tree(client, query: Query) -> list[tuple[dict, list[dict]]]:
    """Studies matching `query`, each with its series (for the PACS panel's tree); with a
    modality filter only the matching series are listed."""
    query.check()
    tree = []
    for study in client.find("study", query.study_filters())[:MAX_STUDIES_FOR_SERIES]:
        study_uid = study.get("StudyInstanceUID", "")
        if study_uid:
            tree.append((study, client.find("series", query.series_filters(study_uid))))
    return tree


def retrieve(
    client,
    study_uid: str,
    dest: str | os.PathLike,
    series_uid: str = "",
    progress: Progress = no_progress,
    cancel: Cancel = never_cancelled,
    move_to: str = "",
    listen_port: int = 0,
    max_bytes: int = DEFAULT_MAX_RETRIEVAL_BYTES,
) -> Retrieved:
    """Retrieve a study (or one series) into `dest/<study>/<series>/`; see `retrieve.Landing`."""
    if not study_uid:
        raise PacsError(client.label, "a study UID is needed to retrieve")
    if move_to:
        check_aet(move_to)
        if not listen_port:
            raise PacsError(client.label, "C-MOVE needs the port we listen on (--listen PORT)")
    remove_stale_landings(dest)
    with Landing(dest, client.label, max_bytes, (study_uid, series_uid)) as landing:
        expected = client.retrieve(
            study_uid, series_uid, landing, progress, cancel, move_to, listen_port
        )
        if expected == 0 and landing.received == 0:
            raise PacsError(client.label, "nothing to retrieve (no such study or series)")
        return landing.commit(expected)


def files_to_send(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[SkippedFile]]:
    """Files, folders, zips and DICOMDIRs expanded the way `radlens` opens them."""
    found = expand_inputs(list(paths))
    return list(found.files), list(found.skipped)


def send(
    client, paths: Iterable[str | os.PathLike], progress=no_progress, cancel=never_cancelled
) -> int:
    files, skipped = files_to_send(paths)
    if skipped:
        first = skipped[0]
        raise PacsError(client.label, f"{first.path}: {first.reason}")
    if not files:
        raise PacsError(client.label, "nothing to send (no DICOM files found)")
    return client.send(files, progress, cancel)
