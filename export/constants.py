"""Names, limits and the error type shared by the export modules (no torch, no onnx imports)."""

from __future__ import annotations

from b2v_edge.common.errors import B2VError

INPUT_NAME = "blurred"
OUTPUT_NAME = "frames"
DEFAULT_OPSET = 18
ALIGN = 32  # the model edge-pads to a multiple of 32; dynamic H/W are exported as multiples of it
MAX_SIDE = 4096  # largest height/width accepted by the export (and the dynamic-shape upper bound)
MAX_BATCH = 64


class ExportError(B2VError, RuntimeError):
    """An export step failed (one-line, actionable message)."""
