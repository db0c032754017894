"""`b2v-edge bench`: speed, memory and accuracy of every way to run the model, in one table.

Rows (per input size): PyTorch eager (the exported checkpoint), each ONNX artifact through ONNX
Runtime (fp32 / fp16 / int8), the fp32 graph through OpenVINO (f32; skipped with the reason when
the ``[openvino]`` extra is missing), TensorRT plans when TensorRT is importable, and — for the warp
comparison — the fp32 graph with the other warp variant (``gather`` vs ``native``), exported to a
temporary folder with the same export pipeline.

Method: every row runs in its own process (``isolate=True``; spawn), kept open for the whole bench,
so that its peak resident memory (``VmHWM``) is its own and rows do not share caches. Each row is
opened once (accuracy outputs, then ``warmup`` untimed runs); then ``settle_rounds`` untimed and
``rounds`` timed interleaved rounds each run every row ``runs / rounds`` times on one batch-1 input,
the row order rotating from round to round, so a slow phase of the machine hits every row alike
instead of one. The untimed round is there because opening the rows disturbs the ones opened before
them: measured on a 2-core VM, PyTorch eager ran about 2x slower for a second or two after another
row's process had opened, though that process used no CPU by then. Within a round each row's first
``slot_warmup`` runs are untimed too: the rows timed before it have evicted its data from the caches
(its first run in a round was 2-10 % slower than the rest), and a camera stream runs one model
back to back. Every row uses the same fixed thread count (``threads``, default: every core this process may use; one inter-op
thread). A row reports the median latency, the p10-p90 range, and how precisely its median is
known: the half-width of the median's distribution-free 95 % confidence interval, relative to the
median (:func:`~b2v_edge.verify.bench_report.median_ci`; its per-round medians are kept in the JSON
too, to show drift). A row whose median is known less precisely than :data:`MAX_UNCERTAINTY` is
flagged unstable and no speed ratio is computed from it: rerun with more runs or on an idle
machine. ONNX Runtime rows stop spinning when a run ends (``session.force_spinning_stop``), so an
idle row's worker threads do not slow the row timed after it. No goals are judged here: the ratios
are measurements. Accuracy comes from ``samples`` test inputs: PSNR vs
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
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.manifest import Manifest
from b2v_edge.common.metrics import psnr, sequence_scores

from .bench_measure import IsolationError, Job, RowSession, TorchEngine, measure_gemm, model_gflops
from .bench_report import (
    MAX_UNCERTAINTY,
    BenchError,
    BenchOptions,
    BenchReport,
    BenchRow,
    Ratio,
    parse_sizes,
    ratios,
)
from .data import load_exported_checkpoint, load_samples
from .environment import environment_info
from .results import ParitySample

__all__ = [
    "MAX_UNCERTAINTY",
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

STREAM_SIZE = (480, 640)  # (h, w) of the stream test video: a VGA camera
#: ``progress(message, done, total)``: ``done`` of ``total`` steps (row openings and row rounds).
Progress = Callable[[str, int, int], None]
#: Exports ``checkpoint``'s fp32 graph with ``warp`` at ``size`` (H, W) into ``out_dir`` for ``target`` and
#: returns that deploy dir's manifest: :func:`b2v_edge.export.api.export_variant`, passed in by the caller
#: (verify sits below export and does not import it).
VariantExporter = Callable[[str, Path, Tuple[int, int], str, str], Manifest]


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
        if art.kind == "onnx" and art.precision == "fp32":
            rows.append(_openvino_row(row, path))
    return rows


def _openvino_row(ort_row: BenchRow, path: str) -> Planned:
    """The fp32 graph once more, through OpenVINO at f32 (skipped when it is not installed)."""
    from b2v_edge.runtime.engines.openvino import available

    row = BenchRow("OpenVINO fp32", "openvino", "fp32", ort_row.warp, ort_row.size, path, ort_row.file_mb)
    row.skipped = ort_row.skipped or (
        "" if available() else "OpenVINO is not installed: pip install 'b2v-edge[openvino]'"
    )
    return row, None if row.skipped else path


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


def _fill(row: BenchRow, finished: Dict[str, Any], gflops: float, gemm: float) -> None:
    row.peak_mb, row.stream_fps = finished["peak_mb"], finished["stream_fps"]
    if row.median_ms:
        row.gflops_per_s = gflops / (row.median_ms / 1000.0)
        row.ceiling_fraction = row.gflops_per_s / gemm if gemm > 0 else None


def _failed(exc: BaseException) -> str:
    return f"failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]}"


Opened = Tuple[BenchRow, RowSession, List[np.ndarray]]


def _open_rows(plan: List[Tuple[BenchRow, Job]], options: BenchOptions, say: Progress, total: int) -> List[Opened]:
    """Start every row's session (accuracy outputs + warm-up); a row that fails is marked, not raised."""
    opened = []
    for i, (row, job) in enumerate(plan):
        say(f"opening {row.label} at {row.size[0]}x{row.size[1]} ({options.warmup} warm-up runs)", i, total)
        session = None
        try:
            session = RowSession(job, options.isolate)
            started = session.start()
        except IsolationError:
            raise
        except Exception as exc:  # one broken row must not hide the others: record it in the table
            row.skipped = _failed(exc)
            if session is not None:
                session.close()
            continue
        row.provider = started["provider"]
        opened.append((row, session, started["outputs"]))
    return opened


def _time_rounds(opened: List[Opened], options: BenchOptions, say: Progress, done: int, total: int) -> None:
    """``options.settle_rounds`` untimed rounds, then ``options.rounds`` timed ones; each runs every live
    row ``runs / rounds`` times after ``slot_warmup`` untimed runs, the order rotating (the timed rounds
    start where the settling ones stopped)."""
    per_round = options.runs_per_round
    live = list(opened)
    for r in range(options.settle_rounds + options.rounds):
        timed = r - options.settle_rounds
        shift = r % max(1, len(live))
        for row, session, _ in live[shift:] + live[:shift]:
            where = f"{row.label} at {row.size[0]}x{row.size[1]}"
            say(
                f"round {timed + 1}/{options.rounds}: {where}" if timed >= 0 else f"settling round: {where}",
                done,
                total,
            )
            try:
                times = session.time(options.slot_warmup + per_round)[options.slot_warmup :]
            except Exception as exc:
                row.skipped = _failed(exc)
                continue
            finally:
                done += 1
            if timed >= 0:
                row.latencies_ms += times
                row.round_medians_ms.append(float(np.median(times)))
        live = [entry for entry in live if not entry[0].skipped]


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
        say(f"exporting the other warp variant at {size[0]}x{size[1]} (fp32)", 0, 1)
        plan.append((*_warp_variant(manifest, str(ckpt.path), size, tmp, notes, exporter), False))
    jobs = [
        (
            row,
            Job(
                row.kind,
                path,
                size,
                inputs,
                options.runs,
                options.warmup,
                options.threads,
                video if stream else None,
                options.stream_frames,
            ),
        )
        for row, path, stream in plan
        if path is not None
    ]
    total = len(jobs) * (1 + options.settle_rounds + options.rounds)
    opened = _open_rows(jobs, options, say, total)
    try:
        _time_rounds(opened, options, say, len(jobs), total)
    finally:
        finished = {}
        for row, session, _ in opened:
            try:
                finished[id(row)] = session.finish()
            except Exception as exc:
                row.skipped = row.skipped or _failed(exc)
    say(f"{size[0]}x{size[1]} measured", total, total)
    ref = next((outputs for row, _, outputs in opened if row.kind == "torch"), None)
    for row, _, outputs in opened:
        if row.skipped:
            continue
        _fill(row, finished[id(row)], gflops, gemm)
        row.psnr_gt, row.psnr_torch = _accuracy(outputs, samples, None if row.kind == "torch" else ref)
    return [row for row, _, _ in plan], gflops


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
    """Measure every row at every size in interleaved rounds; see the module docstring for the method.

    ``export_variant`` makes the other-warp row (``options.warp_compare``); without it that row is skipped.

    Raises:
        ParityError: unusable reference checkpoint or data (or no torch). ManifestError: no usable manifest.
    """
    say = progress or (lambda _msg, _done, _total: None)
    busy = _busy_note()
    manifest = Manifest.load(options.deploy_dir)
    ckpt, _, notes = load_exported_checkpoint(manifest, options.checkpoint)
    sizes = options.sizes or (_static_size(manifest) or (256, 256),)
    say(f"measuring the fp32 GEMM ceiling ({options.gemm_size}x{options.gemm_size} matmul)", 0, 1)
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
    notes.insert(
        0,
        f"{options.rounds} interleaved rounds x {options.runs_per_round} timed runs per row after {options.warmup} warm-up runs "
        f"and {options.settle_rounds} untimed round(s), each row's first {options.slot_warmup} run(s) per round untimed; "
        f"{options.threads} intra-op thread(s) per row",
    )
    notes += [
        f"{r.label} at {r.size[0]}x{r.size[1]} is unstable: the 95 % confidence interval of its median is "
        f"+-{100 * r.uncertainty:.0f} % (more than +-{100 * MAX_UNCERTAINTY:.1f} %): no ratio uses it"
        for r in rows
        if r.unstable
    ]
    if not options.isolate:
        notes.append("rows ran in one process: peak RSS includes earlier rows and the parent")
    notes += [n for n in (busy, _busy_note()) if n][:1]
    providers = {
        {"torch": "pytorch", "tensorrt_plan": "tensorrt", "openvino": "openvino"}.get(r.kind, "onnxruntime"): r.provider
        for r in rows
        if r.provider
    }
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    return BenchReport(
        rows, gflops, gemm, options.gemm_size, ratios(rows, sizes[0]), environment_info(providers), notes, opts
    )
