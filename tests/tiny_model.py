"""The tiny model configuration the tests build networks from.

``TINY`` overrides the ``lite`` preset down to a few thousand parameters: every block and head is
there (encoder, middle and other-frame decoders, STN and flow heads, refining block), so shapes,
gradients, export and checkpoints are exercised at a cost of milliseconds per forward pass.
"""

from __future__ import annotations

from typing import Any, Dict

TINY: Dict[str, Any] = dict(
    enc_channels=(4, 4, 6, 6, 8),
    dec_channels=(8, 6, 6, 4, 4),
    growth=(2, 2, 2, 2, 2),
    dense_layers=(1, 1, 1, 1, 1),
    stn_hidden=4,
    lw_hidden=4,
    refine_channels=4,
)
