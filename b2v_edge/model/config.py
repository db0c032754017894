"""The network's hyper-parameters (:class:`ModelConfig`), validated on construction.

A checkpoint stores :meth:`ModelConfig.to_dict` (tuples as lists); :meth:`ModelConfig.from_dict`
reads it back and refuses unknown keys. The presets of :mod:`b2v_edge.model.network` are partial
dicts of these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Tuple

from b2v_edge.common.errors import ConfigError

from .warp import WARP_MODES

__all__ = ["ALIGN", "BLOCKS", "SUPPORTED_FRAMES", "ModelConfig"]


ALIGN = 32  # 5 stride-2 levels


SUPPORTED_FRAMES = (3, 5, 7)


BLOCKS = ("dense", "naf")


@dataclass(frozen=True)
class ModelConfig:
    """Network hyper-parameters. Channel tuples run encoder fine->coarse, decoder coarse->fine.

    Args:
        frames: N, number of output frames (3, 5 or 7).
        enc_channels: channels of e1..e5.
        dec_channels: decoder feature channels of the blocks at H/16, H/8, H/4, H/2, H.
        growth: dense-conv growth per decoder block.
        dense_layers: densely connected convs per decoder block (5 in the paper).
        stn_hidden: hidden channels of every STN localisation net.
        lw_hidden: hidden channels of every local-warping (flow) head.
        refine_channels: channels of the refining block.
        refine_all: refine every frame (True) or the middle frame only (False, paper text).
        warp_mode: ``native`` (GridSample) or ``gather`` (no GridSample op); numerics are equal.
        full_res_block: True = the fifth decoder block runs at full resolution (paper); False = the
            full-resolution image comes from a sub-pixel (PixelShuffle) head on the H/2 feature
            (edge preset: full-resolution convolutions dominate the cost; entries [4] of
            dec_channels/growth/dense_layers are then unused).
        squeeze: 1x1-squeeze each decoder block's wide input to its feature width before the dense
            convs (edge preset).
        lw_pool_fine: the local-warping head on e1 (H/2) predicts flow at 1/lw_pool_fine resolution.
        up_kernel: kernel of the stride-2 deconvolutions, 4 (paper preset) or 2 (edge: 4x cheaper).
        refine_dilations: dilations of the refining block's convolutions.
        block: ``dense`` (densely connected convs, the paper) or ``naf`` (NAFNet-style blocks) for
            the encoder and the middle decoder; the non-middle decoders stay dense.
        enc_blocks: NAF blocks per encoder level e1..e5 (``block="naf"`` only).
        mid_blocks: NAF blocks per middle-decoder level H/16 .. H (``block="naf"`` only; entry [4]
            is unused without ``full_res_block``).
    """

    frames: int = 7
    enc_channels: Tuple[int, ...] = (16, 24, 32, 48, 64)
    dec_channels: Tuple[int, ...] = (48, 32, 24, 16, 8)
    growth: Tuple[int, ...] = (12, 12, 8, 8, 4)
    dense_layers: Tuple[int, ...] = (3, 3, 3, 2, 1)
    stn_hidden: int = 16
    lw_hidden: int = 16
    refine_channels: int = 8
    refine_all: bool = False
    full_res_block: bool = True
    squeeze: bool = False
    lw_pool_fine: int = 1
    up_kernel: int = 4
    refine_dilations: Tuple[int, ...] = (1, 2, 4)
    warp_mode: str = "native"
    block: str = "dense"
    enc_blocks: Tuple[int, ...] = (1, 1, 1, 1, 1)
    mid_blocks: Tuple[int, ...] = (1, 1, 1, 1, 1)
    preset: str = "custom"

    def __post_init__(self) -> None:
        object.__setattr__(self, "refine_dilations", tuple(int(d) for d in self.refine_dilations))
        for name in ("enc_channels", "dec_channels", "growth", "dense_layers"):
            value = tuple(int(v) for v in getattr(self, name))
            if len(value) != 5 or min(value) < 1:
                raise ConfigError(f"ModelConfig.{name} needs 5 positive ints, got {value}")
            object.__setattr__(self, name, value)
        for name in ("enc_blocks", "mid_blocks"):
            value = tuple(int(v) for v in getattr(self, name))
            if len(value) != 5 or min(value) < 0:
                raise ConfigError(f"ModelConfig.{name} needs 5 non-negative ints, got {value}")
            object.__setattr__(self, name, value)
        if self.block not in BLOCKS:
            raise ConfigError(f"block must be one of {BLOCKS}, got {self.block!r}")
        if self.frames not in SUPPORTED_FRAMES:
            raise ConfigError(f"frames must be one of {SUPPORTED_FRAMES}, got {self.frames}")
        if self.warp_mode not in WARP_MODES:
            raise ConfigError(f"warp_mode must be one of {WARP_MODES}, got {self.warp_mode!r}")

    def to_dict(self) -> Dict[str, Any]:
        """Every field, tuples as lists (what a checkpoint stores; JSON-serialisable)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelConfig":
        """The config :meth:`to_dict` wrote (missing keys take the defaults).

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown ModelConfig keys {sorted(unknown)}")
        return cls(**data)
