"""`read_ahead`: items produced on a reader thread of their own, in order, at most `depth` ahead,
with the reader's errors raised where they happened, and a prompt, clean stop when the consumer
closes early (Ctrl-C, a user quitting the window)."""
from __future__ import annotations

import threading
import time

import pytest

from manypose.video.pipeline import read_ahead


class Recorded:
    """An endless source of 0, 1, 2, ... that notes how far it was read and on which thread,
    and says when its `wanted`-th item has been taken."""

    def __init__(self, wanted: int = -1):
        self.taken = 0
        self.threads = set()
        self.wanted = wanted
        self.reached = threading.Event()

    def __iter__(self):
        index = 0
        while True:
            self.threads.add(threading.current_thread())
            self.taken = index + 1
            if self.taken == self.wanted:
                self.reached.set()
            yield index
            index += 1


def settled(read: Recorded, seconds: float = 0.3) -> int:
    """How far the source was read once the reader has stopped reading (it blocks when full)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        before = read.taken
        time.sleep(seconds)
        if read.taken == before:
            return before
    raise AssertionError("the reader never stopped reading")


def test_every_item_comes_once_in_order_also_when_the_consumer_is_slower():
    items = read_ahead(iter(range(30)), depth=2)
    got = [next(items)]
    time.sleep(0.35)  # the reader waits on a full buffer meanwhile, more than once
    got += list(items)
    assert got == list(range(30))


def test_an_empty_source_ends_at_once():
    assert list(read_ahead(iter([]), depth=3)) == []


@pytest.mark.parametrize("depth", [1, 3])
def test_the_reader_keeps_depth_items_waiting_and_one_in_hand(depth):
    read = Recorded()
    items = read_ahead(iter(read), depth=depth)
    try:
        assert next(items) == 0
        # item 0 taken, `depth` in the buffer, one more read and waiting for room
        assert settled(read) == 1 + depth + 1
        assert [next(items) for _ in range(depth + 1)] == list(range(1, depth + 2))
        assert settled(read) == 1 + (depth + 1) + depth + 1  # refilled as far again
    finally:
        items.close()


def test_items_are_read_on_a_daemon_thread_named_for_what_it_does():
    read = Recorded()
    items = read_ahead(iter(read), depth=2)
    try:
        next(items)
        (thread,) = read.threads
        assert thread is not threading.current_thread()
        assert thread.name == "manypose-frame-reader"  # as a stack dump (py-spy, faulthandler) names it
        assert thread.daemon  # a reader stuck in a camera's read cannot keep Python from exiting
    finally:
        items.close()


def test_closing_early_stops_the_reader_promptly_and_it_reads_no_more():
    depth = 2
    read = Recorded(wanted=1 + depth + 1)  # the item read that finds the buffer full
    items = read_ahead(iter(read), depth=depth)
    assert next(items) == 0
    assert read.reached.wait(5)
    started = time.monotonic()
    items.close()  # the reader is now waiting for room in the buffer
    assert time.monotonic() - started < 0.6
    (thread,) = read.threads
    assert not thread.is_alive()
    taken = read.taken
    time.sleep(0.2)
    assert read.taken == taken == 1 + depth + 1


class Failing:
    def __init__(self, error: BaseException):
        self.error = error

    def __iter__(self):
        yield "a"
        yield "b"
        raise self.error


@pytest.mark.parametrize("error", [ValueError("frame 2: corrupt"), OSError("the stream went away")])
def test_the_readers_error_is_raised_to_the_consumer_after_the_items_before_it(error):
    items = read_ahead(iter(Failing(error)), depth=4)
    assert next(items) == "a" and next(items) == "b"
    with pytest.raises(type(error)) as raised:
        next(items)
    assert raised.value is error
    assert list(items) == []  # and that is the end
