"""Versioned checkpoints: ``{format_version, config, state_dict, metadata[, train_state]}``.

Format 2 stores the non-middle frame decoders frame-batched (one module, per-frame weights stacked
along dim 0); format 1 (one module per frame, ``others.<k>.``) is converted on load by
:func:`convert_v1_state_dict`.

Files are written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``.
``"demo"`` (or no path) names the demo checkpoint shipped in ``b2v_edge/weights/``.
"""

from __future__ import annotations

import importlib.resources
import io
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch

from b2v_edge.common.errors import B2VError

from .common.atomic import atomic_write_bytes
from .model.network import Blur2Video, ModelConfig

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
DEMO_NAME = "demo_lite_n7.pt"


class CheckpointError(B2VError, ValueError):
    """A checkpoint that is missing, corrupt or incompatible (one-line message)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode) plus its metadata and optional training state."""

    model: Blur2Video
    config: ModelConfig
    metadata: Dict[str, Any] = field(default_factory=dict)
    train_state: Optional[Dict[str, Any]] = None
    path: Optional[Path] = None


def demo_checkpoint_path() -> Path:
    """Path of the demo checkpoint shipped inside the package."""
    ref = importlib.resources.files("b2v_edge.weights").joinpath(DEMO_NAME)
    return Path(str(ref))


def resolve_checkpoint(spec: Union[str, Path, None]) -> Path:
    """``None``/``"demo"`` -> the shipped demo checkpoint; anything else -> that path."""
    if spec is None or str(spec) == "demo":
        path = demo_checkpoint_path()
        if not path.exists():
            raise CheckpointError(f"the demo checkpoint {path} is missing from this install; reinstall b2v-edge")
        return path
    return Path(spec)


def save_checkpoint(
    path: Union[str, Path],
    model: Blur2Video,
    metadata: Optional[Dict[str, Any]] = None,
    train_state: Optional[Dict[str, Any]] = None,
) -> Path:
    """Atomically write a checkpoint. ``train_state`` (optimizer, step, ...) is for ``--resume``."""
    payload: Dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "config": model.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    if train_state is not None:
        payload["train_state"] = train_state
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def _load_reason(exc: BaseException) -> str:
    """The line of a ``torch.load`` error that names the cause (the weights-only unpickler's verdict)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for marker in ("WeightsUnpickler error:", "Unsupported", "unsupported GLOBAL", "unsupported"):
        hit = next((line for line in lines if marker in line and "weights_only" not in line), None)
        if hit:
            return hit.replace("WeightsUnpickler error:", "").strip()[:200]
    if lines and lines[0].startswith("Weights only load failed"):
        return "it holds objects other than weights"
    return (lines[0] if lines else type(exc).__name__)[:200]


def _read(path: Path) -> Dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; pass --checkpoint PATH or omit it for the demo model")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; pass the .pt file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        OSError,
        IndexError,
        KeyError,
        ValueError,
    ) as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a b2v-edge checkpoint ({_load_reason(exc)}); "
            "nothing in it was run: use a checkpoint saved by `b2v-edge train`"
        ) from exc
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(
            f"{path} is not a b2v-edge checkpoint (no format_version); was it saved by `b2v-edge train`?"
        )
    missing = [k for k in ("config", "state_dict") if k not in payload]
    if missing:
        raise CheckpointError(f"{path} has no {' or '.join(missing)}: an incomplete checkpoint; re-save it")
    if payload["format_version"] not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path} has checkpoint format {payload['format_version']}, this b2v-edge reads {FORMAT_VERSION}; upgrade b2v-edge"
        )
    return payload


def load_checkpoint(spec: Union[str, Path, None] = None, with_train_state: bool = False) -> Checkpoint:
    """Load a checkpoint into a model in eval mode.

    Args:
        spec: a path, or ``None``/``"demo"`` for the shipped demo checkpoint.
        with_train_state: also return the stored training state (optimizer etc.), if any.

    Raises:
        CheckpointError: missing, corrupt, wrong format or mismatched weights.
    """
    path = resolve_checkpoint(spec)
    payload = _read(path)
    try:
        cfg = ModelConfig.from_dict(dict(payload["config"]))
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path} has an invalid model config ({exc})") from exc
    model = Blur2Video(cfg)
    state_dict = payload["state_dict"]
    if payload["format_version"] == 1:
        state_dict = convert_v1_state_dict(state_dict, model.state_dict())
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0][:160]
        raise CheckpointError(f"{path}: weights do not match its config ({msg})") from exc
    model.eval()
    state = payload.get("train_state") if with_train_state else None
    return Checkpoint(model, cfg, dict(payload.get("metadata", {})), state, path)


def convert_v1_state_dict(old: Dict[str, Any], target: Dict[str, Any]) -> Dict[str, Any]:
    """Per-frame (format 1) weights -> the frame-batched layout of ``target`` (a model's state_dict).

    Every ``others.<k>.<name>`` of the G non-middle frames becomes ``others.<name>``: the G tensors
    reshaped to ``target``'s per-frame slice and concatenated along dim 0 (a grouped layer's weight
    is its frames' weights stacked; the STN's ``Linear`` becomes a grouped 1x1 convolution).

    Raises:
        CheckpointError: a key of ``target`` has no per-frame source, or the shapes do not fit.
    """
    frames = 1 + max((int(k.split(".")[1]) for k in old if k.startswith("others.")), default=-1)
    out = {k: v for k, v in old.items() if not k.startswith("others.")}
    for key, ref in target.items():
        if not key.startswith("others."):
            continue
        name = key[len("others.") :]
        parts = [old.get(f"others.{k}.{name}") for k in range(frames)]
        if frames == 0 or any(p is None for p in parts):
            raise CheckpointError(f"format-1 checkpoint has no per-frame weights for {key}; re-train or re-export it")
        per_frame_shape = (ref.shape[0] // frames, *ref.shape[1:])
        try:
            out[key] = torch.cat([p.reshape(per_frame_shape) for p in parts], dim=0)
        except RuntimeError as exc:
            raise CheckpointError(f"format-1 weights of {key} do not fit the model ({exc})") from exc
    return out


def strip_train_state(src: Union[str, Path], dst: Union[str, Path], note: Optional[str] = None) -> Path:
    """Copy a checkpoint without its training state (optimizer etc.): what ships as the demo model."""
    ck = load_checkpoint(src)
    meta = dict(ck.metadata)
    if note:
        meta["note"] = note
    return save_checkpoint(dst, ck.model, meta)
