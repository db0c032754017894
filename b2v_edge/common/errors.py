"""The root of every error b2v-edge raises on purpose.

Each package keeps its own subclasses (``ManifestError``, ``EngineError`` ...), which also derive from
the builtin they replace (``ValueError`` for bad input, ``RuntimeError`` for failures while running),
so ``except ValueError`` in user code keeps working. The CLI turns any :class:`B2VError` into one
``error: ...`` line and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class B2VError(Exception):
    """Base class of b2v-edge's own errors; the message is one line that says what to do."""


class ConfigError(B2VError, ValueError):
    """A configuration or options dataclass got a value outside its range (one-line message)."""
