"""The web handler's kept threads and its running slots (pure: threads and asyncio)."""

from __future__ import annotations

import asyncio
import threading

from dashboard.web.handler import ASGIHandlerKeepingThreads, ThreadPerRequest


def test_a_thread_given_back_is_lent_again() -> None:
    threads = ThreadPerRequest(keep=2)
    first = threads.borrow()
    name = first.submit(lambda: threading.current_thread().name).result(5)
    threads.give_back(first)
    again = threads.borrow()
    assert again is first
    assert again.submit(lambda: threading.current_thread().name).result(5) == name
    assert threads.started == 1
    threads.give_back(again)


def test_a_thread_still_busy_is_not_lent_again() -> None:
    threads = ThreadPerRequest(keep=2)
    busy = threads.borrow()
    release = threading.Event()
    busy.submit(release.wait, 5)  # a request whose client left while its code runs
    threads.give_back(busy)
    other = threads.borrow()
    assert other is not busy
    assert threads.started == 2
    release.set()
    threads.give_back(other)


def test_threads_past_the_kept_number_are_closed() -> None:
    threads = ThreadPerRequest(keep=1)
    a, b = threads.borrow(), threads.borrow()
    threads.give_back(a)
    threads.give_back(b)  # one too many
    assert threads.borrow() is a
    assert threads.borrow() is not b
    assert threads.started == 3


def test_slots_let_a_few_run_and_the_rest_wait_their_turn() -> None:
    handler = ASGIHandlerKeepingThreads.__new__(ASGIHandlerKeepingThreads)
    handler._patience = 5.0
    running, most = 0, 0

    async def request(slots: asyncio.Semaphore) -> None:
        nonlocal running, most
        async with handler._slot(slots):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    async def main() -> None:
        slots = asyncio.Semaphore(3)
        await asyncio.gather(*(request(slots) for _ in range(20)))
        assert slots._value == 3  # every slot given back

    asyncio.run(main())
    assert most == 3


def test_a_request_whose_turn_does_not_come_runs_anyway() -> None:
    handler = ASGIHandlerKeepingThreads.__new__(ASGIHandlerKeepingThreads)
    handler._patience = 0.05
    ran: list[str] = []

    async def main() -> None:
        slots = asyncio.Semaphore(1)
        await slots.acquire()  # held by a request stuck on a hung broker
        async with handler._slot(slots):
            ran.append("late")
        assert slots._value == 0  # it took no slot, so it gave none back
        slots.release()

    asyncio.run(main())
    assert ran == ["late"]
