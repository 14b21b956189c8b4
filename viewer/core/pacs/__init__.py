"""PACS client (Qt-free): query, retrieve and send over DIMSE (pynetdicom) and DICOMweb.

* `servers`   — `PacsServer` from `dicom://AET@HOST:PORT` or `http(s)://HOST:PORT/ROOT`,
  credentials kept out of the settings file, `PacsError`.
* `query`     — `Query` (the search fields) and results as dicts keyed by DICOM keyword.
* `dimse`     — C-ECHO, C-FIND, C-GET, C-MOVE (with our own storage listener), C-STORE.
* `dicomweb`  — QIDO-RS, WADO-RS (streamed to disk, stored transfer syntax), STOW-RS.
* `retrieve`  — lands a retrieval in a temporary folder, checks every file like a file from
  disk, verifies the instance count, then moves it into place; `RetrievalCache` (size limit).
* `client`    — `open_client(server, ...)` picks the protocol; `find` expands series queries.
"""
