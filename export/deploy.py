"""Deploy-directory bookkeeping for the export: staging, publishing, manifest sections, stale artifacts.

The export runs inside :func:`b2v_edge.common.deploydir.update`: artifacts are produced in a hidden
scratch folder, moved into the new generation, the manifest is saved there, and the deploy dir
switches to it in one rename only when every step (INT8 included) succeeded. A failed or killed
export leaves the previous deploy dir exactly as it was.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from b2v_edge.common.deploydir import STATE_DIR
from b2v_edge.common.manifest import MANIFEST_NAME, Artifact, Manifest, ManifestError, sha256_file
from b2v_edge.common.vocab import PRECISIONS
from b2v_edge.common.vocab import precision as vocab_precision

from .constants import ExportError

ONNX_NAMES = {p.name: p.onnx_name for p in PRECISIONS.values()}
TOOLS = ("torch", "onnx", "onnxscript", "onnxruntime", "onnxsim", "onnxconverter-common", "nvidia-modelopt", "b2v-edge")
# Keys of the manifest that identify *which* model an artifact belongs to: if any differs from an
# existing deploy dir, that dir's other artifacts are stale and are removed.
IDENTITY_KEYS = ("checkpoint_sha256", "shape", "warp", "opset", "target")


def plan_name(precision: str) -> str:
    """Fixed plan file name, ``model.<precision>.plan``."""
    return vocab_precision(precision).plan_name


def tool_versions() -> Dict[str, str]:
    """Installed versions of the tools that shaped the artifacts (missing ones omitted)."""
    out = {}
    for dist in TOOLS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


@contextlib.contextmanager
def out_dir_guard(out_dir: Path) -> Iterator[Path]:
    """Create ``out_dir`` and prove it is writable; remove it again if it was created and stays empty.

    Raises:
        ExportError: ``out_dir`` is a file or not writable.
    """
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} exists and is not a directory")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ExportError(
            f"output directory {out} is not writable ({exc.strerror or exc}); choose another --out"
        ) from exc
    try:
        yield out
    except BaseException:
        if created and all(p.name == STATE_DIR for p in out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # nothing but the (unlocked) writer state
        raise


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A hidden temporary folder inside ``out_dir`` (same filesystem: publishing is a rename)."""
    path = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def publish(staged: Sequence[Path], out_dir: Path) -> None:
    """Move staged files into ``out_dir`` (atomic renames), readable like normal files."""
    umask = os.umask(0)
    os.umask(umask)
    for path in staged:
        os.chmod(path, 0o666 & ~umask)
        os.replace(path, Path(out_dir) / path.name)


def load_or_new(out_dir: Path) -> Manifest:
    """The deploy dir's manifest, or a new empty one (a corrupt manifest is an error, not overwritten)."""
    if (Path(out_dir) / MANIFEST_NAME).exists():
        try:
            return Manifest.load(out_dir)
        except ManifestError as exc:
            raise ExportError(f"{exc}; remove it or export into an empty --out") from exc
    return Manifest(root=Path(out_dir))


def identity(manifest: Manifest) -> Dict[str, Any]:
    """What makes two exports the same model: checkpoint, input shape, warp, opset, target."""
    fp32 = next((a for a in manifest.artifacts if a.path == ONNX_NAMES["fp32"]), None)
    return {
        "checkpoint_sha256": manifest.model.get("checkpoint_sha256"),
        "shape": manifest.input.get("shape"),
        "warp": fp32.warp if fp32 else None,
        "opset": fp32.opset if fp32 else None,
        "target": fp32.target if fp32 else None,
    }


def drop_stale(manifest: Manifest, new_identity: Dict[str, Any], keep_paths: Sequence[str]) -> List[str]:
    """Remove artifacts of another model (and plans of a changed source) from the manifest and disk.

    Args:
        manifest: the existing manifest (edited in place).
        new_identity: :func:`identity` of the export being published.
        keep_paths: artifact paths about to be (re)written.

    Returns:
        One message per removed artifact.
    """
    if not manifest.artifacts:
        return []
    old = identity(manifest)
    changed = [k for k in IDENTITY_KEYS if old.get(k) != new_identity.get(k)]
    messages = []
    for art in list(manifest.artifacts):
        if art.path in keep_paths:
            continue
        if changed:
            reason = f"{', '.join(changed)} changed"
        elif art.kind == "tensorrt_plan":
            reason = "its source graph was re-exported"
        else:
            continue
        manifest.artifacts.remove(art)
        with contextlib.suppress(FileNotFoundError):
            manifest.resolve(art.path, f"artifact {art.path!r}", follow=False).unlink()
        messages.append(f"removed stale {art.path} ({reason})")
    return messages


def io_sections(
    io: Tuple[Dict[str, Any], Dict[str, Any]], dynamic: bool, align: int, opt_shape: Sequence[int]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Manifest ``input``/``output`` sections: I/O spec plus the preprocessing contract."""
    inp, out = dict(io[0]), dict(io[1])
    inp.update(
        layout="NCHW",
        color="RGB",
        range=[0, 1],
        dynamic=dynamic,
        opt_shape=list(opt_shape),
        pad_multiple=align if dynamic else 1,
        note=(
            "H and W must be multiples of pad_multiple (edge-pad, crop the output back)"
            if dynamic
            else "fixed size: letterbox or resize frames to H x W"
        ),
    )
    out.update(layout="NTCHW", range=[0, 1])
    return inp, out


def onnx_artifact(path: Path, precision: str, warp: str, opset: int, target: str, extra: Dict[str, Any]) -> Artifact:
    """Manifest entry of an ONNX file already published in the deploy dir."""
    return Artifact(
        path=path.name,
        kind="onnx",
        precision=precision,
        sha256=sha256_file(path),
        warp=warp,
        opset=opset,
        target=target,
        extra=extra,
    )


def find_artifact(manifest: Manifest, path: str) -> Optional[Artifact]:
    """The manifest entry for ``path`` (relative to the deploy dir), if any."""
    return next((a for a in manifest.artifacts if a.path == path), None)
