"""Inference engines: the :class:`Engine` interface (:mod:`.base`) and its backends.

* :mod:`.base` — ``Engine``, ``EngineSpec``, ``EngineError``: the interface and its checks;
* :mod:`.ort` — ONNX Runtime (TensorRT EP → CUDA EP → CPU);
* :mod:`.trt` — TensorRT plans (8.x bindings, 10.x/11.x named tensors);
* :mod:`.cuda` — device / pinned memory and a stream over cuda-python or pycuda;
* :mod:`.selection` — which artifact to run and whether a plan fits this device.

Backends import their heavy modules on use; this package imports only the interface.
:func:`b2v_edge.runtime.open_engine` picks and opens one.
"""

from .base import Engine, EngineError, EngineSpec, NonFiniteOutputError

__all__ = ["Engine", "EngineError", "EngineSpec", "NonFiniteOutputError"]
