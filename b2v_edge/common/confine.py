"""Path confinement: a path written in a manifest names a file inside its deploy dir, and nothing else.

A manifest is data that may come from anywhere (a copied deploy dir, an untrusted checkout). Every
path it holds is checked twice before b2v-edge reads, hashes, loads or deletes the file:

* lexically (:func:`check_relative`): a relative POSIX path, normalised — no leading ``/`` or ``~``,
  no ``.`` / ``..`` / empty component, no backslash or NUL;
* on disk (:func:`confined`): the path, with every symlink followed, resolves inside the deploy dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from .errors import B2VError


class ConfinementError(B2VError, ValueError):
    """A manifest path that is not a file inside its deploy dir."""


def check_relative(rel: object, what: str) -> str:
    """``rel`` when it is a normalised relative path, else :class:`ConfinementError` naming ``what``.

    Args:
        rel: the path as read from the manifest.
        what: how to name the entry in the message, e.g. ``"artifacts[1].path"``.

    Returns:
        ``rel`` unchanged.
    """
    if not isinstance(rel, str):
        raise ConfinementError(f"{what} must be a string path, got {type(rel).__name__}")
    bad = (
        not rel
        or rel.startswith(("/", "~"))
        or "\\" in rel
        or "\x00" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
    )
    if bad:
        raise ConfinementError(
            f"{what} must be a relative path inside the deploy dir (no '/', '..' or '.' parts), got {rel!r}"
        )
    return rel


def confined(root: Union[str, Path], rel: object, what: str, follow: bool = True) -> Path:
    """``root / rel`` after checking it stays inside ``root``, symlinks included.

    Args:
        root: the deploy dir.
        rel: the path as written in the manifest (checked by :func:`check_relative`).
        what: how to name the entry in the message.
        follow: resolve the final component too (reading); False checks only its parent folder,
            for unlinking the name itself (a symlink is removed, never its target).

    Raises:
        ConfinementError: ``rel`` is not relative and normalised, or resolves outside ``root``.
    """
    path = Path(root) / check_relative(rel, what)
    base = Path(root).resolve()
    target = path.resolve() if follow else path.parent.resolve() / path.name
    if target != base and base not in target.parents:
        raise ConfinementError(f"{what} {rel!r} resolves outside the deploy dir {root} (to {target})")
    return path
