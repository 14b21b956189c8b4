"""Batch sources: paths as they are, and PACS servers whose matching series are listed, then
retrieved into DIR/retrieved/<study>/<series>/<sop>.dcm (stable paths, so a rerun resumes).

`--query` takes comma-separated `key=value` filters: modality, study-date (YYYYMMDD or
YYYYMMDD-YYYYMMDD), patient-id, patient-name (wildcards), accession, study-uid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SERVER_PREFIXES = ("dicom://", "dicoms://", "http://", "https://")
QUERY_KEYS = {
    "modality": "modality",
    "study-date": "study_date",
    "patient-id": "patient_id",
    "patient-name": "patient_name",
    "accession": "accession",
    "study-uid": "study_uid",
}


class SourceError(Exception):
    """A source that cannot be listed at all (bad query, unreachable server): one line."""


@dataclass
class ListedSources:
    paths: list[Path] = field(default_factory=list)  # files and folders to index
    failed: list[dict] = field(default_factory=list)  # result rows: series not retrieved (retried)
    studies: dict[str, str] = field(default_factory=dict)  # retrieved study folder → server


def is_server(source: str) -> bool:
    return source.lower().startswith(SERVER_PREFIXES)


def parse_query(text: str | None):
    """`modality=DX,study-date=20250101-20251231` → a series-level `Query`."""
    from viewer.core.pacs.query import Query

    filters = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, _, value = part.partition("=")
        if key.strip() not in QUERY_KEYS or not value.strip():
            known = ", ".join(QUERY_KEYS)
            raise SourceError(f"--query: '{part}' is not key=value with a key among {known}")
        filters[QUERY_KEYS[key.strip()]] = value.strip()
    return Query(level="series", **filters)


def list_sources(
    sources: list[str], query_text: str | None, out_dir: Path, note: Callable[[str], None]
) -> ListedSources:
    """Paths as given; each server's matching series retrieved under `out_dir/retrieved`."""
    listed = ListedSources()
    query = parse_query(query_text) if any(map(is_server, sources)) else None
    for source in sources:
        if is_server(source):
            _retrieve_matching(source, query, out_dir / "retrieved", listed, note)
        else:
            listed.paths.append(Path(source))
    return listed


def _retrieve_matching(source: str, query, dest: Path, listed: ListedSources, note) -> None:
    from viewer.core.pacs.client import find, open_client, retrieve
    from viewer.core.pacs.servers import PacsError, parse_server

    try:
        client = open_client(parse_server(source))
        matches = find(client, query.check())
    except PacsError as exc:
        raise SourceError(str(exc)) from exc
    note(f"{client.label}: {len(matches)} matching series")
    for series in matches:
        study_uid, series_uid = series["StudyInstanceUID"], series["SeriesInstanceUID"]
        folder = _series_folder(dest, study_uid, series_uid)
        if not _already_retrieved(folder, series.get("NumberOfSeriesRelatedInstances")):
            try:
                retrieve(client, study_uid, dest, series_uid)
            except PacsError as exc:
                listed.failed.append(_failed_series(source, series_uid, exc.reason))
                continue
        listed.paths.append(folder)
        listed.studies[str(folder.parent)] = source


def _failed_series(source: str, series_uid: str, reason: str) -> dict:
    from viewer.batch.results import TRANSIENT

    return {"source": f"{source} series {series_uid}", "status": TRANSIENT, "error": reason}


def _series_folder(dest: Path, study_uid: str, series_uid: str) -> Path:
    from viewer.core.pacs.retrieve import safe_name

    return dest / safe_name(study_uid) / safe_name(series_uid)


def _already_retrieved(folder: Path, expected) -> bool:
    """A rerun does not fetch a series again when all its instances are on disk."""
    if not folder.is_dir() or not expected:
        return False
    return sum(1 for _ in folder.glob("*.dcm")) >= int(expected)
