"""PyTorch model: warps (pure functions), blocks, the network, presets and factory."""

from .network import PRESETS, Blur2Video, ModelConfig, ModelOutput, build_model
from .warp import affine_warp, flow_warp, grid_sample

__all__ = [
    "PRESETS",
    "Blur2Video",
    "ModelConfig",
    "ModelOutput",
    "build_model",
    "affine_warp",
    "flow_warp",
    "grid_sample",
]
