"""Run a module or script with the b2v_edge of a given source tree (see ``bench/generations.py``).

Usage: ``python bench/launch.py ROOT -m b2v_edge.cli.main export ...`` or
``python bench/launch.py ROOT bench/worker.py ...``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import runpy
import sys
from pathlib import Path

#: Import prefix → folder of the source tree (pyproject.toml's package-dir mapping).
MAPPING = {
    "b2v_edge.export": "export",
    "b2v_edge.runtime": "runtime",
    "b2v_edge.calib": "calib",
    "b2v_edge": "b2v_edge",
}


class TreeFinder(importlib.abc.MetaPathFinder):
    """Finds ``b2v_edge*`` modules in one source tree before any installed copy."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 - importlib protocol
        for prefix, folder in MAPPING.items():
            if fullname == prefix or fullname.startswith(prefix + "."):
                rest = fullname[len(prefix) :].lstrip(".").split(".") if fullname != prefix else []
                base = self.root / folder / Path(*rest) if rest else self.root / folder
                if (base / "__init__.py").is_file():
                    return importlib.util.spec_from_file_location(
                        fullname, base / "__init__.py", submodule_search_locations=[str(base)]
                    )
                if base.with_suffix(".py").is_file():
                    return importlib.util.spec_from_file_location(fullname, base.with_suffix(".py"))
                return None
        return None


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    sys.meta_path.insert(0, TreeFinder(root))
    args = sys.argv[2:]
    if args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
