"""A Triton Inference Server model repository from a deploy dir (``--triton DIR``).

Layout (one model per backend available in the deploy dir)::

    DIR/<name>_onnx/config.pbtxt      platform "onnxruntime_onnx"
    DIR/<name>_onnx/1/model.onnx
    DIR/<name>_trt/config.pbtxt       platform "tensorrt_plan" (only when a plan exists)
    DIR/<name>_trt/1/model.plan

A static-batch graph gets ``max_batch_size: 0`` and full dims; a dynamic-batch graph gets
``max_batch_size`` > 0, dims without the batch axis and ``dynamic_batching``. Dynamic H/W are ``-1``.

Triton's TensorRT backend refuses a ``max_batch_size`` above the plan's optimization-profile maximum
("configuration specified max-batch 8 but TensorRT engine only supports max-batch 4"), so the plan's
model uses ``min(max_batch, profile max batch)``. A version-compatible plan loads only when the server
trusts its embedded lean runtime: start ``tritonserver --backend-config=tensorrt,version-compatible=true``
(:func:`server_args`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

from b2v_edge.common.atomic import atomic_open, atomic_write_text
from b2v_edge.common.manifest import Artifact, Manifest

DEFAULT_MAX_BATCH = 8
_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "uint8": "TYPE_UINT8"}


def _dims(shape: Sequence[Any]) -> List[int]:
    return [int(d) if isinstance(d, int) and d > 0 else -1 for d in shape]


def _tensor(name: str, dtype: str, dims: Sequence[int]) -> str:
    return f'  {{\n    name: "{name}"\n    data_type: {_DTYPES.get(dtype, "TYPE_FP32")}\n    dims: [ {", ".join(map(str, dims))} ]\n  }}'


def plan_max_batch(artifact: Artifact) -> Optional[int]:
    """The largest batch a plan's optimization profile accepts (None for a static plan)."""
    profile = artifact.plan.profile
    high = profile.get("max") or []
    return int(high[0]) if high else None


def model_config(name: str, platform: str, manifest: Manifest, max_batch: int = DEFAULT_MAX_BATCH) -> str:
    """``config.pbtxt`` text for one model built from the manifest's I/O description.

    Args:
        name: Triton model name (the folder name).
        platform: ``onnxruntime_onnx`` or ``tensorrt_plan``.
        manifest: the deploy dir's manifest (input/output names and shapes).
        max_batch: ``max_batch_size`` when the batch axis is dynamic (for a plan, at most its
            profile's max batch: pass :func:`plan_max_batch`).
    """
    inp, out = manifest.input, manifest.output
    in_dims, out_dims = _dims(inp["shape"]), _dims(out["shape"])
    batched = in_dims[0] == -1
    lines = [f'name: "{name}"', f'platform: "{platform}"', f"max_batch_size: {max_batch if batched else 0}"]
    if batched:
        in_dims, out_dims = in_dims[1:], out_dims[1:]
    lines.append("input [\n" + _tensor(inp["name"], inp.get("dtype", "float32"), in_dims) + "\n]")
    lines.append("output [\n" + _tensor(out["name"], out.get("dtype", "float32"), out_dims) + "\n]")
    if batched:
        lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def model_name(manifest: Manifest) -> str:
    """A Triton-safe model name from the manifest (``b2v-lite-n7`` -> ``b2v_lite_n7``)."""
    raw = str(manifest.model.get("name") or "b2v")
    return re.sub(r"[^A-Za-z0-9_]", "_", raw)


def _copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as fh, atomic_open(dst, "wb") as out:
        shutil.copyfileobj(fh, out, 1 << 20)


def _pick(manifest: Manifest, kind: str, precision: Optional[str]) -> Optional[Artifact]:
    found = manifest.find(kind, precision) or ([] if precision else manifest.find(kind))
    return found[-1] if found else None


def write_repository(
    deploy_dir: Union[str, Path],
    repo: Union[str, Path],
    precision: Optional[str] = None,
    version: int = 1,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> List[Path]:
    """Write (or update) a Triton model repository from a deploy dir.

    Args:
        deploy_dir: an exported deploy dir.
        repo: the repository root (created).
        precision: which ONNX / plan precision to serve (None = the newest of each kind).
        version: the model version folder.
        max_batch: ``max_batch_size`` for dynamic-batch graphs.

    Returns:
        The ``config.pbtxt`` files written.
    """
    manifest = Manifest.load(deploy_dir)
    name = model_name(manifest)
    written = []
    for kind, suffix, platform, file in (
        ("onnx", "onnx", "onnxruntime_onnx", "model.onnx"),
        ("tensorrt_plan", "trt", "tensorrt_plan", "model.plan"),
    ):
        art = _pick(manifest, kind, precision)
        if art is None:
            continue
        manifest.verify(art)
        folder = Path(repo) / f"{name}_{suffix}"
        _copy(manifest.path_of(art), folder / str(version) / file)
        config = folder / "config.pbtxt"
        batch = max_batch
        if kind == "tensorrt_plan" and plan_max_batch(art) is not None:
            batch = min(max_batch, plan_max_batch(art) or max_batch)
        atomic_write_text(config, model_config(folder.name, platform, manifest, batch))
        written.append(config)
    return written


def server_args(deploy_dir: Union[str, Path], precision: Optional[str] = None) -> List[str]:
    """``tritonserver`` arguments the repository's TensorRT model needs (empty for most plans)."""
    art = _pick(Manifest.load(deploy_dir), "tensorrt_plan", precision)
    compatible = art is not None and art.plan.version_compatible
    return ["--backend-config=tensorrt,version-compatible=true"] if compatible else []
