"""What the `radlens` subcommands share: their failures reported in one line, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from viewer.core.errors import RadLensError

EXIT_INTERRUPTED = 130


def unexpected_error(exc: Exception) -> str:
    return f"unexpected error ({type(exc).__name__}: {exc})"


def run_reported(
    command: str,
    work: Callable[[], int],
    failed: int,
    unexpected: Callable[[Exception], str] = unexpected_error,
) -> int:
    """`work()`'s exit status; on failure one line `radlens COMMAND: ...` on stderr and
    `failed` (130 on Ctrl-C). `unexpected` words any error that is not a RadLensError."""
    try:
        return work()
    except RadLensError as exc:
        print(f"radlens {command}: {exc}", file=sys.stderr)
        return failed
    except KeyboardInterrupt:
        print(f"radlens {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: one line, no traceback
        print(f"radlens {command}: {unexpected(exc)}", file=sys.stderr)
        return failed
