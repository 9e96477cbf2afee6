import multiprocessing
import os
from collections.abc import Iterator

import pytest

from crm_store.forked import ChildProcessFailed, produced_in_child_process


def numbered_with_pid(count: int) -> Iterator[tuple[int, int]]:
    for number in range(count):
        yield number, os.getpid()


def test_items_come_in_order_from_another_process() -> None:
    with produced_in_child_process(numbered_with_pid(50), name="test child") as items:
        received = list(items)
    assert [number for number, _ in received] == list(range(50))
    assert {pid for _, pid in received} - {os.getpid()} == {received[0][1]}
    assert multiprocessing.active_children() == []


def failing_after_one() -> Iterator[int]:
    yield 1
    raise ValueError("row 2 is haunted")


def test_an_exception_in_the_child_is_raised_here_with_its_traceback() -> None:
    with produced_in_child_process(failing_after_one(), name="test child") as items:
        assert next(items) == 1
        with pytest.raises(ChildProcessFailed, match="ValueError: row 2 is haunted"):
            next(items)


def dying_after_one() -> Iterator[int]:
    yield 1
    os._exit(7)


def test_a_child_that_dies_is_reported_with_its_exit_code() -> None:
    with produced_in_child_process(dying_after_one(), name="test child") as items:
        assert next(items) == 1
        with pytest.raises(ChildProcessFailed, match=r"test child stopped .*exit code 7"):
            next(items)


def endless() -> Iterator[int]:
    number = 0
    while True:
        yield number
        number += 1


def test_leaving_early_stops_the_child() -> None:
    with produced_in_child_process(endless(), name="test child") as items:
        assert next(items) == 0
        [child] = multiprocessing.active_children()
    assert not child.is_alive()
    assert multiprocessing.active_children() == []
