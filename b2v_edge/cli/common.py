"""Shared CLI helpers: one-line errors with a non-zero exit, and a rich console."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console(highlight=False, emoji=False)  # ":b:" in user text stays text
err_console = Console(stderr=True, highlight=False, emoji=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with ``code``.

    ``message`` is rich markup: pass ``rich.markup.escape(text)`` for text that may contain ``[...]``.
    """
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)
