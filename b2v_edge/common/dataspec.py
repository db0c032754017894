"""The one ``--data`` grammar of every command, and the table of data kinds.

A data spec is one term or a weighted mix of terms (the mix is for training)::

    deadleaves
    photos:~/my-camera-frames
    deadleaves+photos:data/photos              equal weights
    3*deadleaves+photos:data/photos            weights 3 : 1
    video:clip.mp4    frames:dir/    gopro:GOPRO_Large_all    images:blurred/    camera:0

A term is ``[WEIGHT*]KIND[:ARG]``. ``+`` separates terms only where it is followed by a known kind,
so paths may contain ``+``. Each command accepts the kinds that make sense for it (see
:data:`KINDS`): training and evaluation need sharp ground-truth frames; calibration, parity and
bench can also use blurred images without ground truth.

This module only parses: building a source from a term is the caller's business (numpy sources in
``b2v_edge.data``, calibration readers in ``b2v_edge.calib``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from .errors import B2VError

__all__ = ["DataKind", "DataSpec", "DataSpecError", "DataTerm", "KINDS", "kinds_for", "parse_data_spec"]


class DataSpecError(B2VError, ValueError):
    """A ``--data`` value that does not parse or names a kind this command cannot use."""


@dataclass(frozen=True)
class DataKind:
    """One kind of data source.

    Attributes:
        name: the spec keyword.
        arg: what follows the colon (``DIR``, ``PATH``, ``INDEX``), or None for no argument.
        ground_truth: the source has sharp frames (needed by train and eval).
        commands: the commands that accept it.
        summary: one line for help texts and the README.
    """

    name: str
    arg: Optional[str]
    ground_truth: bool
    commands: Tuple[str, ...]
    summary: str

    @property
    def form(self) -> str:
        """How to write it: ``photos:DIR``."""
        return f"{self.name}:{self.arg}" if self.arg else self.name


_WITH_GT = ("train", "eval", "calibrate", "parity", "bench")
_NO_GT = ("calibrate", "parity", "bench")

KINDS: Dict[str, DataKind] = {
    k.name: k
    for k in (
        DataKind("synthetic", None, True, _WITH_GT, "motion blur over scikit-image's bundled photos (built in)"),
        DataKind("deadleaves", None, True, _WITH_GT, "motion blur over procedural dead-leaves images (endless)"),
        DataKind("photos", "DIR", True, _WITH_GT, "motion blur over a folder of your sharp photos"),
        DataKind("frames", "DIR", True, _WITH_GT, "blur = mean of N consecutive frames of a high-fps image sequence"),
        DataKind(
            "video",
            "PATH",
            True,
            _WITH_GT,
            "blur = mean of N consecutive frames of a high-fps video (calibrate: the frames as they are)",
        ),
        DataKind("gopro", "DIR", True, _WITH_GT, "GOPRO_Large_all: blur = mean of N sharp frames"),
        DataKind(
            "gopro-pairs", "DIR", True, ("train", "eval", "calibrate", "parity"), "GOPRO_Large pairs, middle frame only"
        ),
        DataKind("panorama", "DIR", True, _WITH_GT, "rotational blur rendered from equirectangular panoramas"),
        DataKind("images", "DIR", False, _NO_GT, "blurred images without ground truth"),
        DataKind("camera", "INDEX", False, ("calibrate",), "live frames from a camera (no ground truth)"),
    )
}


@dataclass(frozen=True)
class DataTerm:
    """One ``[WEIGHT*]KIND[:ARG]`` term."""

    kind: str
    arg: Optional[str] = None
    weight: float = 1.0

    @property
    def info(self) -> DataKind:
        return KINDS[self.kind]

    def __str__(self) -> str:
        text = f"{self.kind}:{self.arg}" if self.arg is not None else self.kind
        return text if self.weight == 1.0 else f"{self.weight:g}*{text}"


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value: one or more weighted terms."""

    terms: Tuple[DataTerm, ...]

    @property
    def single(self) -> Optional[DataTerm]:
        """The only term, or None for a mix."""
        return self.terms[0] if len(self.terms) == 1 else None

    @property
    def ground_truth(self) -> bool:
        return all(t.info.ground_truth for t in self.terms)

    def __str__(self) -> str:
        return "+".join(str(t) for t in self.terms)


def kinds_for(command: str) -> Tuple[DataKind, ...]:
    """The kinds ``command`` accepts, in table order."""
    return tuple(k for k in KINDS.values() if command in k.commands)


def _split_terms(text: str) -> Tuple[str, ...]:
    names = "|".join(re.escape(n) for n in sorted(KINDS, key=len, reverse=True))
    boundary = re.compile(rf"\+(?=\s*(?:\d+(?:\.\d+)?\s*\*\s*)?(?:{names})(?::|\+|$))")
    return tuple(part.strip() for part in boundary.split(text))


def _parse_term(text: str, accepted: str) -> DataTerm:
    weight = 1.0
    m = re.match(r"^(\d+(?:\.\d+)?)\s*\*\s*(.*)$", text)
    if m:
        weight, text = float(m.group(1)), m.group(2)
        if weight <= 0:
            raise DataSpecError(f"--data weight must be > 0 in {text!r}")
    kind, sep, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise DataSpecError(f"--data: unknown kind {kind!r}; accepted forms: {accepted}")
    info = KINDS[kind]
    arg = arg.strip() if sep else None
    if info.arg is None and arg:
        raise DataSpecError(f"--data: {kind} takes no argument, got {kind}:{arg}")
    if info.arg is not None and not arg:
        raise DataSpecError(f"--data: {kind} needs a {info.arg}: write {info.form}")
    return DataTerm(kind, arg, weight)


def parse_data_spec(text: str, command: str, allow_mix: bool = False) -> DataSpec:
    """Parse a ``--data`` value for ``command`` (``train``, ``eval``, ``calibrate``, ``parity``, ``bench``).

    Args:
        text: the spec, e.g. ``"deadleaves+photos:data/photos"``.
        command: the command asking; decides which kinds are accepted.
        allow_mix: accept several ``+``-joined terms (training).

    Returns:
        The parsed :class:`DataSpec`.

    Raises:
        DataSpecError: empty, malformed, unknown kind, missing/extra argument, a kind this command
            cannot use (the message says why and lists the accepted forms), or a mix where one term
            is expected.
    """
    accepted_kinds = kinds_for(command)
    if not accepted_kinds:
        raise ValueError(f"unknown command {command!r} for --data")
    accepted = " | ".join(k.form for k in accepted_kinds)
    if not isinstance(text, str) or not text.strip():
        raise DataSpecError(f"--data is empty; accepted forms: {accepted}")
    terms = tuple(_parse_term(part, accepted) for part in _split_terms(text.strip()))
    for term in terms:
        if command not in term.info.commands:
            why = "it has no sharp ground-truth frames" if not term.info.ground_truth else "not supported here"
            raise DataSpecError(f"--data {term.kind}: `{command}` cannot use it ({why}); accepted forms: {accepted}")
    if len(terms) > 1 and not allow_mix:
        raise DataSpecError(f"--data: `{command}` takes one source, got a mix {text!r}; drop the '+' terms")
    return DataSpec(terms)


def describe(command: str) -> str:
    """Help text of ``--data`` for ``command``: the accepted forms."""
    return " | ".join(k.form for k in kinds_for(command))


def accepted_kinds(commands: Iterable[str]) -> Dict[str, Tuple[str, ...]]:
    """``{command: kind names}`` for the README table."""
    return {c: tuple(k.name for k in kinds_for(c)) for c in commands}
