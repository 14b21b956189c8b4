"""`radlens pacs echo|find|get|send`: talk to a PACS over DIMSE or DICOMweb.

    radlens pacs echo  --server SERVER [--aet OUR_AET]
    radlens pacs find  --server SERVER [--level study|series] [--patient-id ID]
                       [--patient-name PATTERN] [--modality M] [--study-date YYYYMMDD[-YYYYMMDD]]
                       [--study-uid UID] --json
    radlens pacs get   --server SERVER --study UID [--series UID] --out DIR
                       [--move-to AET --listen PORT]
    radlens pacs send  --server SERVER PATH...

SERVER is `dicom://AET@HOST:PORT` (`dicoms://` with TLS) or `http(s)://[USER@]HOST:PORT/ROOT`.
Secrets come from RADLENS_PACS_PASSWORD / RADLENS_PACS_TOKEN, never from the command line.
Exit 0 on success; otherwise one line `radlens pacs: SERVER: reason` and exit 1 (2 for usage
errors, 130 when interrupted). A search matching nothing prints `[]` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys

from viewer.commands.common import run_reported
from viewer.core.pacs.servers import DEFAULT_OUR_AET, parse_server

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers) -> None:
    parser = subparsers.add_parser("pacs", help="query, retrieve and send (DIMSE or DICOMweb)")
    actions = parser.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)
    echo = _action(actions, "echo", "check that the server answers (C-ECHO / QIDO-RS)")
    echo.set_defaults(func=lambda args: _run(args, _echo))
    finder = _action(actions, "find", "search studies or series (C-FIND / QIDO-RS)")
    finder.add_argument("--level", choices=("study", "series"), default="study")
    finder.add_argument("--patient-id", default="")
    finder.add_argument("--patient-name", default="", help="wildcards * and ? allowed")
    finder.add_argument("--modality", default="")
    finder.add_argument("--study-date", default="", metavar="YYYYMMDD[-YYYYMMDD]")
    finder.add_argument("--study-uid", default="")
    finder.add_argument("--accession", default="")
    finder.add_argument(
        "--json", action="store_true", help="print a JSON list (keys: DICOM keywords)"
    )
    finder.set_defaults(func=lambda args: _run(args, _find))
    getter = _action(actions, "get", "retrieve a study or series (C-GET, C-MOVE or WADO-RS)")
    getter.add_argument("--study", required=True, metavar="UID")
    getter.add_argument("--series", default="", metavar="UID")
    getter.add_argument("--out", required=True, metavar="DIR")
    getter.add_argument(
        "--move-to", default="", metavar="AET", help="C-MOVE to this AE title (ours)"
    )
    getter.add_argument("--listen", type=int, default=0, metavar="PORT", help="port for C-MOVE")
    getter.set_defaults(func=lambda args: _run(args, _get))
    sender = _action(actions, "send", "send files or folders (C-STORE / STOW-RS)")
    sender.add_argument("paths", nargs="+", metavar="PATH")
    sender.set_defaults(func=lambda args: _run(args, _send))


def _action(actions, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text)
    parser.add_argument(
        "--server", required=True, help="dicom://AET@HOST:PORT or http(s)://HOST:PORT/ROOT"
    )
    parser.add_argument(
        "--aet", default=DEFAULT_OUR_AET, help=f"our AE title (default {DEFAULT_OUR_AET})"
    )
    parser.add_argument(
        "--ca-file", default="", help="PEM file of trusted certificates (TLS/HTTPS)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    return parser


def _run(args: argparse.Namespace, action) -> int:
    # The network libraries load only when a pacs action runs, not for every `radlens` command.
    from viewer.core.pacs.client import open_client

    def work() -> int:
        server = parse_server(args.server, ca_file=args.ca_file)
        return action(open_client(server, args.aet, timeout=args.timeout), args)

    def unexpected(exc: Exception) -> str:
        return f"{args.server}: unexpected error ({type(exc).__name__})"

    return run_reported("pacs", work, failed=EXIT_FAILED, unexpected=unexpected)


def _echo(client, _args) -> int:
    client.echo()
    print(f"{client.label}: OK")
    return EXIT_OK


def _find(client, args) -> int:
    from viewer.core.pacs.client import find
    from viewer.core.pacs.query import Query

    query = Query(
        level=args.level,
        patient_id=args.patient_id,
        patient_name=args.patient_name,
        modality=args.modality,
        study_date=args.study_date,
        study_uid=args.study_uid,
        accession=args.accession,
    )
    results = find(client, query)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for row in results:
            print("\t".join(str(v) for v in row.values()))
    return EXIT_OK


def _get(client, args) -> int:
    from viewer.core.pacs.client import retrieve

    result = retrieve(
        client,
        args.study,
        args.out,
        series_uid=args.series,
        move_to=args.move_to,
        listen_port=args.listen,
    )
    print(f"{len(result.files)} instance(s) saved under {args.out}")
    for item in result.skipped:
        print(f"  refused {item.path}: {item.reason}", file=sys.stderr)
    return EXIT_OK if not result.skipped else EXIT_FAILED


def _send(client, args) -> int:
    from viewer.core.pacs.client import send

    count = send(client, args.paths)
    print(f"{count} instance(s) sent to {client.label}")
    return EXIT_OK
