"""watcher.workerprocess: the one bounded worker-process module (the extraction
pool and the embedder are built on it), with a real child process
(tests/workerprocess_child.py): a crash is survived, a request past its deadline
kills the child and says so, a request past the memory bound ends in a
"memory" answer and a fresh child, an idle child is stopped and its process gone."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import wait_for

from watcher.workerprocess import WorkerProcess

TESTS = Path(__file__).resolve().parent
MEMORY = 512 * 2**20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(monkeypatch, clock):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # where the child module lives
    process = WorkerProcess(
        "workerprocess_child", [str(MEMORY)], name="the test worker", recycle_after=100, monotonic=clock
    )
    yield process
    process.stop(graceful=False)


def gone(pid: int) -> bool:
    """Whether the process has exited and been reaped (no zombie left behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_no_process_before_the_first_request_and_one_warm_process_after(worker):
    assert worker.pid is None
    status, (pid, echoed) = worker.ask(("echo", "hello"), 30)
    assert (status, echoed) == ("ok", "hello")
    assert worker.pid == pid
    assert worker.ask(("echo", 2), 30) == ("ok", (pid, 2))  # the same process again


def test_a_killed_child_is_replaced_and_the_request_answered(worker):
    _, (first, _) = worker.ask(("echo", 1), 30)
    os.kill(first, signal.SIGKILL)  # as the kernel's OOM killer would, between requests
    status, (second, echoed) = worker.ask(("echo", 2), 30)
    assert (status, echoed) == ("ok", 2)
    assert second != first and gone(first)


def test_a_request_that_crashes_every_child_is_an_error_and_the_next_one_works(worker):
    _, (first, _) = worker.ask(("echo", 1), 30)
    status, message = worker.ask(("crash", None), 30, what=" on this request")
    assert status == "failed"
    assert message == "the test worker died on this request, twice (exit code 3)"
    assert gone(first)
    status, (pid, _) = worker.ask(("echo", 3), 30)
    assert status == "ok" and pid != first


def test_past_its_deadline_the_child_is_killed_and_the_timeout_recorded(worker):
    _, (first, _) = worker.ask(("echo", 1), 30)
    status, message = worker.ask(("sleep", 600), 0.5)
    assert status == "timeout"
    assert "took longer than 0.5 s" in str(message) and "restarted" in str(message)
    assert worker.pid is None and gone(first)
    status, (pid, _) = worker.ask(("echo", 2), 30)
    assert status == "ok" and pid != first


def test_past_the_memory_bound_the_answer_is_memory_and_a_fresh_child_follows(worker):
    _, (first, _) = worker.ask(("echo", 1), 30)
    status, message = worker.ask(("allocate", 4 * MEMORY), 30)
    assert status == "memory"
    assert "memory bound" in str(message)
    assert worker.pid is None and gone(first)  # its heap is suspect: it exited
    assert worker.ask(("allocate", 1024), 30)[0] == "ok"
    assert worker.pid not in (None, first)


def test_an_idle_child_is_stopped_and_its_process_gone_then_comes_back(worker, clock):
    _, (first, _) = worker.ask(("echo", 1), 30)
    clock.now += 59
    assert not worker.stop_if_idle(60)  # used a minute ago: kept
    assert worker.pid == first
    clock.now += 1
    assert worker.stop_if_idle(60)
    assert worker.pid is None and gone(first)
    status, (pid, _) = worker.ask(("echo", 2), 30)
    assert status == "ok" and pid != first


def test_it_is_recycled_after_some_requests(monkeypatch, clock):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    worker = WorkerProcess(
        "workerprocess_child", [str(MEMORY)], name="the test worker", recycle_after=2, monotonic=clock
    )
    try:
        pids = [worker.ask(("echo", i), 30)[1][0] for i in range(4)]  # type: ignore[index]
    finally:
        worker.stop(graceful=True)
    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert gone(pids[0]) and gone(pids[3])


def test_a_child_that_cannot_start_is_an_error_not_a_hang(monkeypatch, clock):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    worker = WorkerProcess(
        "workerprocess_child", [str(2**20)], name="the test worker", recycle_after=2, monotonic=clock
    )
    status, message = worker.ask(("echo", 1), 30)
    assert status == "failed" and "the bound is too small" in str(message)
    assert worker.pid is None


def test_a_second_request_waits_in_the_childs_socket_and_survives_a_hung_one_ahead(worker):
    """Two requests in flight at once (the child starts on the next without
    waiting for the parent); the one behind a request killed at its deadline is
    sent again to the fresh child and answered, not failed."""
    _, (first, _) = worker.ask(("echo", 0), 30)
    with ThreadPoolExecutor(2) as pool:
        hung = pool.submit(worker.ask, ("sleep", 600), 2.0)
        wait_for(lambda: worker.busy == 1)
        behind = pool.submit(worker.ask, ("echo", "behind"), 30)
        wait_for(lambda: worker.busy == 2 or hung.done())
        assert hung.result(timeout=60)[0] == "timeout"
        status, (pid, echoed) = behind.result(timeout=60)
    assert (status, echoed) == ("ok", "behind")
    assert pid != first and gone(first)


def test_requests_from_several_threads_are_each_answered_once(worker):
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: worker.ask(("echo", i), 30), range(40)))
    assert [a[1][1] for a in answers] == list(range(40))  # type: ignore[index]
    assert len({a[1][0] for a in answers}) == 1  # type: ignore[index]  # one child did them all


def test_large_requests_and_replies_in_flight_from_several_threads_never_deadlock(worker):
    """Pages are large: with two in flight, the socket fills both ways (the child
    blocks sending its reply while the parent blocks sending the next request);
    every request is still answered, in full."""
    pool = ThreadPoolExecutor(4)
    try:
        futures = [pool.submit(worker.ask, ("echo", bytes([i]) * 2**20), 60) for i in range(16)]
        answers = [f.result(timeout=120) for f in futures]
    finally:
        worker.stop(graceful=False)  # a hung request ends here rather than the test hanging
        pool.shutdown(wait=True)
    assert [(status, payload[1]) for status, payload in answers] == [  # type: ignore[index]
        ("ok", bytes([i]) * 2**20) for i in range(16)
    ]
