"""Request bookkeeping for background work, Qt-free: who asked last, and what is cancelled.

Every piece of background work (loading a study, decoding a frame ahead, a PACS transfer, a
reformat, painting a segmentation, an analysis, an export) is a request on a *lane*: a name for
"things of which only the newest is wanted" (one viewport's next frame, the PACS panel's job).
`Requests.issue(lane)` cancels the lane's previous request and returns a `Ticket` carrying a
fresh id and its own `threading.Event`; a result is delivered only while `is_current(ticket)`.
Work on lane `None` is independent: nothing supersedes it, only `cancel_all` (shutdown).

`viewer.ui.tasks.TaskRunner` runs the work on threads and answers by Qt signal; the
bookkeeping lives here so that it is tested headless and a batch or command-line driver can
use it without Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from viewer.core.errors import RadLensError


class TaskCancelled(RadLensError):
    """Raised inside a job when its ticket is cancelled (`TaskContext.check`)."""


@dataclass(frozen=True, eq=False)
class Ticket:
    """One request: `lane` (None: independent), a number unique per `Requests`, a cancel flag."""

    lane: str | None
    request_id: int
    generation: int
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def stop(self) -> None:
        """Ask the job to stop; unlike `Requests.cancel`, its answer (usually cancelled) comes."""
        self.cancel_event.set()


class Requests:
    """The newest ticket per lane; thread-safe (workers ask `is_current`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_id = 0
        self._generation = 0
        self._newest: dict[str, Ticket] = {}
        self._independent: dict[int, Ticket] = {}

    def issue(self, lane: str | None = None) -> Ticket:
        """A new ticket; the lane's previous one is cancelled and stops being current."""
        with self._lock:
            self._next_id += 1
            ticket = Ticket(lane, self._next_id, self._generation)
            if lane is None:
                self._independent[ticket.request_id] = ticket
            else:
                previous = self._newest.get(lane)
                if previous is not None:
                    previous.cancel_event.set()
                self._newest[lane] = ticket
            return ticket

    def is_current(self, ticket: Ticket) -> bool:
        with self._lock:
            if ticket.generation != self._generation:
                return False
            if ticket.lane is None:
                return ticket.request_id in self._independent
            return self._newest.get(ticket.lane) is ticket

    def cancel(self, lane: str | None) -> None:
        """Nothing asked for on `lane` so far is wanted any more."""
        with self._lock:
            ticket = self._newest.pop(lane, None) if lane is not None else None
        if ticket is not None:
            ticket.cancel_event.set()

    def retire(self, ticket: Ticket) -> None:
        """`ticket` has answered: an independent one is forgotten, a lane keeps its newest."""
        with self._lock:
            self._independent.pop(ticket.request_id, None)

    def cancel_all(self) -> None:
        """Every request issued so far is cancelled and stale (shutdown)."""
        with self._lock:
            tickets = [*self._newest.values(), *self._independent.values()]
            self._newest.clear()
            self._independent.clear()
            self._generation += 1
        for ticket in tickets:
            ticket.cancel_event.set()


@dataclass(frozen=True)
class TaskContext:
    """What a job gets: its ticket, and ways to report progress and partial results."""

    ticket: Ticket
    report: Callable[[str, object], None]  # (kind, payload) → delivered on the UI side

    def cancelled(self) -> bool:
        return self.ticket.cancelled()

    def check(self) -> None:
        """Raise `TaskCancelled` if this request is no longer wanted."""
        if self.ticket.cancelled():
            raise TaskCancelled("cancelled")

    def progress(self, done: int, total: int) -> None:
        self.report("progress", (done, total))

    def post(self, payload: object) -> None:
        """A partial result (e.g. the index before the first image), delivered in order."""
        self.report("post", payload)
