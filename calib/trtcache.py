"""TensorRT calibration cache (implicit INT8, TensorRT 8.x) written from Q/DQ activation scales.

Format (text, what ``IInt8EntropyCalibrator2::writeCalibrationCache`` produces and ``trtexec
--int8 --calib=FILE`` reads)::

    TRT-8502-EntropyCalibration2
    blurred: 3c010204
    /encoder.0/conv/Conv_output_0: 3d8c8d62

The header carries the TensorRT version number (``major*1000 + minor*100 + patch`` before 10,
``major*10000 + minor*100 + patch`` from 10: 8.5.2 → ``8502``, 10.9.0 → ``100900``); TensorRT skips
a cache whose version does not match its own, so ``b2v-edge build-engine`` checks the header against
the installed TensorRT and re-stamps it (the ranges come from ONNX Runtime, not from TensorRT). Each line maps an ONNX tensor name to its scale
(``amax / 127``) as the big-endian IEEE-754 float32 bits in hex. Tensors with no line (the float
nodes of the precision plan) have no dynamic range, so TensorRT keeps those layers out of INT8.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Dict, Mapping, Tuple

from b2v_edge.common.atomic import atomic_write_text
from b2v_edge.common.trt_version import TrtVersion, TrtVersionError

from .options import CalibError

__all__ = ["ALGORITHM", "parse_trt_cache", "render_trt_cache", "trt_version_number", "write_trt_cache"]

ALGORITHM = "EntropyCalibration2"


def trt_version_number(version: str) -> int:
    """``"8.5.2"`` → 8502, ``"10.3.0"`` → 100300 (TensorRT's ``NV_TENSORRT_VERSION``)."""
    try:
        return TrtVersion.parse(version).number
    except TrtVersionError as exc:
        raise CalibError(f"TensorRT version must look like 8.5.2, got {version!r}") from exc


def _hex(scale: float) -> str:
    return struct.pack(">f", scale).hex()


def render_trt_cache(scales: Mapping[str, float], trt_version: str) -> str:
    """Cache text for ``{tensor: scale}`` (scales must be positive and finite)."""
    lines = [f"TRT-{trt_version_number(trt_version)}-{ALGORITHM}"]
    for name, scale in scales.items():
        if not (scale > 0.0 and scale < float("inf")):
            raise CalibError(f"tensor {name!r} has an invalid scale {scale!r}")
        if "\n" in name or not name.strip():
            raise CalibError(f"tensor name {name!r} cannot be written to a TensorRT cache")
        lines.append(f"{name}: {_hex(float(scale))}")
    return "\n".join(lines) + "\n"


def write_trt_cache(path: Path, scales: Mapping[str, float], trt_version: str) -> Path:
    """Atomically write the cache for ``{tensor: scale}``; returns ``path``."""
    atomic_write_text(path, render_trt_cache(scales, trt_version))
    return Path(path)


def parse_trt_cache(text: str) -> Tuple[int, str, Dict[str, float]]:
    """``(version_number, algorithm, {tensor: scale})`` of a cache's text.

    Raises:
        CalibError: not a TensorRT calibration cache (bad header or line).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[0].split("-") if lines else []
    if len(head) != 3 or head[0] != "TRT" or not head[1].isdigit():
        raise CalibError(f"not a TensorRT calibration cache: header {lines[0] if lines else ''!r}")
    scales: Dict[str, float] = {}
    for line in lines[1:]:
        name, sep, value = line.rpartition(": ")
        try:
            if not sep:
                raise ValueError("missing ': '")
            scales[name] = struct.unpack(">f", bytes.fromhex(value.strip()))[0]
        except ValueError as exc:
            raise CalibError(f"bad TensorRT calibration cache line {line!r} ({exc})") from exc
    return int(head[1]), head[2], scales
