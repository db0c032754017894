"""Blur data sources: numpy + OpenCV, torch only in :mod:`b2v_edge.data.torch_dataset`.

Every source has ``__len__``, ``__getitem__(i) -> Sample`` and attributes ``frames`` (N) and
``name``. ``Sample.blurred`` is ``float32 [H, W, 3]`` RGB in [0, 1], ``Sample.frames`` is
``float32 [N, H, W, 3]`` in time order.

Sources are imported lazily (``from b2v_edge.data import SyntheticBlur`` works) so importing this
package stays cheap and never imports torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .base import BlurSource, Sample, average_frames, random_crop_flip

_LAZY = {
    "SyntheticBlur": "synthetic",
    "SyntheticStream": "synthetic",
    "GoProAll": "gopro",
    "GoProPairs": "gopro",
    "PanoramaBlur": "panorama",
    "BlurDataset": "torch_dataset",
    "make_source": "torch_dataset",
}

__all__ = ["Sample", "BlurSource", "average_frames", "random_crop_flip", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
