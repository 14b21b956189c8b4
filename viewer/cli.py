"""The `radlens` command line: subcommands, or the viewer window when none is given."""

from __future__ import annotations

import argparse
import importlib
import sys

from viewer.core.scratch import clean_stale_scratch

# Each module here defines `register(subparsers)`, which adds its subparser and sets `func`
# (a callable taking the parsed args and returning the exit status).
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "viewer.commands.info",
    "viewer.commands.train",
    "viewer.commands.render",
    "viewer.commands.report",
    "viewer.commands.export_dicom",
    "viewer.commands.selftest",
    "viewer.commands.analyze",
    "viewer.commands.evaluate",
    "viewer.commands.models",
    "viewer.commands.batch",
    "viewer.commands.pacs",
)


VIEWER_USAGE = """\
the viewer window (no COMMAND):
  radlens [PATH ...] [--demo] [--screenshot FILE]
  PATH               DICOM files, folders, .zip archives or a DICOMDIR to open
  --demo             open the bundled sample study and analyse it with the default model
  --screenshot FILE  wait until loading (and analysis) finish, save a PNG of the window, exit

`radlens COMMAND --help` tells more about each command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radlens",
        description=__doc__,
        epilog=VIEWER_USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def subcommand_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - argparse has no public API
        return set(action.choices)
    return set()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    clean_stale_scratch()  # extracted archives a killed RadLens left behind
    parser = build_parser()
    if argv and argv[0] in subcommand_names(parser) or argv[:1] in (["-h"], ["--help"]):
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    from viewer.ui.app import run_app  # Qt only when the window is wanted

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
