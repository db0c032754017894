"""b2v_edge.runtime: the torch-free deploy side — engines, sources, layouts, outputs, pipeline, preview.

Needs only numpy, OpenCV and ONNX Runtime (TensorRT and a CUDA binding when running plans; they are
imported on use). Nothing here imports torch: a test enforces it.

Typical use::

    from b2v_edge.runtime import open_engine, open_source, preprocess, postprocess

    with open_engine("deploy") as engine, open_source("0") as source:
        limits = InputLimits.from_spec(engine.spec)
        for frame, t in source:
            layout = plan_layout(frame.shape[:2], limits)      # full resolution: padded or tiled
            sharp_frames = layout.merge(run_passes(engine, layout.split(frame), limits))

or the whole loop: ``run(RunOptions(model="deploy", source="0", outputs=("file://out.mp4",)))``.
"""

from b2v_edge.common.manifest import Artifact, Manifest, ManifestError

from .engines import Engine, EngineError, EngineSpec, NonFiniteOutputError
from .layout import FrameLayout, InputLimits, plan_layout, run_passes
from .open import open_engine
from .options import RunError, RunOptions
from .outputs import OutputError, OutputKind, open_output, parse_output, register_output
from .pipeline import Pipeline, run
from .preprocess import FrameMapping, postprocess, preprocess
from .sinks import SinkError
from .sources import Source, SourceError, SourceKind, open_source, parse_source, register_source
from .stats import RunStatus, RunSummary

__all__ = [
    "Artifact",
    "Engine",
    "EngineError",
    "EngineSpec",
    "FrameLayout",
    "FrameMapping",
    "InputLimits",
    "Manifest",
    "ManifestError",
    "NonFiniteOutputError",
    "OutputError",
    "OutputKind",
    "Pipeline",
    "RunError",
    "RunOptions",
    "RunStatus",
    "RunSummary",
    "SinkError",
    "Source",
    "SourceError",
    "SourceKind",
    "open_engine",
    "open_output",
    "open_source",
    "parse_output",
    "parse_source",
    "plan_layout",
    "postprocess",
    "preprocess",
    "register_output",
    "register_source",
    "run",
    "run_passes",
]
