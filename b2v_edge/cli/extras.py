"""Which extra each command needs, said once: checked before a command imports anything heavy.

``pip install b2v-edge`` is the torch-free runtime. A command whose extra is missing prints one
line naming the extra to install and exits with code 2, instead of an import traceback. Optional
features (parity's HTML plots) check with :func:`have` and degrade with a notice.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Dict, List, Tuple

from rich.markup import escape

from .common import fail

__all__ = [
    "BACKEND_EXTRAS",
    "COMMAND_EXTRAS",
    "CPU_TORCH",
    "EXTRA_MODULES",
    "CommandExtra",
    "have",
    "missing",
    "require_backend",
    "require_extra",
]

#: What each extra adds (the import names checked; pyproject lists their distributions).
EXTRA_MODULES: Dict[str, Tuple[str, ...]] = {
    "": (),
    "train": ("torch",),
    "export": ("torch", "onnx", "onnxscript", "onnxsim", "onnxconverter_common"),
    "calib": ("onnx",),
    "report": ("matplotlib",),
    "openvino": ("openvino",),
}

#: Runtimes (``--backend``) that need an extra of their own.
BACKEND_EXTRAS: Dict[str, str] = {"openvino": "openvino"}

#: The command that installs the CPU build of PyTorch from PyTorch's own wheel index.
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class CommandExtra:
    """One row of the README's command → extra table.

    Attributes:
        extra: the extra the command needs (``""`` = the base install).
        optional: an extra that adds a feature without being required (``report``: HTML plots).
        note: what else it needs or what the optional extra adds.
    """

    extra: str
    optional: str = ""
    note: str = ""


COMMAND_EXTRAS: Dict[str, CommandExtra] = {
    "run": CommandExtra("", note="the torch-free runtime; TensorRT plans need TensorRT + a CUDA binding"),
    "build-engine": CommandExtra("", note="TensorRT on the device (JetPack or NVIDIA's index); prints trtexec without"),
    "calibrate": CommandExtra("calib", note="torch-free: ONNX Runtime quantization"),
    "export": CommandExtra("export", note="PyTorch + ONNX tooling"),
    "lint": CommandExtra("calib", note="reads the ONNX graph"),
    "parity": CommandExtra(
        "", "report", "torch-free with the stored reference set; --data/--checkpoint recompute it with [export]"
    ),
    "bench": CommandExtra("export", note="the PyTorch row and the warp-variant export"),
    "doctor": CommandExtra("", note="what this device has and lacks"),
    "train": CommandExtra("train", note="PyTorch"),
    "eval": CommandExtra("train", note="PyTorch"),
}


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing(extra: str) -> List[str]:
    """Modules of ``extra`` that cannot be imported here."""
    return [m for m in EXTRA_MODULES[extra] if not _importable(m)]


def have(extra: str) -> bool:
    """Whether every module of ``extra`` is importable."""
    return not missing(extra)


def require_extra(command: str) -> None:
    """Exit with one line and code 2 when ``command``'s extra is not installed."""
    extra = COMMAND_EXTRAS[command].extra
    lacking = missing(extra) if extra else []
    if not lacking:
        return
    hint = f"; CPU-only machines: `{CPU_TORCH}` first" if "torch" in lacking else ""
    fail(
        escape(
            f"`b2v-edge {command}` needs the [{extra}] extra: pip install 'b2v-edge[{extra}]' "
            f"(missing: {', '.join(lacking)}){hint}"
        )
    )


def require_backend(command: str, backend: str) -> None:
    """Exit with one line and code 2 when ``--backend``'s runtime is not installed."""
    extra = BACKEND_EXTRAS.get(backend, "")
    lacking = missing(extra) if extra else []
    if lacking:
        fail(
            escape(
                f"`b2v-edge {command} --backend {backend}` needs the [{extra}] extra: "
                f"pip install 'b2v-edge[{extra}]' (missing: {', '.join(lacking)})"
            )
        )
