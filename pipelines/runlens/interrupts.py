"""How a runlens command ends on Ctrl-C (SIGINT) and SIGTERM: one line on stderr and the shell's exit code.

SIGTERM (what ``kill``, a service manager or a container runtime sends) unwinds the command like Ctrl-C, so it gets
the same clean-up (locks released, temporaries removed, worker processes and kernels stopped); Python's default
ended the process at once, without a word. Work that cannot be trusted to hear a signal (a DuckDB query, a notebook
kernel) runs on a worker thread while the main thread waits, so the main thread always hears it and stops the work.
"""

from __future__ import annotations

import contextvars
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn, TypeVar

T = TypeVar("T")

# How long stopped work gets to end before the process ends without it.
GRACE_S = 5.0


class Terminated(KeyboardInterrupt):
    """SIGTERM: raised where Ctrl-C would raise KeyboardInterrupt, so every clean-up treats both alike."""


# the signals that stopped the command (cleared as it starts): DuckDB turns the exception a signal raised into its own
_received: set[int] = set()


def _terminated(_signum: int, _frame: FrameType | None) -> None:
    _received.add(signal.SIGTERM)
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the command runs, SIGTERM raises ``Terminated`` in the main thread (no-op on other threads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def raise_for(signum: int) -> NoReturn:
    """Raise what ``signum`` raises in the command, for code that held it back (the Dagster window of ``runlens
    run``): ``Terminated`` for SIGTERM, KeyboardInterrupt for SIGINT."""
    _received.add(signum)
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def ending(stopped: BaseException) -> tuple[str, int]:
    """The line and exit code for a command stopped by ``stopped`` (a KeyboardInterrupt, or an error it caused, like
    DuckDB's ``Query interrupted``): terminated (143) for SIGTERM, interrupted (130) for Ctrl-C."""
    if isinstance(stopped, Terminated) or signal.SIGTERM in _received:
        return "runlens: terminated", 128 + signal.SIGTERM
    return "runlens: interrupted", 128 + signal.SIGINT


def end_now(stopped: BaseException) -> NoReturn:
    """End the process at once, as ``stopped`` says: for work that did not stop when asked (a thread cannot be
    killed, and the interpreter would wait for it on the way out)."""
    line, code = ending(stopped)
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
    os._exit(code)


def run_stoppable(work: Callable[[], T], stop: Callable[[], None], grace_s: float = GRACE_S) -> T:
    """``work()`` on a worker thread while this thread waits; what it returns or raises is returned or raised here.

    When Ctrl-C or SIGTERM (or anything else) interrupts the wait, ``stop()`` is called from this thread and the work
    gets ``grace_s`` seconds to end; then the interrupt goes on as raised, or, if the work has not ended, the process
    ends at once (``end_now``). Off the main thread, which alone hears signals, ``work`` simply runs here.
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    results: list[T] = []
    errors: list[BaseException] = []
    # not Thread.join: a join cut by a signal marks the thread as ended while it still runs (Python 3.11)
    ended = threading.Event()

    def target() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # handed to the waiting thread
            errors.append(exc)
        finally:
            ended.set()

    context = contextvars.copy_context()  # what the caller set up for the work (see report.KernelStop)
    try:
        # start() waits for the thread to begin: a signal can land there too, and must stop the work as well
        threading.Thread(target=context.run, args=(target,), name="runlens-work", daemon=True).start()
        ended.wait()
    except BaseException as stopped:
        stop()
        if not ended.wait(grace_s) and isinstance(stopped, KeyboardInterrupt):
            end_now(stopped)
        raise
    if errors:
        raise errors[0]
    return results[0]


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the body, then raise the first one through the handler that was in place.

    For short calls that must not be cut in the middle, like a log line written to the Dagster instance from inside
    a step: Dagster's handler raises at once there, and a signal inside SQLAlchemy's connection handling printed an
    "Exception closing connection" traceback. Off the main thread, which alone runs signal handlers, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        noted.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if noted:
            signal.raise_signal(noted[0])
