"""What runs inside one bench row: its engine (or PyTorch), kept open for interleaved timing rounds.

A :class:`RowSession` opens a row once — accuracy outputs, then warm-up runs — and then times
``runs`` inferences whenever :mod:`b2v_edge.verify.bench` asks, round after round, so every row is
measured in every phase of the benchmark instead of one after another. With ``isolate`` the row
lives in its own spawned process (its peak resident memory is its own; it imports only this
module, numpy and the runtime, plus torch for the PyTorch row) and waits, idle, between requests.

Threads are fixed per row: the intra-op thread count given (torch and ONNX Runtime alike) and one
inter-op thread, so rows compare like with like and nothing oversubscribes the cores.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from b2v_edge.common.errors import B2VError
from b2v_edge.runtime.engines import Engine, EngineSpec

from .data import torch_threads

__all__ = [
    "IsolationError",
    "Job",
    "RowSession",
    "TorchEngine",
    "available_cores",
    "measure_gemm",
    "measure_row",
    "model_gflops",
]


def available_cores() -> int:
    """CPU cores this process may run on (the default, fixed, thread count of a bench)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class TorchEngine(Engine):
    """The PyTorch checkpoint behind the runtime :class:`Engine` interface (eager, inference mode).

    Args:
        checkpoint: the ``.pt`` file. size: ``(H, W)`` of the input.
        threads: torch intra-op threads (None = leave torch's); inter-op threads are set to 1 when
            this process has not run parallel work yet.
    """

    def __init__(self, checkpoint: str, size: Tuple[int, int], threads: Optional[int] = None) -> None:
        import torch

        from b2v_edge.checkpoint import load_checkpoint

        self._threads_before = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:  # only allowed before the first parallel region of a process
                pass
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
    """Everything one row needs (picklable for the spawned process).

    Attributes:
        kind: ``torch``, ``onnx``, ``openvino`` (the fp32 ONNX graph on OpenVINO) or ``tensorrt_plan``.
            path: checkpoint or artifact.
        size: ``(H, W)``. inputs: ``float32 [S, 3, H, W]`` accuracy inputs (the first is timed).
        runs: timed runs (``measure_row`` only; sessions get them per round). warmup: untimed runs.
        threads: fixed intra-op threads. video / stream_frames: the stream measurement (or None / 0).
    """

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

    backend = {"tensorrt_plan": "tensorrt", "openvino": "openvino"}.get(job.kind, "onnxruntime")
    return open_engine(job.path, backend, threads=job.threads)


class _Row:
    """The in-process half of a session: the open engine and its measurements."""

    def __init__(self, job: Job) -> None:
        _reset_peak()
        self.job = job
        self.engine = _open(job)
        self._x = np.ascontiguousarray(job.inputs[:1])

    def start(self) -> Dict[str, Any]:
        outputs = [self.engine.infer(x[None], check_finite=False)[0] for x in self.job.inputs]
        for _ in range(self.job.warmup):
            self.engine.infer(self._x, check_finite=False)
        return {"outputs": outputs, "provider": self.engine.spec.provider}

    def time(self, runs: int) -> List[float]:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self.engine.infer(self._x, check_finite=False)
            times.append(1000.0 * (time.perf_counter() - t0))
        return times

    def finish(self) -> Dict[str, Any]:
        """Peak memory (before the stream run), then stream FPS; closes the engine."""
        peak = _peak_mb()
        job = self.job
        try:
            stream = _stream_fps(self.engine, job) if job.video and job.stream_frames else None
        finally:
            self.engine.close()
        return {"peak_mb": peak, "stream_fps": stream}


def _stream_fps(engine: Engine, job: Job) -> float:
    from b2v_edge.runtime.options import RunOptions
    from b2v_edge.runtime.pipeline import run

    options = RunOptions(model=job.path, source=str(job.video), headless=True, max_frames=job.stream_frames)
    return float(run(options, engine=engine).stream_fps)


def _serve(conn: Any, job: Job) -> None:
    """Body of an isolated row process: answer ``(method, args)`` requests until ``finish``."""
    row: Optional[_Row] = None
    while True:
        try:
            method, args = conn.recv()
        except EOFError:  # the parent closed the session without ``finish``: nothing left to answer
            if row is not None:
                row.engine.close()
            return
        try:
            if row is None:
                row = _Row(job)
            result = getattr(row, method)(*args)
            conn.send(("ok", result))
        except Exception as exc:  # reported to the parent as one line
            conn.send(("error", (str(exc).strip().splitlines() or [type(exc).__name__])[0]))
        if method == "finish":
            conn.close()
            return


class IsolationError(B2VError, RuntimeError):
    """A fresh row process could not start (the caller's script lacks a ``__main__`` guard)."""


class RowSession:
    """One bench row kept open across timing rounds, in this process or a spawned one.

    Use: :meth:`start` (accuracy outputs + warm-up), :meth:`time` once per round, :meth:`finish`
    (peak memory, stream FPS, close). Any call raises ``RuntimeError`` with the row's own one-line
    error when the engine fails.
    """

    def __init__(self, job: Job, isolate: bool) -> None:
        self.job, self.isolate = job, isolate
        self._row: Optional[_Row] = None
        self._conn: Any = None
        self._proc: Any = None
        if isolate:
            ctx = multiprocessing.get_context("spawn")
            self._conn, child = ctx.Pipe()
            self._proc = ctx.Process(target=_serve, args=(child, job), daemon=True)
            try:
                self._proc.start()
            except RuntimeError as exc:
                if "bootstrapping phase" in str(exc):
                    raise IsolationError(
                        "bench runs each row in a fresh process: guard the calling script with "
                        "`if __name__ == '__main__':`, or pass isolate=False"
                    ) from exc
                raise
            child.close()

    def _call(self, method: str, *args: Any) -> Any:
        if not self.isolate:
            if self._row is None:
                self._row = _Row(self.job)
            return getattr(self._row, method)(*args)
        try:
            self._conn.send((method, args))
            reply = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the row process ended unexpectedly ({type(exc).__name__})") from None
        if reply[0] == "error":
            raise RuntimeError(reply[1])
        return reply[1]

    def start(self) -> Dict[str, Any]:
        """Open the engine, compute the accuracy outputs, warm up: ``{"outputs", "provider"}``."""
        return self._call("start")

    def time(self, runs: int) -> List[float]:
        """``runs`` timed inferences of the first input, in ms."""
        return self._call("time", runs)

    def finish(self) -> Dict[str, Any]:
        """``{"peak_mb", "stream_fps"}``; the row is closed afterwards."""
        try:
            return self._call("finish")
        finally:
            self.close()

    def close(self) -> None:
        """Release the row (idempotent); ends its process."""
        if self._proc is not None:
            self._conn.close()
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)
            self._proc = None
        elif self._row is not None:
            self._row.engine.close()
            self._row = None


def measure_row(job: Job) -> Dict[str, Any]:
    """One row in this process, not interleaved: accuracy outputs, ``job.runs`` timed runs, peak, stream."""
    session = RowSession(job, isolate=False)
    result = session.start()
    result["latencies_ms"] = session.time(job.runs)
    result.update(session.finish())
    return result


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
