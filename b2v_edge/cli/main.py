"""The one entry point: ``b2v-edge <command>``.

Each command group lives in its own module with a ``register(app)`` function; command bodies check
their extra (:mod:`.extras`) and import their heavy dependencies (torch, onnx, tensorrt) inside the
function, so that ``b2v-edge run`` works on a device without PyTorch. Shared flags come from
:mod:`.options`.

The one error boundary: every command runs inside :func:`error_boundary`, which turns a project
error (:class:`~b2v_edge.common.errors.B2VError`) or an operating-system error (disk full, no
permission) that a command did not handle itself into one ``error: ...`` line and exit code 2.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Callable

import typer

from ..common.errors import B2VError

app = typer.Typer(
    name="b2v-edge",
    help="Blur-to-video on the edge: train, export, calibrate, build, run and check the model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

COMMAND_MODULES = ("train", "evaluate", "export", "calibrate", "run", "parity", "doctor")


def package_version() -> str:
    """The installed b2v-edge version (``unknown`` when run from a tree that is not installed)."""
    try:
        return version("b2v-edge")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"b2v-edge {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Blur-to-video on the edge: train, export, calibrate, build, run and check the model."""


def error_boundary(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with B2VError / OSError turned into one ``error:`` line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rich.markup import escape

        from .common import fail

        try:
            return command(*args, **kwargs)
        except (B2VError, OSError) as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            fail(escape(text))

    return wrapper


def _register_all(target: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"b2v_edge.cli.{name}").register(target)
    for info in target.registered_commands:
        if info.callback is not None:
            info.callback = error_boundary(info.callback)
    for group in target.registered_groups:
        if group.typer_instance is not None:
            for info in group.typer_instance.registered_commands:
                if info.callback is not None:
                    info.callback = error_boundary(info.callback)


_register_all(app)


def main() -> None:  # pragma: no cover - console script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
