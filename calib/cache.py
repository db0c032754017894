"""Re-use of calibration ranges: a run with the same model, data and settings skips calibration.

The key hashes the FP32 model's sha256, a fingerprint of the data (the synthetic renderer's source
code; file names, sizes and modification times of folders, videos and datasets), every option that
changes the chosen samples or the ranges, and the onnxruntime version. Live cameras are never
cached. Entries live in ``cache_dir`` (default ``~/.cache/b2v-edge/calib``): ``<key>.json`` (sample
list, coverage, held-out items) and ``<key>.ranges.json`` (onnxruntime ``TensorsData``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from b2v_edge.common.atomic import atomic_write_text
from b2v_edge.common.paths import cache_dir

from .options import CalibOptions, parse_data_spec

__all__ = [
    "CACHE_FORMAT",
    "cache_key",
    "data_fingerprint",
    "default_cache_dir",
    "ranges_path",
    "read_entry",
    "write_entry",
]

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/b2v-edge/calib`` (``~/.cache/...`` when unset)."""
    return cache_dir("calib")


def _listing(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        st = path.stat()
        digest.update(
            f"{path.relative_to(root) if path != root else path.name}|{st.st_size}|{st.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def data_fingerprint(options: CalibOptions) -> Optional[str]:
    """Hash identifying the calibration data, or None when it cannot be re-read (a live camera)."""
    kind, target = parse_data_spec(options.data)
    if kind == "camera":
        return None
    if kind == "synthetic":
        from b2v_edge.data import bundled, synthetic

        digest = hashlib.sha256()
        for module in (synthetic, bundled):
            digest.update(Path(str(module.__file__)).read_bytes())
        return digest.hexdigest()
    path = Path(target).expanduser()
    return _listing(path) if path.exists() else None


def cache_key(model_sha256: str, fingerprint: str, options: CalibOptions, size: Tuple[int, int], frames: int) -> str:
    """Hex key of one calibration (model, data, sampling and range settings, onnxruntime version)."""
    import onnxruntime

    settings = {
        "format": CACHE_FORMAT,
        "model": model_sha256,
        "data": options.data,
        "fingerprint": fingerprint,
        "samples": options.samples,
        "eval_samples": options.eval_samples,
        "oversample": options.oversample,
        "bins": options.bins,
        "seed": options.seed,
        "fit": options.fit,
        "method": options.method,
        "percentile": options.percentile if options.method == "percentile" else None,
        "target": options.target,
        "camera_frames": options.camera_frames,
        "size": list(size),
        "frames": frames,
        "onnxruntime": onnxruntime.__version__,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


def read_entry(cache_dir: Path, key: str) -> Optional[Tuple[Dict[str, Any], Path]]:
    """``(metadata, ranges_file)`` of a complete cache entry, or None."""
    meta, ranges = Path(cache_dir) / f"{key}.json", Path(cache_dir) / f"{key}.ranges.json"
    if not (meta.is_file() and ranges.is_file()):
        return None
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return (data, ranges) if data.get("key") == key else None


def write_entry(cache_dir: Path, key: str, metadata: Dict[str, Any]) -> Path:
    """Write ``<key>.json`` last (after :func:`ranges_path` was filled): it marks a complete entry."""
    path = Path(cache_dir) / f"{key}.json"
    atomic_write_text(path, json.dumps({**metadata, "key": key}, indent=1) + "\n")
    return path


def ranges_path(cache_dir: Path, key: str) -> Path:
    """Where the ranges of ``key`` are stored (the folder is created)."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return Path(cache_dir) / f"{key}.ranges.json"
