"""b2v_edge.runtime: the torch-free deploy side — engines, sources, pipeline, preview.

Needs only numpy, OpenCV and ONNX Runtime (TensorRT and a CUDA binding when running plans; they are
imported on use). Nothing here imports torch: a test enforces it.

Typical use::

    from b2v_edge.runtime import open_engine, open_source, preprocess, postprocess

    with open_engine("deploy") as engine, open_source("0") as source:
        for frame, t in source:
            x, mapping = preprocess(frame, engine.spec.size)
            sharp_frames = postprocess(engine.infer(x)[0], mapping)

or the whole loop: ``run(RunOptions(model="deploy", source="0"))``.
"""

from b2v_edge.common.manifest import Artifact, Manifest, ManifestError

from .engines import Engine, EngineError, EngineSpec, NonFiniteOutputError
from .open import open_engine
from .options import RunError, RunOptions
from .pipeline import Pipeline, run
from .preprocess import FrameMapping, postprocess, preprocess
from .sinks import SinkError
from .sources import Source, SourceError, open_source
from .stats import RunSummary

__all__ = [
    "Artifact",
    "Engine",
    "EngineError",
    "EngineSpec",
    "FrameMapping",
    "Manifest",
    "ManifestError",
    "NonFiniteOutputError",
    "Pipeline",
    "RunError",
    "RunOptions",
    "RunSummary",
    "SinkError",
    "Source",
    "SourceError",
    "open_engine",
    "open_source",
    "postprocess",
    "preprocess",
    "run",
]
