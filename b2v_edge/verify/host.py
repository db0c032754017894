"""Where the probes look: a :class:`Host` (file-system root, command runner, module importer,
package-version lookup, shared-library loader), each replaceable so tests can describe another
machine. Every accessor returns None for something absent; none raises.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.metadata
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

__all__ = ["Host", "dist_version", "load_library", "run_command"]


def run_command(args: Sequence[str]) -> Optional[str]:
    """stdout of ``args`` (5 s limit), or None when the program is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def dist_version(dist: str) -> Optional[str]:
    """Installed version of the distribution ``dist`` (pip metadata), or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_library(name: str) -> Any:
    """``ctypes.CDLL`` of the shared library ``name`` (e.g. ``"cuda"``), or None."""
    found = ctypes.util.find_library(name)
    candidates = [found] if found else []
    candidates += [f"lib{name}.so", f"lib{name}.so.1"]
    for candidate in candidates:
        try:
            return ctypes.CDLL(candidate)
        except OSError:
            continue
    return None


@dataclass(frozen=True)
class Host:
    """Where the probes look. The defaults are this machine; tests replace any field.

    Attributes:
        root: file-system root for ``/etc``, ``/proc``, ``/sys``, ``/dev`` and ``/usr/local/cuda``.
        run: runs a command, returns its stdout or None.
        import_module: imports a Python module (raises ImportError when absent).
        version: installed version of a pip distribution, or None.
        library: loads a shared library by short name (``"cuda"``, ``"cudart"``), or None.
    """

    root: Path = Path("/")
    run: Callable[[Sequence[str]], Optional[str]] = run_command
    import_module: Callable[[str], Any] = importlib.import_module
    version: Callable[[str], Optional[str]] = dist_version
    library: Callable[[str], Any] = load_library

    def path(self, absolute: str) -> Path:
        """``absolute`` (e.g. ``"/etc/os-release"``) under :attr:`root`."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> Optional[str]:
        """Text of a file under :attr:`root` (NUL bytes dropped), or None."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace").replace("\x00", "")
        except OSError:
            return None

    def module(self, name: str) -> Any:
        """The imported module ``name``, or None when it cannot be imported."""
        try:
            return self.import_module(name)
        except Exception:  # ImportError, or a binding whose native library is missing
            return None
