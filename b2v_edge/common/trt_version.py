"""What each TensorRT version supports and needs: the one place that knows TensorRT version numbers.

The plan builder (``export.trt_build``), the printed ``trtexec`` line (``export.trt_command``), the
runtime (``runtime.engines.trt``, plan selection) and the calibration cache (``calib.trtcache``)
ask a :class:`TrtVersion` instead of comparing version numbers themselves. Every predicate names the
source that says so; the Python names are checked against the real bindings of 8.6, 10.x and 11.x
by the test suite (``tests/trt_api``). TensorRT 8.0 / 8.2 (JetPack 4.6) have no published bindings
wheel: their branch uses only names present in 8.6 that ``python/src/infer/pyCore.cpp`` of the
``release/8.0`` / ``release/8.2`` sources also bind.

Target lines (``trt8.0`` ... ``trt11``) name a TensorRT generation; :data:`LINE_RELEASES` gives the
release each line stands for when no TensorRT is installed (JetPack's, for the Jetson lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Optional, Tuple

from .errors import B2VError

__all__ = ["LINE_RELEASES", "LINES", "TEGRA_SM", "TrtVersion", "TrtVersionError", "hardware_compatible_gpu"]

#: TensorRT target lines, oldest first.
LINES: Tuple[str, ...] = ("trt8.0", "trt8.2", "trt8.5", "trt8.6", "trt10", "trt11")
#: The release a line stands for: JetPack 4.6 (8.0.1), 4.6.1+ (8.2.1), 5.1 (8.5.2), 6.0 (8.6.2),
#: 6.1/6.2 (10.3.0); desktop 11.0.0.
LINE_RELEASES: Dict[str, str] = {
    "trt8.0": "8.0.1",
    "trt8.2": "8.2.1",
    "trt8.5": "8.5.2",
    "trt8.6": "8.6.2",
    "trt10": "10.3.0",
    "trt11": "11.0.0",
}
#: Compute capabilities of Jetson (Tegra) GPUs: Nano/TX1, TX2, Xavier, Orin, Thor (CUDA 12 / 13 naming).
TEGRA_SM = frozenset({"5.3", "6.2", "7.2", "8.7", "10.1", "11.0"})
_LINE_START = {
    "trt8.0": (8, 0),
    "trt8.2": (8, 2),
    "trt8.5": (8, 5),
    "trt8.6": (8, 6),
    "trt10": (10, 0),
    "trt11": (11, 0),
}
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class TrtVersionError(B2VError, ValueError):
    """A TensorRT version string or target line that cannot be read (one-line message)."""


@dataclass(frozen=True, order=True)
class TrtVersion:
    """One TensorRT release, ``major.minor.patch[.build]`` (``tensorrt.__version__``).

    Ordered by number; :meth:`same_release` ignores the build number.
    """

    major: int
    minor: int = 0
    patch: int = 0
    build: int = 0

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def parse(cls, text: Any) -> "TrtVersion":
        """``"10.3.0.26"`` / ``"8.6"`` / ``"8.5.2-1+cuda11.4"`` -> TrtVersion.

        Raises:
            TrtVersionError: not ``major.minor[...]``.
        """
        match = _VERSION.match(str(text))
        if match is None:
            raise TrtVersionError(f"TensorRT version must look like 10.3.0, got {text!r}")
        return cls(*(int(g) if g else 0 for g in match.groups()))

    @classmethod
    def of(cls, trt: Any) -> "TrtVersion":
        """The version of an imported ``tensorrt`` module."""
        return cls.parse(getattr(trt, "__version__", None))

    @classmethod
    def for_line(cls, line: str) -> "TrtVersion":
        """The release a target line stands for (:data:`LINE_RELEASES`)."""
        if line not in LINE_RELEASES:
            raise TrtVersionError(f"unknown TensorRT target {line!r}; choose one of {', '.join(LINES)}")
        return cls.parse(LINE_RELEASES[line])

    # ---- naming -------------------------------------------------------------------------
    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}.{self.build}" if self.build else base

    @property
    def release(self) -> Tuple[int, int, int]:
        """``(major, minor, patch)``: plans and calibration caches are tied to this."""
        return (self.major, self.minor, self.patch)

    def same_release(self, other: "TrtVersion") -> bool:
        """Same ``major.minor.patch`` (the build number does not change the plan format)."""
        return self.release == other.release

    @property
    def line(self) -> str:
        """The target line of this release (``8.6.1`` -> ``trt8.6``, ``10.9`` -> ``trt10``).

        Raises:
            TrtVersionError: older than 8.0.
        """
        for line in reversed(LINES):
            if (self.major, self.minor) >= _LINE_START[line]:
                return line
        raise TrtVersionError(f"TensorRT {self} is older than 8.0, which b2v-edge does not support")

    @property
    def number(self) -> int:
        """``NV_TENSORRT_VERSION``: ``major*1000 + minor*100 + patch`` before 10, ``major*10000 + ...`` from 10.

        Source: ``NvInferRuntimeCommon.h`` (8.0) / ``NvInferRuntimeBase.h`` (10.3, 11.1). It heads a
        calibration cache (``TRT-8502-EntropyCalibration2``).
        """
        return self.major * (10000 if self.major >= 10 else 1000) + self.minor * 100 + self.patch

    # ---- network and builder ------------------------------------------------------------
    @property
    def strongly_typed(self) -> bool:
        """Precision comes from the graph's types (10.x: ``STRONGLY_TYPED`` flag; 11.x: always)."""
        return self.major >= 10

    @property
    def network_flag(self) -> Optional[str]:
        """The ``NetworkDefinitionCreationFlag`` to set, or None (11.x: strongly typed by default).

        8.x: ``EXPLICIT_BATCH`` (ONNX needs it); 10.x: ``STRONGLY_TYPED`` (EXPLICIT_BATCH is ignored);
        11.x: ``STRONGLY_TYPED`` is deprecated and ignored, ``EXPLICIT_BATCH`` is gone.
        """
        if self.major >= 11:
            return None
        return "STRONGLY_TYPED" if self.major >= 10 else "EXPLICIT_BATCH"

    @property
    def precision_flags(self) -> bool:
        """``BuilderFlag.FP16`` / ``INT8`` and layer precisions decide precision (8.x only).

        10.x builds the strongly typed precision-in-graph ONNX; 11.x removed the flags.
        """
        return self.major < 10

    @property
    def obey_flag(self) -> str:
        """Flag that makes layer precisions binding: ``STRICT_TYPES`` before 8.2, then
        ``OBEY_PRECISION_CONSTRAINTS`` (``pyCore.cpp`` 8.2)."""
        return "STRICT_TYPES" if (self.major, self.minor) < (8, 2) else "OBEY_PRECISION_CONSTRAINTS"

    @property
    def memory_pools(self) -> bool:
        """``set_memory_pool_limit(MemoryPoolType.WORKSPACE, ...)`` (8.4+); ``max_workspace_size`` before."""
        return (self.major, self.minor) >= (8, 4)

    @property
    def compatibility_modes(self) -> bool:
        """``BuilderFlag.VERSION_COMPATIBLE`` and ``HardwareCompatibilityLevel.AMPERE_PLUS`` (8.6+)."""
        return (self.major, self.minor) >= (8, 6)

    @property
    def host_code_opt_in(self) -> bool:
        """``Runtime.engine_host_code_allowed`` exists (8.6+); a version-compatible plan needs it True."""
        return (self.major, self.minor) >= (8, 6)

    @property
    def platform_queries(self) -> bool:
        """``Builder.platform_has_fast_int8`` / ``_fp16`` exist (gone in the 11.x bindings)."""
        return self.major < 11

    @property
    def int8_calibrator(self) -> bool:
        """Implicit INT8 from a calibration cache (``IInt8EntropyCalibrator2``; 8.x is where it is used)."""
        return self.major < 10

    @property
    def int8_deconvolution(self) -> bool:
        """ConvTranspose weights may be INT8 per output channel (ONNX Runtime's axis 1).

        TensorRT 8.x kernels assume per-input-channel deconvolution scales (NVIDIA/TensorRT#2380,
        #1694/#1699); NVIDIA's own quantization tools switched back to axis 1 with TensorRT 10.
        """
        return self.major >= 10

    # ---- runtime ------------------------------------------------------------------------
    @property
    def named_io(self) -> bool:
        """Named I/O tensors + ``execute_async_v3`` (10.x+); 8.x uses bindings + ``execute_async_v2``."""
        return self.major >= 10

    def can_load_plan_from(self, built: "TrtVersion", version_compatible: bool) -> bool:
        """Whether a plan built by ``built`` deserializes here.

        Plans load only in the release that built them; a version-compatible plan (8.6+) also loads
        in later releases (forward only, same major or newer), never in older ones.
        """
        if self.same_release(built):
            return True
        return version_compatible and built.compatibility_modes and self.release > built.release

    # ---- trtexec ------------------------------------------------------------------------
    @property
    def trtexec_options(self) -> FrozenSet[str]:
        """The ``trtexec`` options b2v-edge uses that this release's trtexec accepts.

        Source: ``samples/common/sampleOptions.cpp`` of release/8.0 ... 11.0: ``--precisionConstraints``
        from 8.2, ``--layerPrecisions`` / ``--memPoolSize`` from 8.4, ``--versionCompatible`` /
        ``--hardwareCompatibilityLevel`` from 8.6, ``--workspace`` until 8.6, ``--stronglyTyped``
        from 10.0 (a no-op in 11), ``--fp16`` / ``--calib`` until 10.x; ``--noTF32`` in all.
        """
        key = (self.major, self.minor)
        options = {"--onnx", "--saveEngine", "--timingCacheFile", "--noTF32", "--minShapes", "--optShapes"}
        options |= {"--maxShapes"}
        if self.major < 11:
            options |= {"--fp16", "--int8", "--calib"}
        if key >= (8, 2) and self.major < 11:
            options.add("--precisionConstraints")
        if key >= (8, 4) and self.major < 11:
            options.add("--layerPrecisions")
        if key >= (8, 4):
            options.add("--memPoolSize")
        if self.major < 10:
            options.add("--workspace")
        if key >= (8, 6):
            options |= {"--versionCompatible", "--hardwareCompatibilityLevel"}
        if self.major >= 10:
            options.add("--stronglyTyped")
        return frozenset(options)


def hardware_compatible_gpu(compute_capability: str) -> bool:
    """Whether an ``ampere+`` (hardware-compatible) plan can be built and run on this GPU.

    NVIDIA documents hardware compatibility for Ampere and newer discrete GPUs only, "not supported
    on JetPack / DRIVE OS" (ONNX Runtime's TensorRT EP refuses it on sm 8.7).
    """
    parts = str(compute_capability).split(".")[:2]
    try:
        sm = (int(parts[0]), int(parts[1]))
    except (ValueError, IndexError):
        return False
    return sm >= (8, 0) and str(compute_capability) not in TEGRA_SM
