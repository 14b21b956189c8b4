"""`radlens batch --send-to`: each study's AI results (TID1500 SR, SC, heatmap SEG) back to a PACS.

Workers write each analysed DICOM image's objects into `DIR/dicom-out/<study>/<sop>_<frame>/`;
after the run, every study's folders not yet sent go to the server in one association (C-STORE
or STOW-RS), and each folder is then marked `.sent`, so a rerun sends only what is new.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SENT_MARKER = ".sent"


def unsent_studies(export_dir: Path) -> dict[Path, list[Path]]:
    """Study folder → its image folders whose objects have not been sent yet."""
    studies: dict[Path, list[Path]] = {}
    for image in sorted(export_dir.glob("*/*/")):
        if not (image / SENT_MARKER).exists() and any(image.glob("*.dcm")):
            studies.setdefault(image.parent, []).append(image)
    return studies


def send_results(export_dir: Path, server: str, note: Callable[[str], None]) -> int:
    """Send every unsent study; returns the number of objects sent. Raises `PacsError`."""
    from viewer.core.pacs.client import open_client, send
    from viewer.core.pacs.servers import parse_server

    studies = unsent_studies(export_dir)
    if not studies:
        return 0
    client = open_client(parse_server(server))
    sent = 0
    for images in studies.values():
        sent += send(client, [f for image in images for f in sorted(image.glob("*.dcm"))])
        for image in images:
            (image / SENT_MARKER).touch()
    note(f"{client.label}: sent {sent} result object(s) of {len(studies)} study(ies)")
    return sent
