"""Fetch requests to one broker node are spaced; other nodes and idle gaps are not delayed."""

from __future__ import annotations

import asyncio

from consumers.fetch_spacing import FetchSpacer, space_fetches


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def _send(assignment, node_id, request):
    return (node_id, request)


def test_a_fetch_waits_for_the_interval_since_the_last_one_to_its_node() -> None:
    clock = _Clock()
    spaced = FetchSpacer(0.010, clock=clock, sleep=clock.sleep).wrap(_send)

    async def scenario() -> list[object]:
        replies = [await spaced(None, 1, "a")]  # first: at once
        clock.now += 0.004
        replies.append(await spaced(None, 1, "b"))  # 4 ms later: waits 6 ms
        replies.append(await spaced(None, 2, "c"))  # another node: at once
        clock.now += 0.050
        replies.append(await spaced(None, 1, "d"))  # after a long gap: at once
        return replies

    assert asyncio.run(scenario()) == [(1, "a"), (1, "b"), (2, "c"), (1, "d")]
    assert clock.slept == [0.006]


class _Consumer:
    def __init__(self) -> None:
        self._fetcher = None

    async def start(self) -> None:
        class Fetcher:
            _proc_fetch_request = staticmethod(_send)

        self._fetcher = Fetcher()


def test_the_consumer_is_spaced_once_started_and_zero_leaves_it_alone() -> None:
    spaced, plain = _Consumer(), _Consumer()
    space_fetches(spaced, 10)
    space_fetches(plain, 0)
    asyncio.run(spaced.start())
    asyncio.run(plain.start())
    assert spaced._fetcher._proc_fetch_request is not _send
    assert plain._fetcher._proc_fetch_request is _send
    assert asyncio.run(spaced._fetcher._proc_fetch_request(None, 1, "x")) == (1, "x")
