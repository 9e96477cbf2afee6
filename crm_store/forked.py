"""Running the rest of an iterator in a forked child process.

The customer import checks rows, which is CPU-bound Python, while it writes the rows
already checked. Two threads would take turns at one interpreter lock; a forked child
checks on the other core and sends each item back over a pipe as soon as it is ready.
"""

from __future__ import annotations

import gc
import multiprocessing
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

T = TypeVar("T")


class ChildProcessFailed(RuntimeError):
    """The child process raised, or stopped before its iterator was done."""


@contextmanager
def produced_in_child_process(items: Iterator[T], *, name: str) -> Iterator[Iterator[T]]:
    """The items `items` would yield, produced by a forked child process.

    The child starts at once and works ahead of the caller, held back only by the pipe's
    buffer. Items must pickle. The caller must not use `items` itself afterwards: the
    child has its own copy of it. Leaving the block stops the child if it is still
    running. Where fork is not available, `items` is iterated here instead.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        yield items
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_send_all, args=(items, receiver, sender), name=name, daemon=True
    )
    child.start()
    sender.close()
    try:
        yield _received(receiver, child)
    finally:
        receiver.close()  # a child still sending gets a broken pipe and stops
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
            child.join()


def _received(receiver: Connection, child: BaseProcess) -> Iterator[Any]:
    while True:
        try:
            kind, payload = receiver.recv()
        except EOFError:
            child.join(timeout=5)
            raise ChildProcessFailed(
                f"{child.name} stopped before it was done (exit code {child.exitcode})"
            ) from None
        if kind == "done":
            return
        if kind == "failed":
            raise ChildProcessFailed(f"{child.name} failed:\n{payload}")
        yield payload


def _send_all(items: Iterator[Any], receiver: Connection, sender: Connection) -> None:
    # Everything inherited from the parent stays uncollected here: finalising a copy of
    # one of its database connections would close the parent's session on the server.
    gc.freeze()
    receiver.close()  # so that the pipe breaks when the parent closes its end
    try:
        for item in items:
            sender.send(("item", item))
        sender.send(("done", None))
    except BrokenPipeError:
        pass  # the parent stopped listening
    except BaseException:
        with suppress(BrokenPipeError):
            sender.send(("failed", traceback.format_exc()))
