"""`b2v-edge bench`: speed, memory and accuracy of every way to run the model, in one table.

Rows (per input size): PyTorch eager (the exported checkpoint), each ONNX artifact through ONNX
Runtime (fp32 / fp16 / int8), TensorRT plans when TensorRT is importable, and — for the warp
comparison — the fp32 graph with the other warp variant (``gather`` vs ``native``), exported to a
temporary folder with the same export pipeline.

Method: every row runs in a fresh process (``isolate=True``; spawn) so that its peak resident memory
(``VmHWM``) is its own and rows do not share caches; ``warmup`` untimed runs, then ``runs`` timed
runs on one batch-1 input (median and p90). Accuracy comes from ``samples`` test inputs: PSNR vs
ground truth (order-aware, mean over frames) and vs the PyTorch row. Model GFLOPs come from
``torch.utils.flop_counter`` (convolutions and matmuls; warps are not counted) and are compared with
this machine's measured fp32 GEMM throughput (a ``gemm_size``² matmul). Stream FPS runs the
runtime pipeline (MJPG 640x480 file → letterbox → infer → postprocess, headless) and is shown next
to pure inference FPS.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.errors import B2VError
from b2v_edge.common.manifest import Manifest
from b2v_edge.common.metrics import psnr, sequence_scores

from .bench_measure import IsolationError, Job, TorchEngine, measure_gemm, model_gflops, run_job
from .compare import ParitySample
from .data import load_exported_checkpoint, load_samples
from .environment import environment_info

__all__ = [
    "BenchError",
    "BenchOptions",
    "BenchReport",
    "BenchRow",
    "IsolationError",
    "Ratio",
    "TorchEngine",
    "measure_gemm",
    "model_gflops",
    "parse_sizes",
    "run_bench",
]

SCHEMA_VERSION = 1
STREAM_SIZE = (480, 640)  # (h, w) of the stream test video: a VGA camera
Progress = Callable[[str], None]
#: Exports ``checkpoint``'s fp32 graph with ``warp`` at ``size`` (H, W) into ``out_dir`` for ``target`` and
#: returns that deploy dir's manifest: :func:`b2v_edge.export.api.export_variant`, passed in by the caller
#: (verify sits below export and does not import it).
VariantExporter = Callable[[str, Path, Tuple[int, int], str, str], Manifest]


class BenchError(B2VError, ValueError):
    """Invalid bench options (one-line message)."""


def parse_sizes(text: str) -> Tuple[Tuple[int, int], ...]:
    """``"256x256,320x480"`` -> ``((256, 256), (320, 480))`` (HxW; empty -> ``()``)."""
    sizes = []
    for part in filter(None, (p.strip().lower() for p in (text or "").split(","))):
        h, sep, w = part.partition("x")
        if not sep or not h.isdigit() or not w.isdigit() or min(int(h), int(w)) < 32:
            raise BenchError(f"--sizes takes HxW pairs (each >= 32) like '256x256,320x480', got {part!r}")
        sizes.append((int(h), int(w)))
    return tuple(sizes)


@dataclass
class BenchOptions:
    """Settings of one bench run, validated on construction.

    Attributes:
        deploy_dir: deploy directory with ``manifest.json``.
        sizes: input sizes ``(H, W)``; empty = the deploy dir's input size. Static artifacts are
            only run at their own size (other sizes: PyTorch and the temporary warp exports).
        runs: timed runs per row. warmup: untimed runs first.
        samples: test inputs for the accuracy columns. data: their source (as in ``parity``).
        stream_frames: frames of the end-to-end stream measurement (0 = skip).
        warp_compare: export and time the other warp variant (fp32).
        isolate: one fresh process per row (honest peak memory); False = in this process.
        threads: torch / ONNX Runtime intra-op threads (None = library default).
        gemm_size: side of the square fp32 matmul that measures the CPU ceiling.
        checkpoint: PyTorch reference (None = the one named in the manifest).
    """

    deploy_dir: Union[str, Path]
    sizes: Tuple[Tuple[int, int], ...] = ()
    runs: int = 20
    warmup: int = 3
    samples: int = 4
    data: str = "synthetic"
    stream_frames: int = 20
    warp_compare: bool = True
    isolate: bool = True
    threads: Optional[int] = None
    gemm_size: int = 2048
    checkpoint: Optional[str] = None

    def __post_init__(self) -> None:
        self.deploy_dir = Path(self.deploy_dir)
        for name, low in (("runs", 1), ("warmup", 0), ("samples", 1), ("stream_frames", 0), ("gemm_size", 64)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BenchError(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")
        if self.threads is not None and self.threads < 0:
            raise BenchError(f"--threads must be >= 0, got {self.threads}")
        self.sizes = tuple((int(h), int(w)) for h, w in self.sizes)


@dataclass
class BenchRow:
    """One row of the table; latencies in ms, sizes in MB, None = not measured."""

    label: str
    kind: str
    precision: str
    warp: str
    size: Tuple[int, int]
    path: str = ""
    file_mb: Optional[float] = None
    provider: str = ""
    latencies_ms: List[float] = field(default_factory=list)
    psnr_gt: Optional[float] = None
    psnr_torch: Optional[float] = None
    peak_mb: Optional[float] = None
    stream_fps: Optional[float] = None
    gflops_per_s: Optional[float] = None
    ceiling_fraction: Optional[float] = None
    skipped: str = ""

    @property
    def median_ms(self) -> Optional[float]:
        return float(np.median(self.latencies_ms)) if self.latencies_ms else None

    @property
    def p90_ms(self) -> Optional[float]:
        return float(np.percentile(self.latencies_ms, 90)) if self.latencies_ms else None

    @property
    def fps(self) -> Optional[float]:
        return 1000.0 / self.median_ms if self.median_ms else None

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d.update(median_ms=self.median_ms, p90_ms=self.p90_ms, fps=self.fps, size=list(self.size))
        return d


@dataclass
class Ratio:
    """A speed ratio with its goal; ``met`` is None when a row is missing."""

    name: str
    value: Optional[float]
    goal: str
    met: Optional[bool]


@dataclass
class BenchReport:
    """Rows plus model GFLOPs per size, the GEMM ceiling and the goal ratios."""

    rows: List[BenchRow]
    gflops: Dict[str, float]
    gemm_gflops: float
    gemm_size: int
    ratios: List[Ratio]
    environment: Dict[str, Any]
    notes: List[str] = field(default_factory=list)
    options: Dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "rows": [r.to_dict() for r in self.rows],
            "gflops": self.gflops,
            "gemm_gflops": self.gemm_gflops,
            "gemm_size": self.gemm_size,
            "ratios": [asdict(r) for r in self.ratios],
            "environment": self.environment,
            "notes": self.notes,
            "options": self.options,
        }


# ---- rows ---------------------------------------------------------------------------------------
def _static_size(manifest: Manifest) -> Optional[Tuple[int, int]]:
    shape = list((manifest.input or {}).get("shape") or [])
    if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[2:]):
        return int(shape[2]), int(shape[3])
    return None


Planned = Tuple[BenchRow, Optional[str]]


def _rows_for(manifest: Manifest, ckpt_path: str, size: Tuple[int, int]) -> List[Planned]:
    """(row, path to run or None when skipped) for PyTorch and every manifest artifact."""
    import importlib.util

    rows = [(BenchRow("PyTorch eager", "torch", "fp32", "-", size, ckpt_path, _mb(ckpt_path)), ckpt_path)]
    static = _static_size(manifest)
    for art in manifest.artifacts:
        path = str(manifest.path_of(art))
        label = f"{'TensorRT' if art.kind == 'tensorrt_plan' else 'ORT'} {art.precision}"
        row = BenchRow(label, art.kind, art.precision, art.warp, size, path, _mb(path))
        if static is not None and static != size:
            row.skipped = f"artifact is static {static[0]}x{static[1]}"
        elif art.kind == "tensorrt_plan" and importlib.util.find_spec("tensorrt") is None:
            row.skipped = "TensorRT is not installed here"
        rows.append((row, None if row.skipped else path))
    return rows


def _mb(path: Union[str, Path]) -> Optional[float]:
    p = Path(path)
    return p.stat().st_size / 1e6 if p.is_file() else None


def _warp_variant(
    manifest: Manifest,
    ckpt_path: str,
    size: Tuple[int, int],
    tmp: Path,
    notes: List[str],
    exporter: Optional[VariantExporter],
) -> Planned:
    """Export fp32 with the warp the fp32 artifact does not use into ``tmp`` (``exporter``)."""
    art = manifest.find("onnx", "fp32")[-1]
    other = "native" if art.warp == "gather" else "gather"
    row = BenchRow(f"ORT fp32 ({other} warp)", "onnx", "fp32", other, size)
    if exporter is None:
        row.skipped = "no exporter given (run_bench(..., export_variant=b2v_edge.export.api.export_variant))"
        return row, None
    out_dir = tmp / f"{other}-{size[0]}x{size[1]}"
    try:
        made_manifest = exporter(ckpt_path, out_dir, size, other, art.target or "onnxruntime")
    except (ValueError, RuntimeError) as exc:
        row.skipped = f"export of the {other} warp failed: {str(exc).splitlines()[0][:120]}"
        return row, None
    made = made_manifest.get("onnx", "fp32")
    row.path, row.file_mb = str(made_manifest.path_of(made)), _mb(made_manifest.path_of(made))
    if (made.opset, made.target) != (art.opset, art.target):
        notes.append(
            f"warp comparison: {art.path} is {art.warp}/opset {art.opset} ({art.target}); the {other} variant "
            f"was exported for {made.target} at opset {made.opset}"
        )
    return row, row.path


# ---- the run ------------------------------------------------------------------------------------
def _stream_video(samples: Sequence[ParitySample], frames: int, folder: Path) -> str:
    """An MJPG 640x480 clip of the (upscaled) test inputs: the stream a camera would deliver."""
    import cv2

    path = folder / "stream.avi"
    h, w = STREAM_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for i in range(frames):
        rgb = (np.clip(samples[i % len(samples)].blurred, 0, 1) * 255 + 0.5).astype(np.uint8)
        writer.write(cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), (w, h), interpolation=cv2.INTER_LINEAR))
    writer.release()
    return str(path)


def _accuracy(
    outputs: Sequence[np.ndarray], samples: Sequence[ParitySample], ref: Optional[Sequence[np.ndarray]]
) -> Tuple[Optional[float], Optional[float]]:
    """(mean PSNR vs GT, order-aware; mean PSNR vs the PyTorch outputs); outputs are ``[N,3,H,W]``."""
    gt = [
        float(np.mean(sequence_scores(o.transpose(0, 2, 3, 1), s.frames, with_ssim=False).psnr))
        for o, s in zip(outputs, samples)
        if s.frames is not None
    ]
    vs_ref = [psnr(o[k], r[k]) for o, r in zip(outputs, ref or []) for k in range(len(o))]
    return (float(np.mean(gt)) if gt else None), (float(np.mean(vs_ref)) if vs_ref else None)


def _fill(row: BenchRow, res: Dict[str, Any], gflops: float, gemm: float) -> None:
    row.latencies_ms, row.peak_mb, row.provider = res["latencies_ms"], res["peak_mb"], res["provider"]
    row.stream_fps = res["stream_fps"]
    if row.median_ms:
        row.gflops_per_s = gflops / (row.median_ms / 1000.0)
        row.ceiling_fraction = row.gflops_per_s / gemm if gemm > 0 else None


def _bench_size(
    manifest: Manifest,
    ckpt: Any,
    size: Tuple[int, int],
    options: BenchOptions,
    tmp: Path,
    gemm: float,
    say: Progress,
    notes: List[str],
    exporter: Optional[VariantExporter] = None,
) -> Tuple[List[BenchRow], float]:
    gflops = model_gflops(ckpt.model, size, options.threads)
    samples, _ = load_samples(options.data, ckpt.config.frames, size, options.samples, command="bench")
    inputs = np.stack([s.blurred.transpose(2, 0, 1) for s in samples]).astype(np.float32)
    video = _stream_video(samples, options.stream_frames, tmp) if options.stream_frames else None
    plan = [(row, path, True) for row, path in _rows_for(manifest, str(ckpt.path), size)]
    if options.warp_compare and manifest.find("onnx", "fp32"):
        say(f"exporting the other warp variant at {size[0]}x{size[1]} (fp32)")
        plan.append((*_warp_variant(manifest, str(ckpt.path), size, tmp, notes, exporter), False))
    ref = None
    for row, path, stream in plan:
        if path is None:
            continue
        say(f"{row.label} at {size[0]}x{size[1]}: {options.warmup} warm-up + {options.runs} runs")
        job = Job(
            row.kind,
            path,
            size,
            inputs,
            options.runs,
            options.warmup,
            options.threads,
            video if stream else None,
            options.stream_frames,
        )
        try:
            res = run_job(job, options.isolate)
        except IsolationError:
            raise
        except Exception as exc:  # one broken row must not hide the others: record it in the table
            row.skipped = f"failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]}"
            continue
        _fill(row, res, gflops, gemm)
        ref = res["outputs"] if row.kind == "torch" else ref
        row.psnr_gt, row.psnr_torch = _accuracy(res["outputs"], samples, None if row.kind == "torch" else ref)
    return [row for row, _, _ in plan], gflops


def _ratios(rows: Sequence[BenchRow], size: Tuple[int, int]) -> List[Ratio]:
    def ms(pred: Callable[[BenchRow], bool]) -> Optional[float]:
        found = [r.median_ms for r in rows if r.size == size and r.median_ms and pred(r)]
        return found[0] if found else None

    torch_ms = ms(lambda r: r.kind == "torch")
    fp32, int8 = ms(lambda r: r.label == "ORT fp32"), ms(lambda r: r.label == "ORT int8")
    fp32_rows = lambda w: ms(lambda r: r.kind == "onnx" and r.precision == "fp32" and r.warp == w)  # noqa: E731
    gather, native = fp32_rows("gather"), fp32_rows("native")
    out = []
    for name, num, den, goal, higher in (
        ("ORT fp32 speed-up over PyTorch eager", torch_ms, fp32, 2.0, True),
        ("ORT int8 speed-up over ORT fp32", fp32, int8, 1.3, True),
        ("gather / native warp latency (ORT fp32)", gather, native, 1.2, False),
    ):
        value = num / den if num and den else None
        met = None if value is None else (value >= goal if higher else value <= goal)
        out.append(Ratio(name, value, f"{'≥' if higher else '≤'} {goal}", met))
    return out


def _busy_note() -> str:
    """A note when other work competes for the cores (load average above the core count)."""
    if not hasattr(os, "getloadavg"):
        return ""
    load, cores = (
        os.getloadavg()[0],
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    )
    if cores and load > cores:
        return f"the machine was busy (load average {load:.1f} on {cores} cores): latencies are pessimistic"
    return ""


def run_bench(
    options: BenchOptions, progress: Optional[Progress] = None, export_variant: Optional[VariantExporter] = None
) -> BenchReport:
    """Measure every row at every size; see the module docstring for the method.

    ``export_variant`` makes the other-warp row (``options.warp_compare``); without it that row is skipped.

    Raises:
        ParityError: unusable reference checkpoint or data (or no torch). ManifestError: no usable manifest.
    """
    say = progress or (lambda _msg: None)
    busy = _busy_note()
    manifest = Manifest.load(options.deploy_dir)
    ckpt, _, notes = load_exported_checkpoint(manifest, options.checkpoint)
    sizes = options.sizes or (_static_size(manifest) or (256, 256),)
    say(f"measuring the fp32 GEMM ceiling ({options.gemm_size}x{options.gemm_size} matmul)")
    gemm = measure_gemm(options.gemm_size, threads=options.threads)
    rows: List[BenchRow] = []
    gflops: Dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="b2v-bench-"))
    try:
        for size in sizes:
            size_rows, gflops[f"{size[0]}x{size[1]}"] = _bench_size(
                manifest, ckpt, size, options, tmp, gemm, say, notes, export_variant
            )
            rows += size_rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not options.isolate:
        notes.append("rows ran in one process: peak RSS includes earlier rows and the parent")
    notes += [n for n in (busy, _busy_note()) if n][:1]
    providers = {
        ("pytorch" if r.kind == "torch" else "tensorrt" if r.kind == "tensorrt_plan" else "onnxruntime"): r.provider
        for r in rows
        if r.provider
    }
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    return BenchReport(
        rows, gflops, gemm, options.gemm_size, _ratios(rows, sizes[0]), environment_info(providers), notes, opts
    )
