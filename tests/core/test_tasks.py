"""Request bookkeeping of the task runner, headless: newest per lane, independent requests,
cancel and shutdown."""

from __future__ import annotations

import pytest

from viewer.core.tasks import Requests, TaskCancelled, TaskContext


def test_a_new_request_on_a_lane_cancels_and_supersedes_the_previous_one():
    requests = Requests()
    first = requests.issue("viewport-1")
    other_lane = requests.issue("viewport-2")
    second = requests.issue("viewport-1")
    assert first.cancelled() and not requests.is_current(first)
    assert requests.is_current(second) and not second.cancelled()
    assert requests.is_current(other_lane) and not other_lane.cancelled()
    assert second.request_id > first.request_id


def test_independent_requests_stay_current_until_they_answer_or_shutdown():
    requests = Requests()
    a, b = requests.issue(), requests.issue()
    assert requests.is_current(a) and requests.is_current(b)
    requests.retire(a)
    assert not requests.is_current(a) and requests.is_current(b)
    requests.cancel_all()
    assert b.cancelled() and not requests.is_current(b)
    assert requests.is_current(requests.issue())  # a new generation starts afresh


def test_cancel_on_a_lane_stops_its_request_only():
    requests = Requests()
    kept, dropped = requests.issue("pacs"), requests.issue("frames")
    requests.cancel("frames")
    assert dropped.cancelled() and not requests.is_current(dropped)
    assert requests.is_current(kept)


def test_the_context_reports_in_order_and_raises_once_cancelled():
    requests = Requests()
    ticket = requests.issue("lane")
    seen = []
    context = TaskContext(ticket, lambda kind, payload: seen.append((kind, payload)))
    context.progress(1, 3)
    context.post("index")
    context.check()
    requests.issue("lane")  # superseded
    with pytest.raises(TaskCancelled):
        context.check()
    assert seen == [("progress", (1, 3)), ("post", "index")]
