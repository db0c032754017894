"""Progress bars for the long calibration steps (rich; silent when disabled or not a terminal)."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

__all__ = ["Advance", "progress_task"]

Advance = Callable[[int], None]


def _noop(_: int = 1) -> None:
    return None


@contextlib.contextmanager
def progress_task(description: str, total: Optional[int], enabled: bool = True) -> Iterator[Advance]:
    """A progress bar for one step; yields ``advance(n=1)``.

    Args:
        description: shown left of the bar.
        total: number of steps (None = unknown).
        enabled: False yields a no-op (tests, ``--quiet``).
    """
    if not enabled:
        yield _noop
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
