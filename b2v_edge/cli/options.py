"""The CLI's one option vocabulary: shared ``Annotated`` option types, so a flag means one thing everywhere.

==================  ===========================================================================
flag                meaning on every command
==================  ===========================================================================
``--size HxW``      an image size, height x width (``256`` = ``256x256``)
``--out PATH``      where the command writes its result (a file or a folder)
``--target NAME``   the deployment target: a TensorRT line (``trt8.0`` ... ``trt11``),
                    ``tensorrt`` (any TensorRT) or ``onnxruntime``
``--backend NAME``  the inference runtime that runs an artifact: ``auto``, ``tensorrt``,
                    ``onnxruntime``, ``openvino``
``--precision``     ``fp32``, ``fp16`` or ``int8`` (run also ``bf16``: OpenVINO on the fp32 graph)
``--threads N``     intra-op threads of every runtime the command uses (PyTorch, ONNX Runtime);
                    default: each library's own
``--data SPEC``     the one data grammar (:mod:`b2v_edge.common.dataspec`); each command says
                    which kinds it accepts
``--json``          print the result as JSON on stdout instead of tables
``-h``, ``--help``  help; ``b2v-edge --version`` prints the version
==================  ===========================================================================

Options whose help depends on the command (``--size``, ``--out``, ``--data``, ``--target``) are
built by small factories; the rest are ready-made ``Annotated`` types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NamedTuple, Optional

import typer

from b2v_edge.common.dataspec import describe
from b2v_edge.common.trt_version import LINES
from b2v_edge.common.vocab import RUN_PRECISION_NAMES

__all__ = [
    "BACKEND_NAMES",
    "TARGET_NAMES",
    "Backend",
    "DeployDir",
    "ImageSize",
    "Json",
    "Precision",
    "Threads",
    "data_option",
    "out_option",
    "parse_size",
    "size_option",
    "target_option",
]

#: ``--backend``: the runtime that runs an artifact.
BACKEND_NAMES = ("auto", "tensorrt", "onnxruntime", "openvino")
#: ``--target``: where a graph will run (a TensorRT line, any TensorRT, or ONNX Runtime).
TARGET_NAMES = (*LINES, "tensorrt", "onnxruntime")


class ImageSize(NamedTuple):
    """``--size`` value: height and width in pixels."""

    height: int
    width: int

    def __str__(self) -> str:
        return f"{self.height}x{self.width}"


def parse_size(text: Any) -> ImageSize:
    """``"256x320"`` → ``ImageSize(256, 320)``; ``"256"`` → a square.

    Raises:
        typer.BadParameter: not ``H``, ``HxW`` or ``H×W`` with positive integers.
    """
    if isinstance(text, ImageSize):
        return text
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise typer.BadParameter(f"expected HxW (e.g. 256x256) or one number for a square, got {text!r}")
    return ImageSize(values[0], values[1])


def size_option(help: str, default: Optional[ImageSize] = None) -> Any:
    """``--size HxW`` with a command-specific help text (``default`` is shown as ``HxW``)."""
    shown: Any = str(default) if default is not None else False
    return typer.Option("--size", metavar="HxW", parser=parse_size, help=help, show_default=shown)


def out_option(help: str) -> Any:
    """``--out PATH``: where the command writes (a file or a folder, said by ``help``)."""
    return typer.Option("--out", metavar="PATH", help=help)


def data_option(command: str, note: str = "") -> Any:
    """``--data SPEC`` listing the kinds ``command`` accepts (one grammar for every command)."""
    return typer.Option("--data", metavar="SPEC", help=f"{describe(command)}{note}")


def target_option(help: str = "", names: Any = TARGET_NAMES, default: str = "tensorrt") -> Any:
    """``--target NAME``: the deployment target; ``names`` are the ones this command accepts."""
    return typer.Option(default, "--target", metavar="NAME", help=f"{' | '.join(names)}{help}")


Backend = Annotated[
    str,
    typer.Option(
        "--backend", metavar="NAME", help="Runtime that runs the artifact: auto | tensorrt | onnxruntime | openvino."
    ),
]
Precision = Annotated[
    Optional[str],
    typer.Option(
        "--precision",
        metavar="NAME",
        help=f"{' | '.join(RUN_PRECISION_NAMES)} (bf16: OpenVINO; default: best available).",
    ),
]
Threads = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        metavar="N",
        min=1,
        help="Intra-op threads of every runtime used (PyTorch, ONNX Runtime); default: each library's own.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout instead of tables.")]
DeployDir = Annotated[
    Path, typer.Argument(metavar="DEPLOY_DIR", help="Deploy dir (manifest.json + artifacts) from `b2v-edge export`.")
]
