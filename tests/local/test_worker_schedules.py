"""The local worker runs the scheduled functions beside the queues, as Lambda runs each function apart.

A sync run or a timers run waiting for a deadline about to come due must not hold up the
webhook lane; a schedule that fails runs again at its next time.
"""

from __future__ import annotations

import threading

import local.worker as worker


def test_the_queues_are_polled_while_a_scheduled_function_runs(aws, monkeypatch) -> None:
    import app as application

    started, release, stop = threading.Event(), threading.Event(), threading.Event()
    polls_while_it_ran: list[int] = []

    def slow_timers(event, context) -> dict[str, int]:
        started.set()
        release.wait(30)  # a run waiting for a deadline about to come due
        return {"fired": 0}

    def poll(handler, queue_urls, wait_seconds: int = 1) -> int:
        if started.is_set() and not release.is_set():
            polls_while_it_ran.append(1)
            if len(polls_while_it_ran) >= 5:
                release.set()
                stop.set()
        started.wait(0.05)
        return 0

    monkeypatch.setenv("SALESBRIDGE_TIMERS_EVERY_SECONDS", "0")
    monkeypatch.setenv("SALESBRIDGE_SYNC_EVERY_SECONDS", "3600")
    monkeypatch.setattr(application, "fire_timers", slow_timers)
    monkeypatch.setattr(worker, "poll_lanes_once", poll)
    runner = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive() and len(polls_while_it_ran) == 5


def test_a_schedule_that_fails_runs_again_at_its_next_time() -> None:
    stop = threading.Event()
    calls: list[str] = []

    def flaky(event, context) -> None:
        calls.append(context.function_name)
        if len(calls) == 1:
            raise RuntimeError("the first run fails")
        stop.set()

    thread = threading.Thread(target=worker.run_schedules, args=(stop, [("fire_timers", flaky, 0.0)]), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and calls == ["salesbridge-local-fire-timers"] * 2
