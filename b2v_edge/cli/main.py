"""The one entry point: ``b2v-edge <command>``.

Each command group lives in its own module with a ``register(app)`` function; command bodies check
their extra (:mod:`.extras`) and import their heavy dependencies (torch, onnx, tensorrt) inside the
function, so that ``b2v-edge run`` works on a device without PyTorch. Shared flags come from
:mod:`.options`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

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


for _name in COMMAND_MODULES:
    importlib.import_module(f"b2v_edge.cli.{_name}").register(app)


def main() -> None:  # pragma: no cover - console script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
