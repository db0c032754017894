"""What runs inside one bench row's process: the engine (or PyTorch), timing, peak memory, stream FPS.

Kept apart from :mod:`b2v_edge.verify.bench` so a spawned row process imports only this module,
numpy and the runtime (plus torch for the PyTorch row): its peak resident memory is the row's own.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from b2v_edge.common.errors import B2VError
from b2v_edge.runtime.engines import Engine, EngineSpec

from .data import torch_threads

__all__ = ["IsolationError", "Job", "TorchEngine", "measure_gemm", "measure_row", "model_gflops", "run_job"]


class TorchEngine(Engine):
    """The PyTorch checkpoint behind the runtime :class:`Engine` interface (eager, inference mode)."""

    def __init__(self, checkpoint: str, size: Tuple[int, int], threads: Optional[int] = None) -> None:
        import torch

        from b2v_edge.checkpoint import load_checkpoint

        self._threads_before = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        ckpt = load_checkpoint(checkpoint)
        self.model, n, (h, w) = ckpt.model.eval(), ckpt.config.frames, size
        super().__init__(
            EngineSpec(
                "blurred", (1, 3, h, w), "frames", (1, n, 3, h, w), "fp32", n, "pytorch", "eager", Path(str(ckpt.path))
            )
        )

    def _infer_impl(self, blurred: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(blurred)).numpy()

    def close(self) -> None:
        """Restore torch's thread count (this engine may have changed it)."""
        import torch

        torch.set_num_threads(self._threads_before)
        super().close()


@dataclass
class Job:
    """Everything one row's measurement needs (picklable for the spawned process)."""

    kind: str
    path: str
    size: Tuple[int, int]
    inputs: np.ndarray
    runs: int
    warmup: int
    threads: Optional[int]
    video: Optional[str]
    stream_frames: int


def _reset_peak() -> None:
    try:  # Linux >= 4.0: "5" resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mb() -> Optional[float]:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except ImportError:  # pragma: no cover - non-POSIX
        return None


def _open(job: Job) -> Engine:
    if job.kind == "torch":
        return TorchEngine(job.path, job.size, job.threads)
    from b2v_edge.runtime import open_engine

    return open_engine(job.path, "tensorrt" if job.kind == "tensorrt_plan" else "onnxruntime", threads=job.threads)


def measure_row(job: Job) -> Dict[str, Any]:
    """Open the row's engine, collect accuracy outputs, time it, run the stream; returns a dict."""
    _reset_peak()
    with _open(job) as engine:
        outputs = [engine.infer(x[None], check_finite=False)[0] for x in job.inputs]
        x = np.ascontiguousarray(job.inputs[:1])
        for _ in range(job.warmup):
            engine.infer(x, check_finite=False)
        times = []
        for _ in range(job.runs):
            t0 = time.perf_counter()
            engine.infer(x, check_finite=False)
            times.append(1000.0 * (time.perf_counter() - t0))
        peak = _peak_mb()
        stream = _stream_fps(engine, job) if job.video and job.stream_frames else None
    return {
        "outputs": outputs,
        "latencies_ms": times,
        "peak_mb": peak,
        "provider": engine.spec.provider,
        "stream_fps": stream,
    }


def _stream_fps(engine: Engine, job: Job) -> float:
    from b2v_edge.runtime.options import RunOptions
    from b2v_edge.runtime.pipeline import run

    options = RunOptions(model=job.path, source=str(job.video), headless=True, max_frames=job.stream_frames)
    return float(run(options, engine=engine).stream_fps)


class IsolationError(B2VError, RuntimeError):
    """A fresh row process could not start (the caller's script lacks a ``__main__`` guard)."""


def run_job(job: Job, isolate: bool) -> Dict[str, Any]:
    """:func:`measure_row` in a fresh spawned process (``isolate``) or in this one."""
    if not isolate:
        return measure_row(job)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(measure_row, (job,))
    except RuntimeError as exc:
        if "bootstrapping phase" in str(exc):
            raise IsolationError(
                "bench runs each row in a fresh process: guard the calling script with "
                "`if __name__ == '__main__':`, or pass isolate=False"
            ) from exc
        raise


def measure_gemm(size: int = 2048, repeats: int = 5, threads: Optional[int] = None) -> float:
    """fp32 GFLOP/s of a ``size``² torch matmul on this CPU (median of ``repeats`` after a warm-up).

    Args:
        size: matrix side. repeats: timed matmuls. threads: torch intra-op threads (None = default).
    """
    import torch

    with torch_threads(threads):
        a, b = torch.rand(size, size), torch.rand(size, size)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t0)
    return 2.0 * size**3 / float(np.median(times)) / 1e9


def model_gflops(model: Any, size: Tuple[int, int], threads: Optional[int] = None) -> float:
    """GFLOPs of one batch-1 forward pass (``torch.utils.flop_counter``; a multiply-add = 2 FLOPs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch_threads(threads), FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.rand(1, 3, *size))
    return counter.get_total_flops() / 1e9
