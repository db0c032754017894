"""``CalibOptions``: every knob of ``b2v-edge calibrate`` in one typed dataclass, validated once.

Data specs (``--data``) follow the one grammar of :mod:`b2v_edge.common.dataspec`; calibration reads:

=======================  ===========================================================================
``synthetic``,           rendered blur with ground truth (train split to calibrate, test split to
``deadleaves``,          evaluate INT8 against the sharp frames)
``photos:DIR``,
``frames:DIR``,
``gopro:DIR``,
``panorama:DIR``
``images:DIR``           a folder of blurred images (``.png .jpg .jpeg .bmp .tif .tiff .webp``)
``video:PATH``           a video of your camera's (blurred) frames, used as they are (frames spread
                         evenly over the whole file); no ground truth
``camera:N``             a live camera (``N``, ``/dev/videoN`` or ``csi://N``); ``camera_frames`` read
=======================  ===========================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple

from b2v_edge.common.dataspec import DataSpecError, describe, kinds_for
from b2v_edge.common.dataspec import parse_data_spec as parse_spec
from b2v_edge.common.errors import B2VError
from b2v_edge.common.trt_version import LINE_RELEASES, LINES
from b2v_edge.runtime.layout import FITS as RUN_FITS

__all__ = [
    "QUANTIZERS",
    "CalibError",
    "CalibOptions",
    "DATA_KINDS",
    "DATA_FORMS",
    "METHODS",
    "CALIB_TARGETS",
    "parse_data_spec",
]

METHODS = ("minmax", "entropy", "percentile")
QUANTIZERS = ("onnxruntime", "modelopt")
CALIB_TARGETS = ("tensorrt", "onnxruntime")
FITS = RUN_FITS
DATA_KINDS = tuple(k.name for k in kinds_for("calibrate"))
DATA_FORMS = describe("calibrate")
RAW_KINDS = ("images", "video", "camera")  # frames used as they are (no ground truth)


class CalibError(B2VError, ValueError):
    """Calibration cannot proceed (one-line, actionable message)."""


def parse_data_spec(spec: str) -> Tuple[str, str]:
    """``(kind, target)`` of a calibration ``--data`` spec (``("synthetic", "")`` for ``synthetic``).

    Parsed by the shared grammar (:func:`b2v_edge.common.dataspec.parse_data_spec`, one term).

    Raises:
        CalibError: unknown kind or missing target, naming the accepted forms.
    """
    try:
        term = parse_spec(str(spec), "calibrate").terms[0]
    except DataSpecError as exc:
        raise CalibError(str(exc)) from None
    return term.kind, term.arg or ""


def _trt_version_ok(version: str) -> bool:
    parts = version.split(".")
    return 2 <= len(parts) <= 4 and all(p.isdigit() for p in parts) and int(parts[0]) >= 7


@dataclass(frozen=True)
class CalibOptions:
    """Options of one calibration run, checked and normalised on construction (:class:`CalibError`).

    Args:
        data: calibration data spec (see the module table).
        samples: number of calibration inputs (stratified by blur strength).
        method: activation range estimator: ``minmax`` (default, the cheapest: one running min/max
            per tensor), ``percentile`` or ``entropy`` (histograms per tensor, slower).
        percentile: percentile of |activation| kept by ``method="percentile"``.
        backend: the quantizer (CLI ``--quantizer``): ``onnxruntime`` (quantize_static, default) or
            ``modelopt`` (needs nvidia-modelopt).
        target: ``tensorrt`` (symmetric S8S8 Q/DQ, zero-point 0), a TensorRT line (``trt8.2`` ...:
            the same, with that line's release as the default ``trt_version``) or ``onnxruntime``
            (U8S8 for CPUs). A line is normalised to ``tensorrt`` on construction.
        camera_frames: frames captured from a camera before sampling.
        oversample: candidate pool = ``ceil((samples + eval_samples) * oversample)`` frames, from which
            the strata are filled (sources with fewer frames use what they have).
        bins: number of blur-strength strata.
        fit: how frames of another size reach the model input, as ``b2v-edge run --fit``:
            ``full`` (the default: a centred crop at the frame's own resolution, edge-padded where
            the frame is smaller — what run's full-resolution tiles see), ``letterbox`` or ``resize``.
        seed: seed of sampling and of the synthetic source.
        eval_samples: held-out inputs on which INT8 is compared with FP32 (and ground truth).
        sensitivity: measure the PSNR drop of each quantized node group alone.
        target_psnr: greedily keep the most sensitive groups in float until INT8-vs-FP32 PSNR >= this.
        exclude: extra node names or module scopes (e.g. ``others.*.dense.0``) kept in float.
        trt_version: TensorRT version of the calibration cache header (``8.5.2`` → ``TRT-8502-...``;
            TensorRT ignores a cache of another version). None = the TensorRT of the FP32 artifact's
            target (trt8.5 → 8.5.2, trt8.6 → 8.6.2, trt10 → 10.3.0; 8.5.2 when unknown).
        cache_dir: where computed ranges are cached (None = ``~/.cache/b2v-edge/calib``).
        use_cache: reuse ranges computed earlier for the same model, data and method.
        speed_runs: timed runs per model when measuring ONNX Runtime latency (target onnxruntime).
        progress: show progress bars.
    """

    data: str = "synthetic"
    samples: int = 256
    method: str = "minmax"
    percentile: float = 99.999
    backend: str = "onnxruntime"
    target: str = "tensorrt"
    camera_frames: int = 300
    oversample: float = 2.0
    bins: int = 8
    fit: str = "full"
    seed: int = 0
    eval_samples: int = 8
    sensitivity: bool = False
    target_psnr: Optional[float] = None
    exclude: Tuple[str, ...] = field(default_factory=tuple)
    trt_version: Optional[str] = None
    cache_dir: Optional[Path] = None
    use_cache: bool = True
    speed_runs: int = 10
    progress: bool = True

    def __post_init__(self) -> None:
        """Check every field and normalise ``target``/``trt_version``, ``exclude``, ``cache_dir``.

        Raises:
            CalibError: the first invalid value, with what is accepted.
        """
        parse_data_spec(self.data)
        checks = [
            (self.samples >= 1, f"samples must be >= 1, got {self.samples}"),
            (self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}"),
            (50.0 < self.percentile <= 100.0, f"percentile must be in (50, 100], got {self.percentile}"),
            (self.backend in QUANTIZERS, f"backend must be one of {QUANTIZERS}, got {self.backend!r}"),
            (
                self.target in CALIB_TARGETS + LINES,
                f"target must be one of {', '.join(LINES + CALIB_TARGETS)}, got {self.target!r}",
            ),
            (self.camera_frames >= 1, f"camera_frames must be >= 1, got {self.camera_frames}"),
            (
                math.isfinite(self.oversample) and self.oversample >= 1.0,
                f"oversample must be >= 1, got {self.oversample}",
            ),
            (1 <= self.bins <= 64, f"bins must be in 1..64, got {self.bins}"),
            (self.fit in FITS, f"fit must be one of {FITS}, got {self.fit!r}"),
            (self.eval_samples >= 1, f"eval_samples must be >= 1, got {self.eval_samples}"),
            (
                self.target_psnr is None or (math.isfinite(self.target_psnr) and 0 < self.target_psnr <= 100),
                f"target_psnr must be in (0, 100] dB, got {self.target_psnr}",
            ),
            (
                self.trt_version is None or _trt_version_ok(self.trt_version),
                f"trt_version must look like 8.2.1 or 10.3.0, got {self.trt_version!r}",
            ),
            (self.speed_runs >= 1, f"speed_runs must be >= 1, got {self.speed_runs}"),
        ]
        for ok, message in checks:
            if not ok:
                raise CalibError(message)
        if self.backend == "modelopt" and self.method == "percentile":
            raise CalibError("--quantizer modelopt supports --method minmax or entropy, not percentile")
        if self.backend == "modelopt" and (self.sensitivity or self.target_psnr is not None):
            raise CalibError(
                "--sensitivity / --target-psnr use the onnxruntime quantizer's ranges; drop --quantizer modelopt"
            )
        if self.backend == "modelopt" and self.target == "onnxruntime":
            raise CalibError("--target onnxruntime uses --quantizer onnxruntime (ModelOpt builds TensorRT graphs)")
        cache = Path(self.cache_dir).expanduser() if self.cache_dir is not None else None
        exclude = tuple(str(e).strip() for e in self.exclude if str(e).strip())
        sensitivity = self.sensitivity or self.target_psnr is not None
        target, trt_version = self.target, self.trt_version
        if target in LINES:  # a TensorRT line: symmetric Q/DQ, cache header of that line's release
            target, trt_version = "tensorrt", trt_version or LINE_RELEASES[target]
        normalised = dict(
            cache_dir=cache, exclude=exclude, sensitivity=sensitivity, target=target, trt_version=trt_version
        )
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    @property
    def data_kind(self) -> str:
        """``synthetic``, ``images``, ``video``, ``camera``, ``gopro`` or ``panorama``."""
        return parse_data_spec(self.data)[0]

    @property
    def symmetric_activations(self) -> bool:
        """TensorRT needs zero-point 0; the CPU target uses asymmetric uint8 activations."""
        return self.target == "tensorrt"

    @property
    def pool_size(self) -> int:
        """Number of candidate frames scored for blur before stratified sampling."""
        return int(math.ceil((self.samples + self.eval_samples) * self.oversample))
