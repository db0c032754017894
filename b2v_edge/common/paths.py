"""Where b2v-edge keeps per-user caches (``$XDG_CACHE_HOME/b2v-edge/<name>``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str = "") -> Path:
    """The cache folder ``$XDG_CACHE_HOME/b2v-edge/<name>`` (``~/.cache`` when unset); not created.

    Args:
        name: sub-folder, e.g. ``"calib"``; empty for the root.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = Path(base) / "b2v-edge"
    return root / name if name else root
