"""One measured row, in its own process, driven over stdin/stdout (run through ``bench/launch.py``).

Usage: ``python bench/launch.py ROOT bench/worker.py KIND PATH THREADS``, KIND one of

* ``torch``: the checkpoint at PATH, eager, ``inference_mode``, one ``[1,3,256,256]`` input;
* ``train``: one training step of the checkpoint's model (forward, L1 loss, backward, Adam step)
  on a ``[8,3,96,96]`` batch (the ``train`` defaults: batch 8, crop 96);
* ``ort`` / ``openvino``: the ONNX graph at PATH through this tree's runtime engine (fp32).

After opening and warming up it prints one JSON line (``{"ready": true, ...}``); then each input
line ``N`` is answered with a JSON list of N latencies in ms, and ``quit`` ends it.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

WARMUP = 3


def _torch_row(path: str, threads: int, train: bool):
    import torch

    from b2v_edge.checkpoint import load_checkpoint

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    model = load_checkpoint(path).model
    info = {"frames": model.frames if hasattr(model, "frames") else None}
    if not train:
        from torch.utils.flop_counter import FlopCounterMode

        model.eval()
        x = torch.rand(1, 3, 256, 256)
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(x)
        info["gflops"] = counter.get_total_flops() / 1e9

        def step():
            with torch.inference_mode():
                model(x)

        return step, info
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(8, 3, 96, 96)
    target = None

    def train_step():
        nonlocal target
        out = model(x)
        if target is None:
            target = torch.rand_like(out)
        loss = (out - target).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    info["params"] = sum(p.numel() for p in model.parameters())
    return train_step, info


def _engine_row(kind: str, path: str, threads: int):
    from b2v_edge.runtime import open_engine

    engine = open_engine(path, "onnxruntime" if kind == "ort" else "openvino", "fp32", threads=threads)
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    return (lambda: engine.infer(x, check_finite=False)), {"provider": engine.spec.provider}


def main() -> None:
    kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind in ("torch", "train"):
        step, info = _torch_row(path, threads, kind == "train")
    else:
        step, info = _engine_row(kind, path, threads)
    for _ in range(WARMUP):
        step()
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        times = []
        for _ in range(int(line)):
            t0 = time.perf_counter()
            step()
            times.append(1000.0 * (time.perf_counter() - t0))
        print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main()
