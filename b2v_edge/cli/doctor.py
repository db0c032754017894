"""`b2v-edge doctor`: what this device has and lacks for b2v-edge, one line each with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from .common import console, fail
from .options import Json

STYLE = {"ok": ("green", "OK"), "warn": ("yellow", "warn"), "missing": ("red", "missing")}


def _print(report: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="b2v-edge doctor", title_justify="left")
    for col in ("check", "status", "found", "fix"):
        table.add_column(col, overflow="fold", no_wrap=col in ("check", "status"))
    for check in report.checks:
        color, label = STYLE[check.status]
        table.add_row(escape(check.name), f"[{color}]{label}[/]", escape(check.detail), escape(check.fix))
    console.print(table)
    counts = report.counts()
    console.print(f"{counts['ok']} OK, {counts['warn']} warnings, {counts['missing']} missing")


def doctor_cmd(
    deploy_dir: Optional[Path] = typer.Argument(
        None, metavar="[DEPLOY_DIR]", help="Deploy dir to size against this device's memory."
    ),
    json_out: Json = False,
) -> None:
    """OS, Jetson release, GPU, CUDA, TensorRT and what b2v-edge supports on it, bindings, OpenCV, cameras, memory."""
    from rich.markup import escape

    from ..common.errors import B2VError
    from ..verify.doctor import run_doctor

    try:
        report = run_doctor(deploy_dir)
    except B2VError as exc:
        fail(escape(str(exc)))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print(report)


def register(app: typer.Typer) -> None:
    """Add `doctor` to ``app``."""
    app.command("doctor")(doctor_cmd)
