"""The blur-to-video network: one encoder, a middle-frame decoder, and per-frame transformer decoders.

Structure (Argaw et al. 2021, section 4; choices the text leaves open are named config values):

* Encoder: 5 blocks (3x3 conv stride 2, 3x3 conv stride 1) -> features e1..e5 at H/2 .. H/32.
* Middle decoder: a start head at H/32, then 5 blocks up to H/16, H/8, H/4, H/2, H. Each block
  upsamples the previous feature and the previous image (4x4 stride-2 deconvs), concatenates the
  skip (e4..e1, and the blurred input at full resolution), runs ``dense_layers`` densely connected
  convs and predicts an image. A refining block (dilated convs) finishes the full-res frame.
* Non-middle frame k: at the start and at every block whose skip is an encoder feature (5 levels),
  an FTN (STN + local-warping flow, Eq. 1) transforms the feature; at every scale an ITN (STN) warps
  the middle decoder's image of that scale; the decoder block takes [up-feature, up-image, FTN
  output, ITN image, skip feature] (Eq. 2). Frames are decoded independently.
* Residual images (our choice, documented): the middle image at scale s is the blurred input
  average-pooled to that scale plus a zero-initialised head; a non-middle image is its ITN-warped
  middle image plus a zero-initialised head. With identity STNs and zero flows at init the model
  starts exactly at "blurred input repeated N times" and learns the difference.
* Any H x W: the input is edge-padded to a multiple of 32 and the output cropped back.

Outputs: eval mode ``forward(x)`` -> frames ``[B, N, 3, H, W]`` clipped to [0, 1];
``forward(x, aux=True)`` -> :class:`ModelOutput` with every scale and every theta (for the losses).
The configuration lives in :mod:`b2v_edge.model.config` (re-exported here).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from b2v_edge.common.errors import ConfigError

from .blocks import (
    NEG_SLOPE,
    AffineRegressor,
    DenseBlock,
    EncoderBlock,
    FeatureTransformer,
    NAFEncoderBlock,
    NAFStage,
    RefineBlock,
    conv,
    frame_cat,
    per_frame,
    upconv,
    zero_conv,
)
from .config import ALIGN, BLOCKS, SUPPORTED_FRAMES, ModelConfig
from .warp import WARP_MODES, affine_grids, warp_shared

__all__ = [
    "ALIGN",
    "BLOCKS",
    "PRESETS",
    "SUPPORTED_FRAMES",
    "Blur2Video",
    "FrameDecoder",
    "ModelConfig",
    "ModelOutput",
    "build_model",
]


class ModelOutput(NamedTuple):
    """Training-time outputs. ``scales[s]`` is ``[B,N,3,h_s,w_s]``, coarse (H/32) to fine (H)."""

    scales: List[torch.Tensor]
    theta_ftn: torch.Tensor  # [B, N-1, 5, 2, 3]  FTN thetas, coarse -> fine, non-middle frames
    theta_itn: torch.Tensor  # [B, N-1, 6, 2, 3]  ITN thetas, coarse -> fine, non-middle frames


STN_POOL = (1, 1, 2, 4, 8, 8)  # per ITN/FTN level e5, e4, e3, e2, e1, e1(full res): regress at <= H/16


class FrameDecoder(nn.Module):
    """Decoder of the middle frame (``middle=True``) or of all G non-middle frames at once.

    The non-middle frames share every shape and differ only in their weights, so they are decoded
    together (frame batching, see :mod:`.blocks`): grouped convolutions with ``groups = G`` hold
    each frame's own weights, the STN/flow regressors of all frames run as one grouped stack, and
    every FTN level and every ITN scale is one sampling call for all frames. The function is that of
    G independent per-frame decoders (Eq. 2); only the memory layout is shared.
    """

    def __init__(self, cfg: ModelConfig, middle: bool, frames: int = 1) -> None:
        super().__init__()
        self.middle = middle
        g = self.frames = 1 if middle else frames
        self.warp_mode = cfg.warp_mode
        self.full_res_block = cfg.full_res_block
        enc, dec = cfg.enc_channels, cfg.dec_channels
        skips = (enc[3], enc[2], enc[1], enc[0], 3)
        start_in = enc[4] + (0 if middle else 2 * enc[4] + 3)
        if cfg.squeeze:
            self.start = nn.Sequential(nn.Conv2d(g * start_in, g * enc[4], 1, groups=g), nn.LeakyReLU(NEG_SLOPE, True))
        else:
            self.start = conv(g * start_in, g * enc[4], groups=g)
        self.start_head = zero_conv(g * enc[4], g * 3, groups=g)
        self.up_feat, self.up_img, self.dense, self.heads = (nn.ModuleList() for _ in range(4))
        prev = enc[4]
        for j in range(5 if cfg.full_res_block else 4):
            ftn = 0 if middle or j == 4 else 2 * skips[j]
            in_ch = dec[j] + 3 + skips[j] + ftn + (0 if middle else 3)
            self.up_feat.append(upconv(g * prev, g * dec[j], kernel=cfg.up_kernel, groups=g))
            self.up_img.append(upconv(g * 3, g * 3, act=False, kernel=cfg.up_kernel, groups=g))
            if middle and cfg.block == "naf":
                self.dense.append(NAFStage(in_ch, dec[j], cfg.mid_blocks[j]))
            else:
                squeeze = dec[j] if cfg.squeeze else 0
                self.dense.append(DenseBlock(in_ch, cfg.growth[j], cfg.dense_layers[j], dec[j], squeeze, g))
            self.heads.append(zero_conv(g * dec[j], g * 3, groups=g))
            prev = dec[j]
        if not cfg.full_res_block:  # sub-pixel head: H/2 feature -> full-resolution residual image
            self.heads.append(nn.Sequential(zero_conv(g * dec[3], g * 12, groups=g), nn.PixelShuffle(2)))
        self.refine: Optional[RefineBlock] = None
        if middle or cfg.refine_all:
            self.refine = RefineBlock(dec[4] if cfg.full_res_block else 3, cfg.refine_channels, cfg.refine_dilations, g)
        if not middle:
            # FTNs on e5 (start), e4, e3, e2, e1; ITN regressors on e5, e4, e3, e2, e1, e1 (full res).
            lw_pool = (1, 1, 1, 1, cfg.lw_pool_fine)
            self.ftn = nn.ModuleList(
                FeatureTransformer(c, cfg.stn_hidden, cfg.lw_hidden, STN_POOL[i], lw_pool[i], g)
                for i, c in enumerate((enc[4],) + skips[:4])
            )
            itn_in = (enc[4], enc[3], enc[2], enc[1], enc[0], enc[0])
            self.itn = nn.ModuleList(AffineRegressor(c, cfg.stn_hidden, STN_POOL[i], g) for i, c in enumerate(itn_in))

    def _itn(self, level: int, feat: torch.Tensor, mid_img: torch.Tensor, thetas: List[torch.Tensor]) -> torch.Tensor:
        """All frames' ITN: warp the shared middle image by G thetas -> ``[B, G*3, h, w]``."""
        theta = self.itn[level](feat)
        thetas.append(theta)
        b, _, h, w = mid_img.shape
        per_sample = theta if theta.dim() == 4 else theta.unsqueeze(1)  # G = 1 regressors give [B, 2, 3]
        warped = warp_shared(mid_img, affine_grids(per_sample, h, w), self.warp_mode, "border")
        return warped.reshape(b, self.frames * 3, h, w)

    def _start(
        self,
        e5: torch.Tensor,
        pyramid: Sequence[torch.Tensor],
        mid: Optional[Sequence[torch.Tensor]],
        t_ftn: list,
        t_itn: list,
    ):
        if self.middle:
            feat = self.start(e5)
            return feat, pyramid[5] + self.start_head(feat)
        ftn, theta = self.ftn[0](e5)
        t_ftn.append(theta)
        base = self._itn(0, e5, mid[0], t_itn)
        feat = self.start(frame_cat([per_frame(e5, self.frames), ftn, base], self.frames))
        return feat, base + self.start_head(feat)

    def forward(
        self,
        encs: Sequence[torch.Tensor],
        pyramid: Sequence[torch.Tensor],
        mid_scales: Optional[Sequence[torch.Tensor]] = None,
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor], List[torch.Tensor]]:
        """Decode the frame(s).

        Args:
            encs: encoder features e1..e5.
            pyramid: blurred input at H, H/2, ..., H/32.
            mid_scales: middle-frame images at H/32 .. H (non-middle decoders only).

        Returns:
            (images at H/32..H, each ``[B, G*3, h, w]`` frame-major; FTN thetas and ITN thetas, each
            ``[B, G, 2, 3]`` per level), theta lists empty for the middle frame.
        """
        g = self.frames
        skips = (encs[3], encs[2], encs[1], encs[0], pyramid[0])
        theta_ftn: List[torch.Tensor] = []
        theta_itn: List[torch.Tensor] = []
        feat, image = self._start(encs[4], pyramid, mid_scales, theta_ftn, theta_itn)
        images = [image]
        for j in range(5):
            if self.middle:
                base = pyramid[4 - j]
            else:
                base = self._itn(j + 1, skips[j] if j < 4 else encs[0], mid_scales[j + 1], theta_itn)
            if j == 4 and not self.full_res_block:
                image = base + self.heads[4](feat)
                feat = per_frame(pyramid[0], g)  # the refine block sees the blurred input, not a full-res feature
                images.append(image)
                break
            parts = [self.up_feat[j](feat), self.up_img[j](image), per_frame(skips[j], g)]
            if not self.middle:
                if j < 4:
                    ftn, theta = self.ftn[j + 1](skips[j])
                    theta_ftn.append(theta)
                    parts.append(ftn)
                parts.append(base)
            feat = self.dense[j](frame_cat(parts, g))
            image = base + self.heads[j](feat)
            images.append(image)
        if self.refine is not None:
            images[-1] = self.refine(feat, images[-1])
        return images, theta_ftn, theta_itn


class Blur2Video(nn.Module):
    """One blurred image ``[B,3,H,W]`` in [0,1] -> N sharp frames ``[B,N,3,H,W]``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = (3,) + cfg.enc_channels
        if cfg.block == "naf":
            self.encoder = nn.ModuleList(NAFEncoderBlock(chans[i], chans[i + 1], cfg.enc_blocks[i]) for i in range(5))
        else:
            self.encoder = nn.ModuleList(EncoderBlock(chans[i], chans[i + 1]) for i in range(5))
        self.mid_index = cfg.frames // 2
        self.middle = FrameDecoder(cfg, middle=True)
        self.others = FrameDecoder(cfg, middle=False, frames=cfg.frames - 1)
        self.set_warp_mode(cfg.warp_mode)

    def set_warp_mode(self, mode: str) -> "Blur2Video":
        """Switch every warp between ``native`` and ``gather`` (same numerics). Returns self."""
        if mode not in WARP_MODES:
            raise ConfigError(f"warp mode must be one of {WARP_MODES}, got {mode!r}")
        self.cfg = replace(self.cfg, warp_mode=mode)
        for module in self.modules():
            if hasattr(module, "warp_mode"):
                module.warp_mode = mode
        return self

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected blurred input [B,3,H,W], got {tuple(x.shape)}")

    def _encode(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Edge-pad to a multiple of 32; return (input pyramid H..H/32, encoder features e1..e5)."""
        h, w = x.shape[2], x.shape[3]
        pad_h, pad_w = (-h) % ALIGN, (-w) % ALIGN
        xp = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if (pad_h or pad_w) else x
        pyramid = [xp]
        for _ in range(5):
            pyramid.append(F.avg_pool2d(pyramid[-1], 2))
        encs, feat = [], xp
        for block in self.encoder:
            feat = block(feat)
            encs.append(feat)
        return pyramid, encs

    @staticmethod
    def _crop_scales(images: Sequence[torch.Tensor], h: int, w: int) -> List[torch.Tensor]:
        out = []
        for s, image in enumerate(images):
            hs, ws = -(-h // 2 ** (5 - s)), -(-w // 2 ** (5 - s))
            out.append(image[..., :hs, :ws])
        return out

    def forward_middle(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The middle frame only (encoder + middle decoder): images ``[B,3,h_s,w_s]``, H/32 .. H.

        The cheap path for training the middle frame on its own; the non-middle decoders are skipped.
        """
        self._check_input(x)
        pyramid, encs = self._encode(x)
        mid_scales, _, _ = self.middle(encs, pyramid)
        return self._crop_scales(mid_scales, x.shape[2], x.shape[3])

    def forward(self, x: torch.Tensor, aux: bool = False) -> Any:
        """Restore the N frames hidden in a blurred image.

        Args:
            x: blurred images ``float32 [B, 3, H, W]``, RGB in [0, 1]; any H and W (edge-padded to a
                multiple of 32 inside, cropped back).
            aux: also return every scale and every STN theta (training).

        Returns:
            ``aux=False``: frames ``[B, N, 3, H, W]`` clipped to [0, 1], in time order (the middle
            frame at index ``N // 2``; the order of a blur is ambiguous: reversed is equally right).
            ``aux=True``: :class:`ModelOutput` with unclipped frames at H/32 .. H and the thetas.

        Raises:
            ValueError: ``x`` is not ``[B, 3, H, W]``.
        """
        self._check_input(x)
        h, w = x.shape[2], x.shape[3]
        pyramid, encs = self._encode(x)
        mid_scales, _, _ = self.middle(encs, pyramid)
        other_scales, t_ftn, t_itn = self.others(encs, pyramid, mid_scales)
        g, m = self.cfg.frames - 1, self.mid_index
        frames = []
        for mid, other in zip(mid_scales, other_scales):
            b, _, hs, ws = other.shape
            other = other.reshape(b, g, 3, hs, ws)
            frames.append(torch.cat([other[:, :m], mid.unsqueeze(1), other[:, m:]], dim=1))
        if not aux:
            return frames[-1][..., :h, :w].clamp(0.0, 1.0)
        scales = self._crop_scales(frames, h, w)
        return ModelOutput(scales, torch.stack(t_ftn, dim=2), torch.stack(t_itn, dim=2))


# ---- presets (data) and factory -----------------------------------------------------------------
PRESETS: Dict[str, Dict[str, Any]] = {
    # Edge model: <= 3 GFLOPs per 256x256 input at N=7 (torch.utils.flop_counter; README has the counts).
    "lite": dict(
        enc_channels=(16, 24, 32, 48, 64),
        dec_channels=(48, 32, 24, 16, 8),
        growth=(12, 12, 8, 8, 4),
        dense_layers=(2, 2, 2, 1, 1),
        stn_hidden=16,
        lw_hidden=12,
        refine_channels=8,
        refine_all=False,
        full_res_block=False,
        squeeze=True,
        lw_pool_fine=2,
        up_kernel=2,
        refine_dilations=(1, 2),
    ),
    # Capacity in the spirit of the paper: 5 dense convs per block, wider features, refine all frames.
    "paper": dict(
        enc_channels=(32, 64, 96, 128, 192),
        dec_channels=(128, 96, 64, 32, 16),
        growth=(32, 32, 24, 16, 8),
        dense_layers=(5, 5, 5, 5, 5),
        stn_hidden=32,
        lw_hidden=32,
        refine_channels=32,
        refine_all=True,
        full_res_block=True,
        squeeze=False,
        lw_pool_fine=1,
    ),
}


def build_model(preset: str = "lite", frames: int = 7, **overrides: Any) -> Blur2Video:
    """Create a model from a preset with optional :class:`ModelConfig` overrides.

    Args:
        preset: a key of :data:`PRESETS` (``lite`` for edge devices, ``paper``).
        frames: N, output frames (3, 5 or 7).
        **overrides: :class:`ModelConfig` fields replacing the preset's.

    Returns:
        A freshly initialised :class:`Blur2Video` (it starts at "the blurred input repeated N times").

    Raises:
        ConfigError: unknown preset or an invalid config value.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    params = dict(PRESETS[preset], frames=frames, preset=preset)
    params.update(overrides)
    return Blur2Video(ModelConfig(**params))
