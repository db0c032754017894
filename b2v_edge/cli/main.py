"""The one entry point: ``b2v-edge <command>``.

Each command group lives in its own module with a ``register(app)`` function; command bodies import
their heavy dependencies (torch, onnx, tensorrt) inside the function so that ``b2v-edge run`` works
on a device without PyTorch.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="b2v-edge",
    help="Blur-to-video on the edge: train, export, calibrate, build, run and check the model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("train", "evaluate", "export", "calibrate", "run", "parity", "doctor")

for _name in COMMAND_MODULES:
    importlib.import_module(f"b2v_edge.cli.{_name}").register(app)


def main() -> None:  # pragma: no cover - console script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
