"""The one task runner on real threads: answers on the UI thread, stale answers dropped,
superseded requests skipped before they run, failures and cancels delivered, shutdown waits."""

from __future__ import annotations

import threading

import pytest

from viewer.ui.tasks import TaskRunner

WAIT_MS = 10_000


@pytest.fixture
def runner(qtbot):
    runner = TaskRunner("test")
    yield runner
    runner.shutdown()


def wait_idle(qtbot, runner) -> None:
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=WAIT_MS)


def test_jobs_run_off_the_ui_thread_and_answer_on_it(qtbot, runner):
    answers = []
    ui_thread = threading.get_ident()

    def job(context):
        context.progress(1, 2)
        context.post("partial")
        return threading.get_ident()

    runner.submit(
        job,
        on_progress=lambda done, total: answers.append(("progress", done, total)),
        on_post=lambda payload: answers.append(("post", payload)),
        on_done=lambda worker: answers.append(("done", worker, threading.get_ident())),
    )
    wait_idle(qtbot, runner)
    assert answers[:2] == [("progress", 1, 2), ("post", "partial")]
    kind, worker_thread, answered_on = answers[2]
    assert kind == "done" and worker_thread != ui_thread and answered_on == ui_thread


def test_only_the_newest_request_of_a_lane_answers_and_queued_ones_never_run(qtbot, runner):
    release = threading.Event()
    ran, answers = [], []

    def job(name):
        def run(context):
            ran.append(name)
            if name == "first":
                release.wait(WAIT_MS / 1000)
            return name

        return run

    runner.submit(job("first"), "lane", on_done=answers.append)
    qtbot.waitUntil(lambda: ran == ["first"], timeout=WAIT_MS)
    for name in ("second", "third"):
        runner.submit(job(name), "lane", on_done=answers.append)
    release.set()
    wait_idle(qtbot, runner)
    assert ran == ["first", "third"]  # "second" was superseded while queued
    assert answers == ["third"]  # "first" ran but was superseded: its answer is dropped


def test_failures_and_cancels_are_answers_and_the_thread_lives_on(qtbot, runner):
    answers = []

    def broken(_context):
        raise ValueError("bad frame")

    def cancelled(context):
        runner.cancel("lane")
        context.check()

    runner.submit(broken, on_failed=lambda exc: answers.append(type(exc).__name__))
    runner.submit(cancelled, "lane", on_cancelled=lambda exc: answers.append("cancelled"))
    runner.submit(lambda _context: 7, on_done=answers.append)
    wait_idle(qtbot, runner)
    assert answers == ["ValueError", 7]  # the cancelled lane is no longer current: dropped


def test_shutdown_cancels_the_running_job_and_waits_for_it(qtbot, runner):
    started, answers = threading.Event(), []

    def long_job(context):
        started.set()
        while not context.cancelled():
            context.ticket.cancel_event.wait(0.01)
        return "stopped"

    runner.submit(long_job, "lane", on_done=answers.append)
    assert started.wait(WAIT_MS / 1000)
    runner.shutdown()
    assert not runner.is_busy()
    qtbot.wait(50)
    assert answers == []  # the answer after shutdown is stale


def test_shutdown_can_let_the_queued_work_finish_first(qtbot, runner):
    release, done = threading.Event(), []

    def blocking(_context):
        release.wait(WAIT_MS / 1000)
        done.append("first")

    runner.submit(blocking)
    runner.submit(lambda _context: done.append("queued"))
    assert runner.is_running()
    threading.Timer(0.05, release.set).start()
    runner.shutdown(finish_queued=True)
    assert done == ["first", "queued"] and not runner.is_running()
