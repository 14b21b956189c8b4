"""DIR/results.csv and DIR/state.json: the batch run's output, which is also its resume state.

Rows are appended and flushed to disk as images finish, so a run killed at any point leaves a
file whose complete lines are finished images. On resume the file is read back: a torn last
line is cut, rows that failed for a transient reason (a worker died, a task timed out) are
dropped so those images run again, and every other row's key is skipped. Each image therefore
ends up in the file exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from viewer.core.atomic import atomic_write_text

COLUMNS = (
    "source",
    "frame",
    "label",
    "probability",
    "threshold",
    "positive",
    "intended_use_ok",
    "reasons",
    "model_name",
    "model_version",
    "status",
    "error",
)
FINAL_STATUSES = ("done", "refused", "error")  # an image with one of these is not run again
TRANSIENT = "failed"  # retried by the next run


class StateMismatch(Exception):
    """DIR holds the results of a different model; mixing them would make the file meaningless."""


def item_key(source: str, frame: int | None) -> str:
    return f"{source}#{'' if frame is None else frame}"


@dataclass(frozen=True)
class RunState:
    model_name: str
    model_version: str
    model_sha256: str

    def describe(self) -> str:
        return f"{self.model_name} {self.model_version} ({self.model_sha256[:12]})"


class ResultsLog:
    """Append-only CSV of finished images, fsynced per write, read back on resume."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "results.csv"
        self.state_path = self.out_dir / "state.json"
        self.done: set[str] = set()
        self.failed: set[str] = set()  # transient failures of this run (retried by the next)
        self.errors: set[str] = set()  # images that could not be read, in the whole file
        self._handle: io.TextIOWrapper | None = None

    def open(self, state: RunState) -> None:
        """Check or write the state file, recover the CSV, and open it for appending."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._check_state(state)
        rows = self._recover_rows()
        self.done = {item_key(r["source"], _frame(r["frame"])) for r in rows}
        self.errors = {
            item_key(r["source"], _frame(r["frame"])) for r in rows if r["status"] == "error"
        }
        self._handle = self.path.open("a", newline="", encoding="utf-8")
        if self._handle.tell() == 0:
            self._write_lines([COLUMNS])

    def append(self, rows: list[dict]) -> None:
        self._write_lines([[_cell(row.get(c)) for c in COLUMNS] for row in rows])
        for row in rows:
            key = item_key(row["source"], row.get("frame"))
            if row["status"] in FINAL_STATUSES:
                self.done.add(key)
            if row["status"] in ("error", TRANSIENT):
                (self.errors if row["status"] == "error" else self.failed).add(key)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write_lines(self, lines: list) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(lines)
        self._handle.write(buffer.getvalue())
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _check_state(self, state: RunState) -> None:
        if self.state_path.exists():
            saved = RunState(**json.loads(self.state_path.read_text(encoding="utf-8")))
            if saved.model_sha256 != state.model_sha256:
                raise StateMismatch(
                    f"{self.out_dir} holds results of {saved.describe()}, not "
                    f"{state.describe()}; use another --out folder"
                )
            return
        atomic_write_text(self.state_path, json.dumps(state.__dict__, indent=2) + "\n")

    def _recover_rows(self) -> list[dict]:
        """Final rows of an earlier run; the file is rewritten without torn or transient rows."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        complete = text[: text.rfind("\n") + 1]
        rows = list(csv.DictReader(io.StringIO(complete)))
        final = [r for r in rows if r.get("status") in FINAL_STATUSES]
        if len(final) != len(rows) or complete != text:
            self._rewrite(final)
        return final

    def _rewrite(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)
        atomic_write_text(self.path, buffer.getvalue())


def _frame(text: str) -> int | None:
    return int(text) if text not in ("", None) else None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
