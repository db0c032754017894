"""Image files on disk: the extensions b2v-edge reads and folder listing in natural order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def natural_key(path: Path) -> List[Any]:
    """Sort key: ``2.png`` before ``10.png``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def is_image(path: Path) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTS` (case-insensitive)."""
    return path.suffix.lower() in IMAGE_EXTS


def list_images(folder: Path, recursive: bool = False) -> List[Path]:
    """The image files in ``folder`` (and below it if ``recursive``), in natural order (may be empty).

    Args:
        folder: a directory.
        recursive: also list the images of every sub-directory (sorted by relative path).

    Returns:
        Image paths; hidden files (``.name``) are skipped.
    """
    folder = Path(folder)
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = [p for p in found if p.is_file() and is_image(p) and not p.name.startswith(".")]
    if recursive:
        return sorted(files, key=lambda p: [natural_key(Path(part)) for part in p.relative_to(folder).parts])
    return sorted(files, key=natural_key)
