"""How a runlens step fails in Dagster: with the one line a RunlensError gives (what broke, where, and the fix), as
`runlens` prints it, not a traceback through runlens's code under "Error occurred while executing op"."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from runlens.errors import RunlensError


@contextmanager
def one_line_failure(advice: str = "") -> Iterator[None]:
    """Turn a RunlensError raised inside into ``dg.Failure`` with its message (and ``advice``, for Dagster's user,
    appended after a semicolon); any other exception is a bug and keeps its traceback."""
    try:
        yield
    except RunlensError as exc:
        raise dg.Failure(f"{exc}; {advice}" if advice else str(exc)) from None
