"""The doctor's result types: one :class:`Check` per line, the :class:`DoctorReport` of all of them.

Every status is ``ok``, ``warn`` or ``missing``; ``--json`` prints :meth:`DoctorReport.to_dict`
(schema-versioned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

__all__ = ["SCHEMA_VERSION", "STATUSES", "Check", "DoctorReport", "gib", "ok_check"]


SCHEMA_VERSION = 1


STATUSES = ("ok", "warn", "missing")


@dataclass
class Check:
    """One line of the doctor's table.

    Attributes:
        name: what was checked (``"TensorRT"``).
        status: ``ok``, ``warn`` or ``missing``.
        detail: what was found.
        fix: how to get or fix it (empty when ok).
        facts: machine-readable values for ``--json``.
    """

    name: str
    status: str
    detail: str
    fix: str = ""
    facts: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass
class DoctorReport:
    """Every check, in table order."""

    checks: List[Check]

    def get(self, name: str) -> Check:
        """The check called ``name`` (KeyError when absent)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def counts(self) -> Dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "counts": self.counts(),
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix, "facts": c.facts}
                for c in self.checks
            ],
        }


def gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def ok_check(check: str, detail: str, **facts: Any) -> Check:
    return Check(check, "ok", detail, "", facts)
