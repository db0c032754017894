"""The calibration set and the held-out evaluation set, built through the runtime's preprocessing.

Every frame, whatever its reader, goes through :func:`b2v_edge.runtime.preprocess.preprocess` with
the ``fit`` of ``b2v-edge run``: ``full`` (default) takes a centred crop at the frame's own
resolution — the pixel scale run's full-resolution tiles see — ``letterbox``/``resize`` rescale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.runtime.preprocess import preprocess

from .accuracy import EvalSet
from .options import CalibError, CalibOptions
from .progress import progress_task
from .readers import Candidate, Reader
from .sampling import Coverage, stratified_sample

__all__ = ["CalibSet", "build_eval_set", "collect", "stream_inputs"]


@dataclass
class CalibSet:
    """The chosen calibration frames and what they cover.

    Attributes:
        selected: candidates used for calibration, in calibration order.
        leftovers: scored but unused candidates (held-out evaluation for sources without a test split).
        coverage: blur-strength strata.
        warnings: e.g. frames of another size than the model input (they are fitted like at run time).
        sample_hash: sha256 over the preprocessed inputs, filled while they are streamed.
    """

    selected: List[Candidate]
    leftovers: List[Candidate]
    coverage: Coverage
    warnings: List[str] = field(default_factory=list)
    sample_hash: str = ""

    @property
    def ids(self) -> List[str]:
        return [c.id for c in self.selected]

    def to_cache(self) -> Dict[str, Any]:
        """JSON-able description (candidate handles kept when they are paths or frame indices)."""

        def dump(c: Candidate) -> Dict[str, Any]:
            handle = c.handle if isinstance(c.handle, (int, str)) else None
            return {"id": c.id, "blur": c.blur, "size": list(c.size), "handle": handle}

        return {
            "selected": [dump(c) for c in self.selected],
            "leftovers": [dump(c) for c in self.leftovers],
            "sample_hash": self.sample_hash,
            "coverage": self.coverage.to_dict(),
            "warnings": self.warnings,
        }

    @classmethod
    def from_cache(cls, data: Dict[str, Any]) -> "CalibSet":
        def load(d: Dict[str, Any]) -> Candidate:
            return Candidate(d["id"], d["blur"], (int(d["size"][0]), int(d["size"][1])), d["handle"])

        return cls(
            [load(d) for d in data["selected"]],
            [load(d) for d in data["leftovers"] if d["handle"] is not None],
            Coverage.from_dict(data["coverage"]),
            list(data["warnings"]),
            data["sample_hash"],
        )


def _size_warnings(reader: Reader, size: Tuple[int, int], fit: str) -> List[str]:
    h, w = size
    how = "centre-cropped at full resolution, as run tiles them" if fit == "full" else f"fitted ({fit}) as at run time"
    return [
        f"{n} frame(s) of {sw}x{sh} are not the model's {w}x{h}: {how}"
        for (sh, sw), n in sorted(reader.sizes.items())
        if (sh, sw) != (h, w)
    ]


def collect(reader: Reader, options: CalibOptions, size: Tuple[int, int]) -> CalibSet:
    """Score a candidate pool for blur and pick ``options.samples`` stratified frames.

    Raises:
        CalibError: the source has fewer usable frames than ``options.samples``.
    """
    with progress_task(f"scoring blur ({options.data})", options.pool_size, options.progress) as advance:
        pool = reader.scan(options.pool_size, advance)
    if len(pool) < options.samples:
        raise CalibError(
            f"{options.data} gave {len(pool)} frame(s), fewer than --samples {options.samples}: "
            f"add data or pass --samples {max(1, len(pool))}"
        )
    chosen, coverage = stratified_sample(
        [c.blur for c in pool], options.samples, options.bins, options.seed, reader.metric
    )
    picked = set(chosen)
    leftovers = [c for i, c in enumerate(pool) if i not in picked]
    step = max(1, len(leftovers) // max(1, options.eval_samples))
    leftovers = leftovers[::step][: options.eval_samples]
    selected = [pool[i] for i in chosen]
    warnings = _size_warnings(reader, size, options.fit) + _content_warnings(selected)
    return CalibSet(selected, leftovers, coverage, warnings)


MIN_SAMPLES = 16  # fewer calibration frames rarely cover the activation ranges of real scenes


def _content_warnings(selected: Sequence[Candidate]) -> List[str]:
    """Warnings about too few frames, or frames without texture (flat, constant content)."""
    out = []
    if len(selected) < MIN_SAMPLES:
        out.append(
            f"only {len(selected)} calibration frame(s): the INT8 ranges may not cover real scenes "
            f"({MIN_SAMPLES}+ frames of the deployment's scenes are recommended)"
        )
    blurs = [float(c.blur) for c in selected]
    if blurs and max(blurs) - min(blurs) <= 1e-12:
        out.append(
            "every calibration frame has the same blur score (flat or identical frames?): the INT8 ranges "
            "come from frames without texture and will clip real scenes"
        )
    return out


def stream_inputs(reader: Reader, calib: CalibSet, size: Tuple[int, int], fit: str) -> Iterator[np.ndarray]:
    """Preprocessed calibration inputs ``[1, 3, H, W]``; sets ``calib.sample_hash`` when exhausted."""
    digest = hashlib.sha256()
    for _, frame in reader.read(calib.selected):
        x, _ = preprocess(frame, size, fit)
        digest.update(x.tobytes())
        yield x
    calib.sample_hash = digest.hexdigest()


def _gt(frames: Optional[Sequence[np.ndarray]], size: Tuple[int, int], fit: str) -> Optional[np.ndarray]:
    if frames is None:
        return None
    return np.concatenate([preprocess(f, size, fit)[0] for f in frames], axis=0)


def build_eval_set(
    reader: Reader, calib: CalibSet, options: CalibOptions, size: Tuple[int, int]
) -> Tuple[EvalSet, str]:
    """Held-out inputs (test split with ground truth, else unused frames, else calibration frames).

    Returns:
        ``(eval_set, source)`` with ``source`` one of ``test_split``, ``held_out``, ``calibration``.
    """
    items = reader.eval_items(options.eval_samples, calib.leftovers)
    source = "test_split" if reader.has_gt else "held_out"
    if not items:
        items = reader.eval_items(options.eval_samples, [c for c in calib.selected if c.handle is not None])
        source = "calibration"
    if not items:
        raise CalibError(f"{options.data}: no frame left to evaluate the INT8 graph on")
    data = EvalSet()
    for item in items:
        x, mapping = preprocess(item.frame, size, options.fit)
        data.ids.append(item.id)
        data.inputs.append(x)
        data.boxes.append(mapping.content)
        data.gts.append(_gt(item.gt, size, options.fit))
    return data, source
